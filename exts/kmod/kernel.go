package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Kernel is the kernel's side of module loading; tests give a fake one.
type Kernel interface {
	// Load inserts a module: from the file f with finit_module when f is
	// not nil, else from image with init_module. A compressed file the
	// kernel cannot take fails with an error wrapping EOPNOTSUPP, EINVAL
	// or ENOEXEC; a module already there with one wrapping EEXIST.
	Load(name string, f *os.File, image []byte, params string) error
	// Unload removes a module without waiting for its users: a module in
	// use fails with an error wrapping EAGAIN or EBUSY.
	Unload(name string) error
	// Loaded lists the modules in the kernel.
	Loaded() (map[string]bool, error)
	// IsLoaded reports whether one module is in the kernel: cheaper than
	// Loaded for a few names, as when a device's modules are probed.
	IsLoaded(name string) (bool, error)
}

// linuxKernel is the running kernel.
type linuxKernel struct{}

func (linuxKernel) Load(name string, f *os.File, image []byte, params string) error {
	if f == nil {
		if err := unix.InitModule(image, params); err != nil {
			return fmt.Errorf("init_module %s: %w", name, err)
		}
		return nil
	}
	flags := 0
	if compressed(f) {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), params, flags); err != nil {
		return fmt.Errorf("finit_module %s: %w", name, err)
	}
	return nil
}

func (linuxKernel) Unload(name string) error {
	if err := unix.DeleteModule(name, unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("delete_module %s: %w", name, err)
	}
	return nil
}

func (linuxKernel) Loaded() (map[string]bool, error) {
	f, err := os.Open("/proc/modules")
	if errors.Is(err, fs.ErrNotExist) {
		// A kernel without module support, or no /proc in a container.
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcModules(f)
}

// IsLoaded looks for the module's initstate in /sys/module, as libkmod
// does: the kernel makes it for a loaded module (live, coming or going)
// and never for a built-in one. /proc/modules would make the kernel print
// every module's line, address included, for one name.
func (linuxKernel) IsLoaded(name string) (bool, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name[0] == '.' {
		return false, fmt.Errorf("bad module name %q", name)
	}
	err := unix.Access("/sys/module/"+name+"/initstate", unix.F_OK)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("/sys/module/%s: %w", name, err)
}

// parseProcModules takes the names from /proc/modules, one module a line:
// "name size refcount users state address".
func parseProcModules(r io.Reader) (map[string]bool, error) {
	out := make(map[string]bool)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), " "); name != "" {
			out[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/modules: %w", err)
	}
	return out, nil
}

var (
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

// compressed reports whether f starts like a compressed stream rather
// than an ELF file.
func compressed(f *os.File) bool {
	head := make([]byte, 6)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	return bytes.HasPrefix(head, xzMagic) || bytes.HasPrefix(head, zstdMagic) || bytes.HasPrefix(head, gzipMagic)
}

// refused reports whether err is the kernel declining a compressed module
// file: no in-kernel decompression (EOPNOTSUPP), a kernel older than the
// flag (EINVAL), or a file it took for a broken ELF (ENOEXEC).
func refused(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOEXEC)
}

// compressionOf returns the compression a module file name says, or "".
func compressionOf(p string) string {
	for _, c := range []string{"xz", "zst", "gz"} {
		if strings.HasSuffix(p, ".ko."+c) {
			return c
		}
	}
	return ""
}

// compressionConfig names the kernel option for a module compression.
func compressionConfig(comp string) string {
	switch comp {
	case "zst":
		return "ZSTD"
	case "gz":
		return "GZIP"
	}
	return "XZ"
}
