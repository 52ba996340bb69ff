package rules

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// link returns a rules file adding one symlink, to see which files applied.
func link(name string) string { return "[[rule]]\nsymlink = [\"" + name + "\"]\n" }

func TestLoad(t *testing.T) {
	root := t.TempDir()
	etc, lib := filepath.Join(root, "etc"), filepath.Join(root, "lib")
	writeFiles(t, lib, map[string]string{
		"50-default.toml": link("lib-50"),
		"10-early.toml":   link("lib-10"),
		"70-masked.toml":  link("lib-70"),
		"README":          "not a rules file",
		".90-hidden.toml": link("hidden"),
	})
	writeFiles(t, etc, map[string]string{
		"50-default.toml": link("etc-50"), // replaces lib's
		"60-local.toml":   link("etc-60"),
		"70-masked.toml":  "", // masks lib's
	})
	if err := os.Mkdir(filepath.Join(etc, "80-dir.toml"), 0o755); err != nil {
		t.Fatal(err)
	}

	s, err := Load(etc, filepath.Join(root, "missing"), lib)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	res := s.Apply(&Device{})
	if want := []string{"lib-10", "etc-50", "etc-60"}; !slices.Equal(res.Symlinks, want) {
		t.Errorf("Symlinks = %q, want %q (lexical order across dirs, earlier dirs win)", res.Symlinks, want)
	}
	wantMatched := []string{filepath.Join(lib, "10-early.toml") + ":1", filepath.Join(etc, "50-default.toml") + ":1", filepath.Join(etc, "60-local.toml") + ":1"}
	if !slices.Equal(res.Matched, wantMatched) {
		t.Errorf("Matched = %q, want %q", res.Matched, wantMatched)
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"10-good.toml": link("good-10"),
		"20-bad.toml":  "[[rule]]\nsymlink = [\"bad\"]\nmode = \"9\"\n",
		"30-good.toml": link("good-30"),
		"40-bad.toml":  "[[rule]]\nkernl = \"x\"\n",
	})
	s, err := Load(dir)
	if err == nil {
		t.Fatal("Load: no error for bad files")
	}
	if s == nil || s.Len() != 2 {
		t.Fatalf("Load kept %d rules, want the 2 of the good files", s.Len())
	}
	if res := s.Apply(&Device{}); !slices.Equal(res.Symlinks, []string{"good-10", "good-30"}) {
		t.Errorf("Symlinks = %q", res.Symlinks)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "20-bad.toml") + `:3: mode: "9" is not an octal mode up to 07777`,
		filepath.Join(dir, "40-bad.toml") + ":2: kernl: unknown key (did you mean kernel?)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q\ndoes not contain %q", msg, want)
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("errors.As(*Error) failed on %v", err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	root := t.TempDir()
	notDir := filepath.Join(root, "file")
	writeFiles(t, root, map[string]string{"file": "x"})
	s, err := Load(notDir)
	if err == nil || s == nil || s.Len() != 0 {
		t.Errorf("Load(a file) = %v, %v; want an empty set and an error", s, err)
	}
}

func TestLoadNothing(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "none"))
	if err != nil || s.Len() != 0 {
		t.Errorf("Load(missing) = %d rules, %v", s.Len(), err)
	}
	s, err = Load()
	if err != nil || s.Len() != 0 {
		t.Errorf("Load() = %d rules, %v", s.Len(), err)
	}
}
