package execute

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotFound is wrapped by lookups of a name that has no entry.
var ErrNotFound = errors.New("not found")

// LookupUser resolves a user name, or a numeric uid, through /etc/passwd.
func LookupUser(name string) (uid, gid uint32, home string, err error) {
	return LookupUserIn("/", name)
}

// LookupGroup resolves a group name, or a numeric gid, through /etc/group.
func LookupGroup(name string) (uint32, error) {
	return LookupGroupIn("/", name)
}

// LookupUserIn is LookupUser with ROOT/etc/passwd. A numeric name without an
// entry is accepted as uid and gid of that number with home "/", so that
// User=4242 works on a board that ships no passwd file.
func LookupUserIn(root, name string) (uid, gid uint32, home string, err error) {
	path := filepath.Join(root, "etc/passwd")
	id, numeric := parseID(name)
	b, err := os.ReadFile(path)
	if err != nil && !(numeric && errors.Is(err, os.ErrNotExist)) {
		return 0, 0, "", fmt.Errorf("user %q: %w", name, err)
	}
	var found []string
	err = eachEntry(b, path, 7, func(f []string) bool {
		if f[0] == name || (numeric && f[2] == name) {
			found = f
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, "", fmt.Errorf("user %q: %w", name, err)
	}
	if found == nil {
		if numeric {
			return id, id, "/", nil
		}
		return 0, 0, "", fmt.Errorf("user %q: %w in %s", name, ErrNotFound, path)
	}
	u, ok1 := parseID(found[2])
	g, ok2 := parseID(found[3])
	if !ok1 || !ok2 {
		return 0, 0, "", fmt.Errorf("user %q: %s: bad uid or gid %q:%q", name, path, found[2], found[3])
	}
	return u, g, found[5], nil
}

// LookupGroupIn is LookupGroup with ROOT/etc/group. A numeric name is
// accepted as is.
func LookupGroupIn(root, name string) (uint32, error) {
	if id, ok := parseID(name); ok {
		return id, nil
	}
	path := filepath.Join(root, "etc/group")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", name, err)
	}
	var found []string
	err = eachEntry(b, path, 3, func(f []string) bool {
		if f[0] == name {
			found = f
			return false
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", name, err)
	}
	if found == nil {
		return 0, fmt.Errorf("group %q: %w in %s", name, ErrNotFound, path)
	}
	g, ok := parseID(found[2])
	if !ok {
		return 0, fmt.Errorf("group %q: %s: bad gid %q", name, path, found[2])
	}
	return g, nil
}

// parseID accepts a decimal id that fits 32 bits and is not (uid_t)-1,
// which the kernel reserves to mean "unchanged".
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0xffffffff {
		return 0, false
	}
	return uint32(n), true
}

// eachEntry calls fn with the colon-separated fields of every line of a
// passwd-style file having at least nfields fields, until fn returns false.
// Blank lines, comments and NIS "+"/"-" lines are skipped.
func eachEntry(b []byte, path string, nfields int, fn func([]string) bool) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-' {
			continue
		}
		f := strings.Split(t, ":")
		if len(f) < nfields {
			continue
		}
		if !fn(f) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
