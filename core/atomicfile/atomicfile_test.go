package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "seed")
	for _, tc := range []struct {
		data string
		mode os.FileMode
	}{
		{"first\n", 0o600},
		{"second, longer than the first\n", 0o444},
		{"", 0o644},
	} {
		if err := Write(p, []byte(tc.data), tc.mode); err != nil {
			t.Fatalf("Write(%q): %v", tc.data, err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.data {
			t.Errorf("content %q, want %q", got, tc.data)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.mode {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.mode)
		}
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Errorf("%d files left in the folder, want only the target: %v", len(left), left)
	}
}

func TestWriteMissingFolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing", "file")
	if err := Write(p, []byte("x"), 0o644); err == nil {
		t.Fatal("Write into a missing folder succeeded")
	}
}
