package kmod

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const usage = `usage:
  modprobe [-v] [-q] [-n] [-S VERSION] [-d ROOT] NAME [PARAM=VALUE...]
  modprobe -a [-v] [-q] [-n] NAME...
  modprobe -r [-v] [-q] [-n] NAME...
  modprobe -D|--show-depends NAME

  -a, --all            load every NAME (no parameters)
  -r, --remove         remove modules, then their unused dependencies
  -n, --dry-run        do everything but load or remove
  -v, --verbose        print insmod and rmmod lines
  -q, --quiet          say nothing about unknown modules
  -D, --show-depends   print what loading NAME involves, loaded or not
  -S, --set-version V  use /lib/modules/V instead of the running kernel's
  -d, --dirname ROOT   look under ROOT/lib/modules
`

// Main is the modprobe applet: it loads and removes kernel modules with
// their dependencies, like kmod's modprobe, from the module tree and the
// modprobe.d/*.toml files on the board.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr, linuxKernel{})
}

// invocation is a parsed modprobe command line.
type invocation struct {
	remove, dryRun, verbose, all, quiet, showDepends, help bool
	version, root                                          string
	args                                                   []string
}

// longOptions maps modprobe's long options to their short letters.
var longOptions = map[string]byte{
	"all": 'a', "remove": 'r', "dry-run": 'n', "show": 'n', "verbose": 'v', "quiet": 'q',
	"show-depends": 'D', "set-version": 'S', "dirname": 'd', "help": 'h',
}

func (inv *invocation) set(opt byte, value string) {
	switch opt {
	case 'a':
		inv.all = true
	case 'r':
		inv.remove = true
	case 'n':
		inv.dryRun = true
	case 'v':
		inv.verbose = true
	case 'q':
		inv.quiet = true
	case 'D':
		inv.showDepends = true
	case 'h':
		inv.help = true
	case 'S':
		inv.version = value
	case 'd':
		inv.root = value
	}
}

func takesValue(opt byte) bool { return opt == 'S' || opt == 'd' }

// parseArgs reads options anywhere on the line, as getopt does: bundled
// short ones (-qv), -S VERSION or -SVERSION, --set-version=VERSION, and
// "--" to end them.
func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{}
	known := make(map[byte]bool)
	for _, o := range longOptions {
		known[o] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			inv.args = append(inv.args, args[i+1:]...)
			return inv, nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			opt, ok := longOptions[name]
			switch {
			case !ok:
				return nil, fmt.Errorf("unknown option --%s", name)
			case takesValue(opt) && !hasValue:
				if i+1 == len(args) {
					return nil, fmt.Errorf("option --%s needs a value", name)
				}
				i++
				value = args[i]
			case !takesValue(opt) && hasValue:
				return nil, fmt.Errorf("option --%s takes no value", name)
			}
			inv.set(opt, value)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				opt := a[j]
				if !known[opt] {
					return nil, fmt.Errorf("unknown option -%c", opt)
				}
				if !takesValue(opt) {
					inv.set(opt, "")
					continue
				}
				value := a[j+1:]
				if value == "" {
					if i+1 == len(args) {
						return nil, fmt.Errorf("option -%c needs a value", opt)
					}
					i++
					value = args[i]
				}
				inv.set(opt, value)
				break
			}
		default:
			inv.args = append(inv.args, a)
		}
	}
	return inv, nil
}

// run is Main with its outputs and kernel given; opts go after the ones
// the command line makes.
func run(args []string, stdout, stderr io.Writer, k Kernel, opts ...Option) int {
	inv, err := parseArgs(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "modprobe: %v\n%s", err, usage)
		return 2
	}
	if inv.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(inv.args) == 0 {
		fmt.Fprintf(stderr, "modprobe: no module given\n%s", usage)
		return 2
	}
	if inv.version == "" {
		if inv.version, err = KernelRelease(); err != nil {
			fmt.Fprintf(stderr, "modprobe: FATAL: %v\n", err)
			return 1
		}
	}
	if inv.dryRun {
		k = dryKernel{k}
	}
	if inv.root == "" {
		inv.root = "/"
	}
	lopts := []Option{WithRoot(filepath.Join(inv.root, "lib", "modules", inv.version)), WithKernel(k)}
	if inv.verbose {
		lopts = append(lopts, WithLog(stdout))
	}
	lopts = append(lopts, opts...)
	// The kernel's own requests: "modprobe -q -- NAME", mostly of names
	// nothing answers, each while a kernel thread waits.
	if inv.quiet && !inv.all && !inv.remove && !inv.showDepends && len(inv.args) == 1 {
		if s, err := newSettings(lopts); err == nil && s.quickMiss(inv.args[0]) {
			return 1
		}
	}
	l, err := NewLoader(lopts...)
	if err != nil {
		fmt.Fprintf(stderr, "modprobe: FATAL: %v\n", err)
		return 1
	}

	names, params := inv.args, ""
	if !inv.all && !inv.remove {
		names, params = inv.args[:1], strings.Join(inv.args[1:], " ")
	}
	code := 0
	for _, name := range names {
		var err error
		switch {
		case inv.showDepends:
			err = showDepends(l, stdout, name, params)
		case inv.remove:
			err = l.Remove(name)
		default:
			_, err = l.ProbeParams(name, params)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, ErrNotFound):
			if !inv.quiet {
				fmt.Fprintf(stderr, "modprobe: FATAL: %v\n", err)
			}
		default:
			fmt.Fprintf(stderr, "modprobe: ERROR: %v\n", err)
		}
		code = 1
	}
	return code
}

// showDepends prints the plan for name as kmod's --show-depends does.
func showDepends(l *Loader, w io.Writer, name, params string) error {
	steps, err := l.Plan(name, params)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if s.Builtin {
			fmt.Fprintf(w, "builtin %s\n", s.Name)
			continue
		}
		fmt.Fprintln(w, strings.TrimSpace("insmod "+s.Path+" "+s.Params))
	}
	return nil
}

// dryKernel pretends to load and remove modules, for modprobe -n.
type dryKernel struct{ Kernel }

func (dryKernel) Load(string, *os.File, []byte, string) error { return nil }

func (dryKernel) Unload(string) error { return nil }
