package units

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// RunConvert is the convert command of sctl and smimage: it turns systemd unit files, or whole unit directories, into TOML
// units, offline: printed, or written into -o DIR. Every directive not
// carried over is listed with its line and why; --strict makes a lost one
// (one that changes behaviour) an error.
func RunConvert(prog string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	outDir := fs.String("o", "", "write the units into this directory instead of printing them")
	strict := fs.Bool("strict", false, "fail when a directive that changes behaviour cannot be carried over")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "%s: no unit file or directory given\n", prog)
		return 2
	}
	code := 0
	report := func(src string, u Converted) {
		for _, d := range u.Dropped {
			fmt.Fprintf(stderr, "%s: %s\n", src, d)
		}
		if u.Err != nil {
			fmt.Fprintf(stderr, "%s: %s: %v\n", prog, src, u.Err)
			code = 1
		} else if *strict && len(u.Lost()) > 0 {
			fmt.Fprintf(stderr, "%s: %s: %d directives not carried over (--strict)\n", prog, src, len(u.Lost()))
			code = 1
		}
	}
	for _, f := range fs.Args() {
		var dir *ConvertedDir
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			d, err := ConvertDir(f)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", prog, err)
				code = 1
				continue
			}
			dir = d
			for _, s := range d.Skipped {
				fmt.Fprintf(stderr, "%s: skipped %s\n", f, s)
			}
		} else {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", prog, err)
				code = 1
				continue
			}
			dropIns, err := ReadDropIns(filepath.Dir(f), filepath.Base(f))
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", prog, err)
				code = 1
				continue
			}
			c, err := ConvertFiles(filepath.Base(f), data, dropIns)
			dir = &ConvertedDir{Units: []Converted{{Name: filepath.Base(f), Conversion: c, Err: err}}}
		}
		for _, u := range dir.Units {
			src := f
			if isDir(f) {
				src = filepath.Join(f, u.Name)
			}
			report(src, u)
			if u.Err == nil && *outDir == "" {
				fmt.Fprintf(stdout, "# %s.toml\n%s", u.Name, u.TOML)
			}
		}
		if *outDir != "" && !(*strict && code != 0) {
			if err := dir.Write(*outDir); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", prog, err)
				code = 1
			}
		}
	}
	return code
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
