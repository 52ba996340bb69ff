package kmod

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// quickMiss reports whether nothing in the module tree can answer q: no
// module or built-in module of that name, and no alias whose literal
// prefix q starts with. It reads the index files as they are, building
// nothing, for the requests the kernel makes on its own (modprobe -q of
// "crypto-..." or "fs-..." names, most of which nothing answers) while
// the boot waits for them. Any doubt (configuration files, a file it
// cannot read or a line it does not understand) answers false, and the
// full lookup decides.
func (s *settings) quickMiss(q string) bool {
	for _, dir := range s.configDirs {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".toml") {
				return false
			}
		}
	}
	name, a := NormalizeName(q), normalizeAlias(q)
	files := []struct {
		name string
		miss func(data []byte) bool
	}{
		{"modules.dep", func(b []byte) bool { return eachLine(b, func(l []byte) bool { return depLineMisses(l, name) }) }},
		{"modules.builtin", func(b []byte) bool {
			return eachLine(b, func(l []byte) bool { return isModuleFile(l) && !sameModule(l, name) })
		}},
		{"modules.alias", func(b []byte) bool { return eachLine(b, func(l []byte) bool { return aliasLineMisses(l, a) }) }},
		{"modules.builtin.modinfo", func(b []byte) bool { return modinfoMisses(b, a) }},
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(s.root, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !f.miss(data) {
			return false
		}
	}
	return true
}

// eachLine calls fn with each line that is neither blank nor a comment,
// trimmed, until it returns false.
func eachLine(data []byte, fn func(line []byte) bool) bool {
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if !fn(line) {
			return false
		}
	}
	return true
}

// depLineMisses checks a modules.dep line: every module file it names,
// the module and its dependencies, is one of the tree's modules.
func depLineMisses(line []byte, name string) bool {
	mod, deps, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return false
	}
	mod = bytes.TrimSpace(mod)
	if !isModuleFile(mod) || sameModule(mod, name) {
		return false
	}
	for _, d := range bytes.Fields(deps) {
		if !isModuleFile(d) || sameModule(d, name) {
			return false
		}
	}
	return true
}

func aliasLineMisses(line []byte, a string) bool {
	f := bytes.Fields(line)
	if len(f) != 3 || string(f[0]) != "alias" {
		return false
	}
	return !mayMatch(string(f[1]), a)
}

// mayMatch reports whether the alias pattern could match a (normalized):
// a pattern without wildcards only by being it, one with them when a
// starts with its literal part.
func mayMatch(pattern, a string) bool {
	p := normalizeAlias(pattern)
	if prefix := literalPrefix(p); prefix != p {
		return strings.HasPrefix(a, prefix)
	}
	return p == a
}

// modinfoMisses checks the "module.alias=PATTERN" strings of
// modules.builtin.modinfo.
func modinfoMisses(data []byte, a string) bool {
	for len(data) > 0 {
		kv, rest, _ := bytes.Cut(data, []byte{0})
		data = rest
		mod, pattern, ok := bytes.Cut(kv, []byte(".alias="))
		if ok && len(mod) > 0 && len(pattern) > 0 && !bytes.ContainsAny(mod, "=.") && mayMatch(string(pattern), a) {
			return false
		}
	}
	return true
}

func isModuleFile(p []byte) bool {
	_, ok := moduleBase(p)
	return ok
}

// sameModule reports whether the module file p is the module name (a
// normalized name).
func sameModule(p []byte, name string) bool {
	base, ok := moduleBase(p)
	if !ok || len(base) != len(name) {
		return false
	}
	for i := range base {
		if c := base[i]; c != name[i] && !(c == '-' && name[i] == '_') {
			return false
		}
	}
	return true
}

// moduleBase is the file name of a module path without its suffix, as
// ModuleName finds it, but not normalized.
func moduleBase(p []byte) ([]byte, bool) {
	base := p[bytes.LastIndexByte(p, '/')+1:]
	for _, s := range moduleSuffixes {
		if n, ok := bytes.CutSuffix(base, []byte(s)); ok && len(n) > 0 {
			return n, true
		}
	}
	return nil, false
}
