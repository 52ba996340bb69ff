package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// Format is one kind of artifact a board's image is written as: the bare
// initramfs, a U-Boot image, a boot partition's files or a whole disk.
type Format interface {
	// Name is the format's name in board files and on the command line.
	Name() string
	// DefaultName is the output's file name when none is given.
	DefaultName(comp Compression) string
	// NeedsKernel reports whether the artifact carries the kernel (and
	// device trees) besides the initramfs.
	NeedsKernel() bool
	// Write writes the artifact made of in to dst, a path that does not
	// exist yet. The caller moves it into place once Write succeeds.
	Write(ctx context.Context, in *Inputs, dst string) error
	// Initramfs opens the compressed cpio inside the artifact at path; ok
	// is false when path is not of this format.
	Initramfs(path string) (rc io.ReadCloser, ok bool, err error)
	// BootDisk returns a disk image from which U-Boot's distro boot boots
	// the artifact at path with the board's kernel: the artifact itself,
	// or a disk written in dir that carries it. ok is false for a format
	// that QEMU boots without a bootloader.
	BootDisk(b *board.Board, path, kernel, dir string) (disk string, ok bool, err error)
}

// Formats lists every format, in the order inspect tries them.
func Formats() []Format {
	return []Format{uimageFormat{}, fitFormat{}, sdcardFormat{}, bootdirFormat{}, cpioFormat{}}
}

// FormatNames lists the names of Formats.
func FormatNames() []string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name())
	}
	return names
}

// ErrUnknownFormat is returned for a format name no Format has.
var ErrUnknownFormat = errors.New("unknown format")

// LookupFormat returns the format called name.
func LookupFormat(name string) (Format, error) {
	for _, f := range Formats() {
		if f.Name() == name {
			return f, nil
		}
	}
	names := FormatNames()
	if near := suggest.Nearest(name, names); near != "" {
		return nil, fmt.Errorf("format %q: %w (did you mean %s? known: %s)", name, ErrUnknownFormat, near, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("format %q: %w (known: %s)", name, ErrUnknownFormat, strings.Join(names, ", "))
}

// BoardFormat returns the format called name for b ("" for its default).
// Every format the board lists must be known, so that a typo in a board
// file is found whichever format is asked for.
func BoardFormat(b *board.Board, name string) (Format, error) {
	for _, n := range b.Formats {
		if _, err := LookupFormat(n); err != nil {
			return nil, fmt.Errorf("board %s: formats: %w", b.Name, err)
		}
	}
	n, err := b.Format(name)
	if err != nil {
		return nil, err
	}
	return LookupFormat(n)
}

// Inputs are what a Format makes its artifact of.
type Inputs struct {
	Board *board.Board
	// Initramfs is the compressed cpio archive, a file.
	Initramfs   string
	Compression Compression
	// Kernel is the board's kernel image; set when the format needs it.
	Kernel string
	// DeviceTrees maps each of the board's boot.devicetrees to its file,
	// in the board's order; QEMUDeviceTree holds the machine's own one.
	DeviceTrees    []DeviceTree
	QEMUDeviceTree []byte
	// Firmware is the folder of the board's first-stage firmware files
	// (a Pi's start*.elf, …); "" when they are not available.
	Firmware string
	Mtime    time.Time
	Logf     func(format string, args ...any)
}

// DeviceTree is one device tree file of the board.
type DeviceTree struct {
	Name string // as in the board file: broadcom/bcm2837-rpi-3-b.dtb
	Path string // the file on the host
}

func (in *Inputs) logf(format string, args ...any) {
	if in.Logf != nil {
		in.Logf(format, args...)
	}
}

// OpenInitramfs opens the compressed cpio inside the artifact at path,
// whatever its format, and returns the format's name.
func OpenInitramfs(path string) (string, io.ReadCloser, error) {
	for _, f := range Formats() {
		rc, ok, err := f.Initramfs(path)
		if err != nil {
			return f.Name(), nil, fmt.Errorf("%s: %w", path, err)
		}
		if ok {
			return f.Name(), rc, nil
		}
	}
	return "", nil, fmt.Errorf("%s: %w", path, ErrUnknownFormat)
}

// InspectFile lists the initramfs inside the artifact at path, whatever
// its format, and returns the format's name.
func InspectFile(path string) (string, []Entry, error) {
	format, rc, err := OpenInitramfs(path)
	if err != nil {
		return format, nil, err
	}
	defer rc.Close()
	entries, err := Inspect(rc)
	if err != nil {
		return format, nil, fmt.Errorf("%s: %w", path, err)
	}
	return format, entries, nil
}

// cpioFormat is the compressed initramfs itself, for a bootloader or QEMU
// that loads kernel and initramfs on its own.
type cpioFormat struct{}

func (cpioFormat) Name() string                        { return "cpio" }
func (cpioFormat) DefaultName(comp Compression) string { return "initramfs.cpio" + comp.Ext() }
func (cpioFormat) NeedsKernel() bool                   { return false }

func (cpioFormat) Write(_ context.Context, in *Inputs, dst string) error {
	return copyFile(in.Initramfs, dst, 0o644)
}

// Initramfs takes any regular file; Inspect says whether it is a cpio.
func (cpioFormat) Initramfs(path string) (io.ReadCloser, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, err
	}
	return f, true, nil
}

// copyFile copies src to a new file dst with the given permissions.
func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}

// readHead reads up to n bytes from the start of path; a folder gives no
// bytes and no error, so that a format that wants a file says "not mine".
func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, err
	}
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:m], nil
}

// sectionReadCloser reads a part of a file and closes the file.
type sectionReadCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionReadCloser) Close() error { return s.f.Close() }

func openSection(path string, off, n int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return sectionReadCloser{io.NewSectionReader(f, off, n), f}, nil
}

// moveIntoPlace renames dst (a file or a folder) to out, replacing what is
// there: a folder is swapped in with one rename of the old one aside.
func moveIntoPlace(dst, out string) error {
	fi, err := os.Lstat(out)
	if err == nil && fi.IsDir() {
		old := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".old")
		os.RemoveAll(old)
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("output %s: %w", out, err)
		}
		if err := os.Rename(dst, out); err != nil {
			os.Rename(old, out)
			return fmt.Errorf("output %s: %w", out, err)
		}
		return os.RemoveAll(old)
	}
	if err := os.Rename(dst, out); err != nil {
		return fmt.Errorf("output %s: %w", out, err)
	}
	return nil
}
