package rules

import (
	"path"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"/devices/*", "/devices/pci0000:00/0000:00:02.0/virtio0/block/vda", true},
		{"*/block/*", "/devices/virtual/block/loop0", true},
		{"*/net/*", "/devices/virtual/block/loop0", false},
		{"vd*", "vda", true},
		{"vd*", "sda", false},
		{"vd*[!0-9]", "vda", true},
		{"vd*[!0-9]", "vda1", false},
		{"vd*[^0-9]", "vdab", true},
		{"tty?*", "tty", false},
		{"tty?*", "ttyS0", true},
		{"ttyS[0-9]", "ttyS7", true},
		{"ttyS[0-9]", "ttyS10", false},
		{"?", "é", true},
		{"a?c", "a/c", true},
		{"*.service", "a.b.service", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{`\*`, "*", true},
		{`\*`, "x", false},
		{`[\]]`, "]", true},
		{`[a\-z]`, "-", true},
		{`[a\-z]`, "m", false},
		{"[a-cx-z]", "y", true},
		{"[a-cx-z]", "d", false},
		{"[z-a]", "m", false},
		{"[01-0]", "0", true},
		{"a|b", "a|b", true}, // '|' is literal here: parsePattern splits alternatives
	}
	for _, tt := range tests {
		if err := checkGlob(tt.pattern); err != nil {
			t.Errorf("checkGlob(%q) = %v", tt.pattern, err)
		}
		if got := glob(tt.pattern, tt.name); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCheckGlobBad(t *testing.T) {
	for _, p := range []string{"[", "[]", "[a", "[-a]", "[a-]", `\`, `a[\`, "[^]", "x[]]"} {
		if checkGlob(p) == nil {
			t.Errorf("checkGlob(%q) = nil, want an error", p)
		}
		if glob(p, "a") {
			t.Errorf("glob(%q, \"a\") = true for a malformed pattern", p)
		}
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern string
		value   string
		present bool
		want    bool
	}{
		{"add", "add", true, true},
		{"add|change", "change", true, true},
		{"add|change", "remove", true, false},
		{"!remove", "add", true, true},
		{"!remove", "remove", true, false},
		{"!sd*|vd*", "vda", true, false},
		{"!sd*|vd*", "hda", true, true},
		{"?*", "", false, false},
		{"!?*", "", false, true},
		{"", "", true, true},
		{"!", "", true, false},
		{"!", "x", true, true},
	}
	for _, tt := range tests {
		p, err := parsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("parsePattern(%q): %v", tt.pattern, err)
		}
		if got := p.match(tt.value, tt.present); got != tt.want {
			t.Errorf("%q.match(%q, %v) = %v, want %v", tt.pattern, tt.value, tt.present, got, tt.want)
		}
	}
	if _, err := parsePattern("a|[b"); err == nil {
		t.Error(`parsePattern("a|[b") = nil error`)
	}
}

// FuzzGlob checks glob against path.Match where their rules agree: names
// without '/', patterns without the "[!" negation path.Match lacks, and
// ASCII names (path.Match's '*' may stop inside a multi-byte character,
// after which '?' matches its bytes one by one).
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"vd*", "vda"}, {"[a-z]?", "b1"}, {`\[`, "["}, {"*a*b", "xaab"}, {"[^x]*", "y"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := glob(pattern, name) // must not panic, even on a malformed pattern
		if strings.Contains(name, "/") || strings.Contains(pattern, "/") || strings.Contains(pattern, "[!") || !isASCII(name) {
			return
		}
		want, err := path.Match(pattern, name)
		if (err == nil) != (checkGlob(pattern) == nil) {
			// path.Match may not notice a malformed tail after a mismatch.
			if err != nil || want {
				t.Fatalf("checkGlob(%q) = %v, path.Match error %v", pattern, checkGlob(pattern), err)
			}
			return
		}
		if err == nil && got != want {
			t.Fatalf("glob(%q, %q) = %v, path.Match says %v", pattern, name, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
