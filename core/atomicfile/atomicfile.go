// Package atomicfile replaces files so that a reader, or the next boot
// after a power cut, sees the old content or the new, never a part.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data and mode: it writes a temporary file
// beside path, syncs it, renames it over path and syncs the directory,
// so that the rename itself outlives a power cut.
func Write(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp, data, mode); err != nil {
		tmp.Close()
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("replacing %s: syncing its directory: %w", path, err)
	}
	return nil
}

func fill(f *os.File, data []byte, mode os.FileMode) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	return f.Sync()
}
