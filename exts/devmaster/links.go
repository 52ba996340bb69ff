package devmaster

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// addLink makes devRoot/name a relative symlink to node (a path under
// devRoot), creating parent directories, and reports whether it changed
// anything. The link is made under a temporary name and renamed into
// place, so it never dangles or goes missing; an existing file that is not
// a symlink is left alone.
func addLink(devRoot, name, node string) (changed bool, err error) {
	if !validRel(name) {
		return false, fmt.Errorf("link %q: not a clean path relative to /dev", name)
	}
	link := filepath.Join(devRoot, name)
	target, err := filepath.Rel(filepath.Dir(link), node)
	if err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink == 0:
		return false, fmt.Errorf("link %s: exists and is not a symlink", link)
	case err == nil:
		if cur, err := os.Readlink(link); err == nil && cur == target {
			return false, nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	tmp, err := tempName(link)
	if err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	return true, nil
}

// removeLink removes devRoot/name if it still points at node (another
// device may have claimed the name since), then the directories it leaves
// empty, up to devRoot.
func removeLink(devRoot, name, node string) error {
	if !validRel(name) {
		return fmt.Errorf("link %q: not a clean path relative to /dev", name)
	}
	link := filepath.Join(devRoot, name)
	target, err := os.Readlink(link)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(link), target)
	}
	if filepath.Clean(target) != filepath.Clean(node) {
		return nil
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("link %s: %w", link, err)
	}
	root := filepath.Clean(devRoot)
	for dir := filepath.Dir(link); dir != root && len(dir) > len(root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty, or in use: stop
			break
		}
	}
	return nil
}

// tempName returns a random name next to p: workers may be making the
// same link for two devices at once.
func tempName(p string) (string, error) {
	var b [8]byte
	if err := uniqueRandom(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), ".#"+filepath.Base(p)+"."+hex.EncodeToString(b[:])), nil
}
