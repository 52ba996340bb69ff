package image

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
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
