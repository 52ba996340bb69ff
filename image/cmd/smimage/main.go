// Command smimage builds, lists and boots the initramfs images of boards.
//
//	smimage build --board NAME [--format F] [-o FILE] [--compress KIND]
//	              [--units DIR] [--busybox PATH] [--extra SRC:DST]...
//	              [--smbox PATH] [--modules DIR|none] [--deb NAME]...
//	              [--static-only] [--kernel PATH] [--dtbs DIR]
//	              [--firmware DIR] [-q]
//	smimage inspect [--json] FILE
//	smimage boot --board NAME [--format F] [--kernel PATH] [--append ARGS] IMAGE
//	smimage boards [--json] [FILE.toml...]
//	smimage diff [--json] OLD NEW
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
	"github.com/sysmaster-go/sysmaster/units"
)

const usage = `usage:
  smimage build --board NAME [--format cpio|uimage|fit|bootdir|sdcard] [-o FILE]
                [--compress none|gzip|xz|zstd|lz4] [--units DIR]
                [--busybox PATH] [--extra SRC:DST]... [--smbox PATH]
                [--modules DIR|none] [--deb NAME]... [--static-only]
                [--kernel PATH] [--dtbs DIR] [--firmware DIR] [-q]
  smimage inspect [--json] FILE
  smimage boot --board NAME [--format F] [--kernel PATH] [--append ARGS] IMAGE
  smimage boards [--json] [FILE.toml...]
  smimage diff [--json] OLD NEW
  smimage convert [-o DIR] [--strict] FILE|DIR...
`

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "smimage: %v\n%s", err, usage)
		return 2
	}
	fmt.Fprintf(stderr, "smimage: %v\n", err)
	return 1
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "build":
		return cmdBuild(ctx, rest, stderr)
	case "inspect":
		return cmdInspect(rest, stdout, stderr)
	case "boot":
		return cmdBoot(ctx, rest, stderr)
	case "boards":
		return cmdBoards(rest, stdout, stderr)
	case "diff":
		return cmdDiff(rest, stdout, stderr)
	case "convert":
		if code := units.RunConvert("smimage convert", rest, stdout, stderr); code != 0 {
			return fmt.Errorf("convert failed")
		}
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}

// newFlagSet returns a FlagSet whose parse errors become usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("smimage "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// extraFlag collects repeated --extra SRC:DST values.
type extraFlag [][2]string

func (e *extraFlag) String() string { return fmt.Sprint(*e) }

func (e *extraFlag) Set(v string) error {
	i := strings.LastIndex(v, ":")
	if i <= 0 || i == len(v)-1 {
		return fmt.Errorf("%q: want SRC:DST", v)
	}
	*e = append(*e, [2]string{v[:i], v[i+1:]})
	return nil
}

// listFlag collects the values of a repeated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// aptSource fetches packages with the module's scripts/fetch-deb into the
// cache.
func aptSource() (*image.AptSource, error) {
	root, err := image.FindModuleRoot(".")
	if err != nil {
		return nil, fmt.Errorf("fetching Debian packages needs scripts/fetch-deb: %w", err)
	}
	cache, err := qemu.CacheDir()
	if err != nil {
		return nil, err
	}
	return image.NewAptSource(root, cache), nil
}

func cmdBuild(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("build", stderr)
	boardName := fs.String("board", "", "board `NAME` or board file (required)")
	out := fs.String("o", "", "output `FILE` (default out/NAME/initramfs.cpio[.EXT])")
	compress := fs.String("compress", "", "compression: none, gzip, xz, zstd or lz4 (default: the board's, else gzip)")
	units := fs.String("units", "", "copy `DIR`/*.toml to /etc/sysmaster/units, converting systemd unit files beside them (default: the module's units/)")
	busybox := fs.String("busybox", "", "add a static busybox at `PATH` with its applet links (\"cache\": the one scripts/fetch-busybox fetched for the board)")
	smbox := fs.String("smbox", "", "use the prebuilt smbox at `PATH` instead of compiling it")
	format := fs.String("format", "", "image `FORMAT`, one of the board's formats (default: its first)")
	kernel := fs.String("kernel", "", "the board's kernel `PATH`, for formats that carry it (default: the one scripts/fetch-kernel fetched)")
	dtbs := fs.String("dtbs", "", "folder `DIR` of the kernel's device trees (default: the one scripts/fetch-kernel unpacked)")
	firmware := fs.String("firmware", "", "folder `DIR` of the board's first-stage firmware files (a Pi's usr/lib/raspi-firmware)")
	modules := fs.String("modules", "", "take the kernel modules the board asks for from the module tree `DIR` (lib/modules/VERSION), or \"none\" (default: the one scripts/fetch-kernel unpacked for the board)")
	quiet := fs.Bool("q", false, "print nothing but errors")
	var extras extraFlag
	fs.Var(&extras, "extra", "copy host file SRC to DST in the image (`SRC:DST`, repeatable)")
	staticOnly := fs.Bool("static-only", false, "refuse dynamically linked binaries instead of adding their interpreter and libraries")
	var debs listFlag
	fs.Var(&debs, "deb", "add the Debian package `NAME` for the board's architecture (repeatable)")
	rootFS := fs.String("root-squashfs", "", "write the whole tree as a squashfs root `FILE` and -o as a first-stage initramfs that mounts it (root= on the kernel command line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("build: unexpected argument %q", fs.Arg(0))
	}
	if *boardName == "" {
		return usagef("build: --board is required")
	}
	b, err := board.Load(*boardName)
	if err != nil {
		return err
	}
	f, err := image.BoardFormat(b, *format)
	if err != nil {
		return err
	}
	comp := image.Compression(b.Compression)
	if *compress != "" {
		comp = image.Compression(*compress)
	}
	if comp == "" {
		comp = image.Gzip
	}
	comp, err = image.ParseCompression(string(comp))
	if err != nil {
		if *compress != "" {
			return usagef("build: --compress: %v", err)
		}
		return fmt.Errorf("board %s: %w", b.Name, err)
	}
	if *out == "" {
		*out = filepath.Join("out", b.Name, f.DefaultName(comp))
	}
	opts := []image.Option{image.WithCompression(comp), image.WithFormat(f)}
	if f.NeedsKernel() {
		kopts, err := kernelOptions(b, *kernel, *dtbs)
		if err != nil {
			return err
		}
		opts = append(opts, kopts...)
	}
	if *firmware != "" {
		opts = append(opts, image.WithFirmwareDir(*firmware))
	}
	if !*quiet {
		opts = append(opts, image.WithProgress(stderr))
	}
	if *units != "" {
		opts = append(opts, image.WithUnits(*units))
	}
	if *busybox == "cache" {
		cache, err := qemu.CacheDir()
		if err != nil {
			return err
		}
		if *busybox, err = qemu.BusyboxPath(cache, b.DebianArch); err != nil {
			return err
		}
	}
	if *busybox != "" {
		opts = append(opts, image.WithBusybox(*busybox))
	}
	if *smbox != "" {
		opts = append(opts, image.WithSmbox(*smbox))
	}
	for _, e := range extras {
		opts = append(opts, image.WithExtraFile(e[0], e[1]))
	}
	for _, d := range debs {
		opts = append(opts, image.WithDeb(d))
	}
	if *staticOnly {
		opts = append(opts, image.WithStaticOnly())
	}
	// Packages are fetched only when the image needs one: named, or holding
	// the libraries of a dynamic binary.
	if src, err := aptSource(); err == nil {
		opts = append(opts, image.WithPackageSource(src))
	} else if len(debs) > 0 || len(b.Packages) > 0 {
		return err
	}
	switch {
	case *modules == "none":
		opts = append(opts, image.WithoutKernelModules())
	case *modules != "":
		opts = append(opts, image.WithKernelModules(*modules))
	case !b.Modules.Empty():
		cache, err := qemu.CacheDir()
		if err != nil {
			return err
		}
		dir, err := image.KernelModulesDir(cache, b)
		if err != nil {
			return err
		}
		opts = append(opts, image.WithKernelModules(dir))
	}
	if *rootFS != "" {
		_, err = image.BuildRoot(ctx, b, *out, *rootFS, opts...)
		return err
	}
	_, err = image.Build(ctx, b, *out, opts...)
	return err
}

// kernelOptions names the kernel and device trees of b: the given ones,
// else the ones scripts/fetch-kernel put in the cache.
func kernelOptions(b *board.Board, kernel, dtbs string) ([]image.Option, error) {
	if kernel == "" || dtbs == "" && len(b.Boot.DeviceTrees) > 0 {
		cache, err := qemu.CacheDir()
		if err != nil {
			return nil, err
		}
		if kernel == "" {
			if kernel, err = qemu.KernelPath(cache, b); err != nil {
				return nil, err
			}
		}
		if dtbs == "" {
			dtbs = qemu.DeviceTreeDir(cache, b)
		}
	}
	return []image.Option{image.WithKernel(kernel), image.WithDeviceTreeDir(dtbs)}, nil
}

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	asJSON := fs.Bool("json", false, "print JSON: the format and the archive's entries")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("inspect: want one FILE")
	}
	format, entries, err := image.InspectFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, format, entries)
	}
	for _, e := range entries {
		if _, err := fmt.Fprintln(stdout, formatEntry(e)); err != nil {
			return err
		}
	}
	return nil
}

// formatEntry renders an entry like ls -l: mode, size (or major, minor for
// a device node), name and link target.
func formatEntry(e image.Entry) string {
	size := fmt.Sprint(e.Size)
	if e.Mode&os.ModeDevice != 0 {
		size = fmt.Sprintf("%d, %d", e.Major, e.Minor)
	}
	line := fmt.Sprintf("%s %9s %s", image.ModeString(e.Mode), size, e.Name)
	if e.Linkname != "" {
		line += " -> " + e.Linkname
	}
	return line
}

// jsonEntry is one archive member in `inspect --json`.
type jsonEntry struct {
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	Size     int64  `json:"size"`
	Linkname string `json:"link,omitempty"`
	Major    uint32 `json:"major,omitempty"`
	Minor    uint32 `json:"minor,omitempty"`
}

func writeJSON(w io.Writer, format string, entries []image.Entry) error {
	out := struct {
		Format  string      `json:"format"`
		Files   int         `json:"files"`
		Bytes   int64       `json:"bytes"`
		Entries []jsonEntry `json:"entries"`
	}{Format: format, Files: len(entries), Entries: []jsonEntry{}}
	for _, e := range entries {
		out.Bytes += e.Size
		out.Entries = append(out.Entries, jsonEntry{Name: e.Name, Mode: image.ModeString(e.Mode), Size: e.Size,
			Linkname: e.Linkname, Major: e.Major, Minor: e.Minor})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
