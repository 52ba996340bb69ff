package image

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"strings"
)

// elfMachine maps a GOARCH to the ELF machine and class of its binaries.
func elfMachine(goarch string) (elf.Machine, elf.Class, bool) {
	switch goarch {
	case "amd64":
		return elf.EM_X86_64, elf.ELFCLASS64, true
	case "386":
		return elf.EM_386, elf.ELFCLASS32, true
	case "arm64":
		return elf.EM_AARCH64, elf.ELFCLASS64, true
	case "arm":
		return elf.EM_ARM, elf.ELFCLASS32, true
	case "riscv64":
		return elf.EM_RISCV, elf.ELFCLASS64, true
	}
	return 0, 0, false
}

// CheckBinary makes sure the host file path can run on a board of the
// given GOARCH: an ELF must be built for that machine and be statically
// linked. Files that are not ELF (scripts, data) pass unchecked.
func CheckBinary(path, goarch string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
		return nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("%s: bad ELF file: %w", path, err)
	}
	defer ef.Close()
	want, class, ok := elfMachine(goarch)
	if !ok {
		return fmt.Errorf("%s: no ELF machine known for GOARCH %q", path, goarch)
	}
	if ef.Machine != want || ef.Class != class {
		return fmt.Errorf("%s: built for %v (%v), but the board is %s (%v)", path, ef.Machine, ef.Class, goarch, want)
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil {
			return fmt.Errorf("%s: reading PT_INTERP: %w", path, err)
		}
		return fmt.Errorf("%s: dynamically linked (needs %s); only static binaries are supported",
			path, string(bytes.TrimRight(interp, "\x00")))
	}
	return nil
}

// elfInfo is what the resolver reads from an ELF file: its machine, and
// for a dynamic one the interpreter, the libraries it needs and where it
// says to look for them.
type elfInfo struct {
	machine elf.Machine
	class   elf.Class
	interp  string
	needed  []string
	rpath   []string // DT_RPATH, used only without DT_RUNPATH, as ld.so does
	runpath []string
}

func (e *elfInfo) dynamic() bool { return e.interp != "" || len(e.needed) > 0 }

// readELF reads the file at p; ok is false for a file that is not ELF.
func readELF(p string) (info *elfInfo, ok bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
		return nil, false, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, true, fmt.Errorf("bad ELF file: %w", err)
	}
	defer ef.Close()
	info = &elfInfo{machine: ef.Machine, class: ef.Class}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(prog.Open(), 4096))
		if err != nil {
			return nil, true, fmt.Errorf("reading PT_INTERP: %w", err)
		}
		info.interp = string(bytes.TrimRight(b, "\x00"))
	}
	if ef.SectionByType(elf.SHT_DYNAMIC) == nil {
		return info, true, nil
	}
	if info.needed, err = ef.DynString(elf.DT_NEEDED); err != nil {
		return nil, true, fmt.Errorf("reading DT_NEEDED: %w", err)
	}
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		vals, err := ef.DynString(tag)
		if err != nil {
			return nil, true, fmt.Errorf("reading %v: %w", tag, err)
		}
		var dirs []string
		for _, v := range vals {
			dirs = append(dirs, strings.Split(v, ":")...)
		}
		if tag == elf.DT_RPATH {
			info.rpath = dirs
		} else {
			info.runpath = dirs
		}
	}
	return info, true, nil
}
