package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sysmaster-go/sysmaster/image"
)

// diffReport is the --json output of smimage diff: the members' difference
// and the sizes of the two image files.
type diffReport struct {
	*image.Difference
	OldFile      string `json:"old_file"`
	NewFile      string `json:"new_file"`
	OldFileBytes int64  `json:"old_file_bytes"`
	NewFileBytes int64  `json:"new_file_bytes"`
	FileDelta    int64  `json:"file_delta"`
}

func cmdDiff(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diff", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("diff: want two images, OLD and NEW")
	}
	rep := diffReport{OldFile: fs.Arg(0), NewFile: fs.Arg(1)}
	open := func(name string, size *int64) (*os.File, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		*size = fi.Size()
		return f, nil
	}
	a, err := open(rep.OldFile, &rep.OldFileBytes)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := open(rep.NewFile, &rep.NewFileBytes)
	if err != nil {
		return err
	}
	defer b.Close()
	d, err := image.Diff(a, b)
	if err != nil {
		return fmt.Errorf("diff %s %s: %w", rep.OldFile, rep.NewFile, err)
	}
	rep.Difference = d
	rep.FileDelta = rep.NewFileBytes - rep.OldFileBytes
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeDiff(stdout, rep)
}

// writeDiff prints one line per member: + added, - removed, ~ changed, with
// sizes (a folder's name ends in /), then the totals.
func writeDiff(w io.Writer, rep diffReport) error {
	name := func(p, typ string) string {
		if typ == "dir" {
			return p + "/"
		}
		return p
	}
	var added, removed, changed int64
	var b strings.Builder
	for _, f := range rep.Added {
		fmt.Fprintf(&b, "+ %10d  %s\n", f.Size, name(f.Path, f.Type))
		added += f.Size
	}
	for _, f := range rep.Removed {
		fmt.Fprintf(&b, "- %10d  %s\n", f.Size, name(f.Path, f.Type))
		removed += f.Size
	}
	for _, c := range rep.Changed {
		fmt.Fprintf(&b, "~ %10d  %s: %d -> %d (%s) [%s]\n", c.Delta, name(c.Path, c.Type), c.OldSize, c.NewSize, signed(c.Delta), strings.Join(c.What, ","))
		changed += c.Delta
	}
	fmt.Fprintf(&b, "%d added (%s bytes), %d removed (%s bytes), %d changed (%s bytes)\n",
		len(rep.Added), signed(added), len(rep.Removed), signed(-removed), len(rep.Changed), signed(changed))
	fmt.Fprintf(&b, "content: %d -> %d bytes (%s); image file: %d -> %d bytes (%s)\n",
		rep.OldBytes, rep.NewBytes, signed(rep.Delta), rep.OldFileBytes, rep.NewFileBytes, signed(rep.FileDelta))
	_, err := io.WriteString(w, b.String())
	return err
}

func signed(n int64) string {
	if n > 0 {
		return fmt.Sprintf("+%d", n)
	}
	return fmt.Sprint(n)
}
