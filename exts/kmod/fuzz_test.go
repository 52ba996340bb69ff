package kmod

import (
	"path"
	"strings"
	"testing"
)

// FuzzFnmatch checks fnmatch against path.Match where the two agree: ASCII
// without '/', no "[!" negation (path.Match's is "[^"), and patterns that
// path.Match accepts.
func FuzzFnmatch(f *testing.F) {
	for _, s := range [][2]string{
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"},
		{"usb:v1234p5678d0[0-4]*dc*", "usb:v1234p5678d03dc00"},
		{"a?c[^x]*", "abcd"},
		{`\*x`, "*x"},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaa"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := fnmatch(pattern, s)
		if !ascii(pattern+s) || strings.Contains(pattern+s, "/") || strings.Contains(pattern, "[!") {
			return
		}
		want, err := path.Match(pattern, s)
		if err != nil {
			return
		}
		if got != want {
			t.Errorf("fnmatch(%q, %q) = %v, path.Match says %v", pattern, s, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzIndex feeds arbitrary text to the index parsers: they may reject it,
// but must not panic, and what they accept must be usable for lookups.
func FuzzIndex(f *testing.F) {
	f.Add(fixtureDep, fixtureAlias, fixtureSoftdep, "virtio:d00000001v00001AF4")
	f.Add("a.ko: b.ko\n", "alias x[ a\nalias * b\n", "softdep a pre: post:\n", "x[")
	f.Fuzz(func(t *testing.T, dep, aliases, softdeps, query string) {
		idx := &index{dir: "/m", modules: make(map[string]*module), builtin: make(map[string]bool)}
		if err := idx.parseDep("modules.dep", strings.NewReader(dep)); err != nil {
			return
		}
		as, err := parseAliases("modules.alias", strings.NewReader(aliases))
		if err != nil {
			return
		}
		if _, err := parseSoftdeps("modules.softdep", strings.NewReader(softdeps)); err != nil {
			return
		}
		for _, m := range matchAliases(as, normalizeAlias(query)) {
			if m == "" {
				t.Errorf("alias lookup of %q gave an empty module name", query)
			}
		}
		for name, m := range idx.modules {
			for _, d := range m.deps {
				if idx.modules[d] == nil {
					t.Errorf("%s depends on %s, which has no entry", name, d)
				}
			}
		}
	})
}
