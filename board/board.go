// Package board loads board definitions: what to build smbox for, which
// Debian kernel boots it and how QEMU emulates it.
package board

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/sysmaster-go/sysmaster/units/system"
)

//go:embed *.toml
var builtin embed.FS

// Board is one board definition (board/NAME.toml).
type Board struct {
	Name string `toml:"-"`
	// Ref is what names the board to Load and to scripts/fetch-kernel:
	// the built-in name, or the path of its file.
	Ref         string `toml:"-"`
	Description string `toml:"description"`
	// Inherit names the board this one is read over (see decodeChain):
	// its keys are the defaults of this one's.
	Inherit string `toml:"inherit"`
	// Arch is the GOARCH of the board; GOARM is set for 32-bit arm.
	Arch  string `toml:"arch"`
	GOARM string `toml:"goarm"`
	// DebianArch names the architecture of the board's Debian packages.
	DebianArch string `toml:"debian_arch"`
	// DebianSuite is the Debian release its packages come from (default
	// bookworm); riscv64 is official from trixie on.
	DebianSuite string  `toml:"debian_suite"`
	Console     string  `toml:"console"`
	Cmdline     string  `toml:"cmdline"`
	Compression string  `toml:"compression"`
	Kernel      Kernel  `toml:"kernel"`
	QEMU        QEMU    `toml:"qemu"`
	Modules     Modules `toml:"modules"`
	// Formats are the image formats the board produces, the default first
	// (cpio when the key is missing).
	Formats []string `toml:"formats"`
	Boot    Boot     `toml:"boot"`
	// Hostname is written to the image's /etc/hostname.
	Hostname string `toml:"hostname"`
	// System is written to the image as /etc/sysmaster/system.toml
	// ([system.Manager] RuntimeWatchdogSec = "30s", …).
	System system.Config `toml:"system"`
	// Data is a data partition mounted at boot.
	Data Data `toml:"data"`
	// Packages names Debian packages of the board's arch whose files go
	// into the image; Package selects a subset of one's files.
	Packages []string                `toml:"packages"`
	Package  map[string]PackageFiles `toml:"package"`
	// MaxSize bounds the size of the compressed initramfs smimage writes,
	// alone (cpio) or inside another format; 0 is no bound.
	MaxSize Size `toml:"max_size"`
	// Network = false leaves netmaster and the default network file out
	// of the board's images.
	Network *bool `toml:"network"`
}

// PackageFiles is the [package.NAME] table of a board: which files of a
// package in Packages go into the image.
type PackageFiles struct {
	// Files are paths inside the package ("/usr/sbin/dropbear"): a file,
	// a directory with all it holds, or a path.Match pattern. Empty takes
	// the whole package.
	Files []string `toml:"files"`
}

// NetworkEnabled reports whether the board's images configure the network.
func (b *Board) NetworkEnabled() bool { return b.Network == nil || *b.Network }

// Kernel names the Debian package that carries the board's kernel and the
// file of it under /boot.
type Kernel struct {
	Package string `toml:"package"`
	File    string `toml:"file"`
}

// Modules selects the kernel modules an image carries, from the tree of the
// board's kernel. Their dependencies (depends= and softdep= in each
// module's modinfo) come along without being listed.
type Modules struct {
	// Names lists modules by name; '-' and '_' are the same in names.
	Names []string `toml:"names"`
	// Buses adds every module that has an alias on one of these buses:
	// "pci" takes each module with an alias "pci:…", "acpi" one with
	// "acpi*:…".
	Buses []string `toml:"buses"`
}

// Empty reports whether no module is asked for.
func (m Modules) Empty() bool { return len(m.Names) == 0 && len(m.Buses) == 0 }

// QEMU says how qemu-system emulates the board.
type QEMU struct {
	Binary  string   `toml:"binary"`
	Machine string   `toml:"machine"`
	CPU     string   `toml:"cpu"`
	Memory  string   `toml:"memory"`
	Args    []string `toml:"args"`
	// Serial is the index of the UART the console is on: 0 (the default)
	// for the first; raspi3b's mini-UART, a Pi 3's serial0, is 1.
	Serial int `toml:"serial"`
	// SMP is the number of CPUs (default 1); some machines, such as
	// raspi3b, have a fixed number.
	SMP int `toml:"smp"`
}

// DefaultSuite is the Debian release of a board's packages unless it says
// debian_suite.
const DefaultSuite = "bookworm"

// ErrUnknown is returned for a board name that is neither built in nor a file.
var ErrUnknown = errors.New("unknown board")

// Names lists the built-in boards.
func Names() []string {
	ents, _ := fs.ReadDir(builtin, ".")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Load returns the built-in board NAME, or reads the board file at NAME when
// it ends in .toml.
func Load(name string) (*Board, error) {
	if strings.HasSuffix(name, ".toml") {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("board: %w", err)
		}
		b, err := Parse(name, strings.TrimSuffix(path.Base(name), ".toml"), data)
		if b != nil {
			b.Ref = name
		}
		return b, err
	}
	src, err := builtinSource(name)
	if err != nil {
		return nil, fmt.Errorf("board %q: %w (known: %s)", name, ErrUnknown, strings.Join(Names(), ", "))
	}
	return parse(src)
}

// FetchRef is the argument of scripts/fetch-kernel for b.
func (b *Board) FetchRef() string {
	if b.Ref != "" {
		return b.Ref
	}
	return b.Name
}

// Parse decodes a board file strictly: unknown keys are errors. A board
// that inherits another (inherit = "NAME") is read over its parent, as
// decodeChain says; resolve finds the parents: next to a file on disk
// first, then among the built-in boards.
func Parse(file, name string, data []byte) (*Board, error) {
	return parse(source{file: file, name: name, data: data})
}

func parse(src source) (*Board, error) {
	chain, err := resolve(src)
	if err != nil {
		return nil, err
	}
	var b Board
	if len(chain) == 1 {
		// The common case keeps the line numbers of the file's own errors.
		if err := decodeStrict(src, &b); err != nil {
			return nil, err
		}
	} else if err := decodeChain(chain, &b); err != nil {
		return nil, err
	}
	b.Name = src.name
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.file, err)
	}
	return &b, nil
}

// decodeStrict decodes one file into v; a syntax error names its line, an
// unknown key its name.
func decodeStrict(src source, v any) error {
	md, err := toml.Decode(string(src.data), v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" && !strings.Contains(pe.Message, pe.LastKey) {
				return fmt.Errorf("%s:%d: %s: %s", src.file, pe.Position.Line, pe.LastKey, pe.Message)
			}
			return fmt.Errorf("%s:%d: %s", src.file, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("%s: %w", src.file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%s: unknown key %q", src.file, und[0].String())
	}
	return nil
}

func (b *Board) validate() error {
	switch b.Arch {
	case "amd64", "arm64", "riscv64", "386":
	case "arm":
		if b.GOARM == "" {
			return errors.New("arch \"arm\" needs goarm")
		}
	case "":
		return errors.New("missing key \"arch\"")
	default:
		return fmt.Errorf("arch %q: not a supported GOARCH", b.Arch)
	}
	if b.Kernel.Package == "" {
		return errors.New("missing key \"kernel.package\"")
	}
	if b.Kernel.File == "" {
		b.Kernel.File = "vmlinuz-*"
	}
	if b.DebianArch == "" {
		b.DebianArch = b.Arch
	}
	switch b.DebianSuite {
	case "":
		b.DebianSuite = DefaultSuite
	case "bookworm", "trixie":
	default:
		return fmt.Errorf("debian_suite %q: not a Debian release the scripts know (bookworm, trixie)", b.DebianSuite)
	}
	if b.QEMU.Binary == "" {
		return errors.New("missing key \"qemu.binary\"")
	}
	if b.QEMU.Memory == "" {
		b.QEMU.Memory = "512M"
	}
	if err := b.validateBoot(); err != nil {
		return err
	}
	if b.Hostname != "" {
		if err := system.ValidHostname(b.Hostname); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if err := b.System.Validate(); err != nil {
		return fmt.Errorf("system.%w", err)
	}
	if err := b.Data.validate(); err != nil {
		return err
	}
	if err := b.Modules.validate(); err != nil {
		return err
	}
	return b.validatePackages()
}

func (b *Board) validatePackages() error {
	seen := make(map[string]bool)
	for i, p := range b.Packages {
		if !ValidPackageName(p) {
			return fmt.Errorf("packages[%d]: %q is not a Debian package name", i, p)
		}
		if seen[p] {
			return fmt.Errorf("packages[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	names := make([]string, 0, len(b.Package))
	for n := range b.Package {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !seen[n] {
			return fmt.Errorf("package.%s: %q is not in packages", n, n)
		}
		for i, f := range b.Package[n].Files {
			if f == "" || strings.Contains(f, "..") {
				return fmt.Errorf("package.%s.files[%d]: %q is not a path inside the package", n, i, f)
			}
			if _, err := path.Match(f, ""); err != nil {
				return fmt.Errorf("package.%s.files[%d]: %q: %w", n, i, f, err)
			}
		}
	}
	return nil
}

// ValidPackageName reports whether s is a Debian package name: lower-case
// letters, digits, '+', '-' and '.', starting with a letter or digit, at
// least two long.
func ValidPackageName(s string) bool {
	if len(s) < 2 || !('a' <= s[0] && s[0] <= 'z' || '0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func (m Modules) validate() error {
	seen := make(map[string]bool)
	for i, n := range m.Names {
		if !validName(n, "-_") {
			return fmt.Errorf("modules.names[%d]: %q is not a module name (letters, digits, '-' and '_')", i, n)
		}
		k := strings.ReplaceAll(n, "-", "_")
		if seen[k] {
			return fmt.Errorf("modules.names[%d]: %q is listed twice", i, n)
		}
		seen[k] = true
	}
	clear(seen)
	for i, bus := range m.Buses {
		if !validName(bus, "_") {
			return fmt.Errorf("modules.buses[%d]: %q is not a bus name such as \"pci\" or \"virtio\"", i, bus)
		}
		if seen[bus] {
			return fmt.Errorf("modules.buses[%d]: %q is listed twice", i, bus)
		}
		seen[bus] = true
	}
	return nil
}

// validName reports whether s is non-empty and made of ASCII letters,
// digits and the bytes in extra.
func validName(s, extra string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return s != ""
}
