package image

import (
	"fmt"
	"os"
	"path/filepath"
)

// createTemp opens a temporary file beside out, so that a failed write
// leaves any earlier out untouched.
func createTemp(out string) (*os.File, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output %s: %w", out, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", out, err)
	}
	return f, nil
}

// commit makes the temp file durable and moves it to out.
func commit(f *os.File, out string) (int64, error) {
	if err := f.Chmod(0o644); err != nil {
		return 0, fmt.Errorf("output %s: %w", out, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("output %s: sync: %w", out, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("output %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("output %s: %w", out, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return 0, fmt.Errorf("output %s: %w", out, err)
	}
	// Persist the rename too; some file systems cannot sync a directory,
	// and the file itself is already safe, so that failure is ignored.
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return fi.Size(), nil
}
