package devmaster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
)

// ids resolves user and group names once: without cgo, os/user parses
// /etc/passwd and /etc/group on every call.
type ids struct {
	mu     sync.Mutex
	users  map[string]int
	groups map[string]int
	failed map[string]bool // names already reported as unknown
}

func newIDs() *ids {
	return &ids{users: map[string]int{}, groups: map[string]int{}, failed: map[string]bool{}}
}

// reset forgets the names, for a reload after the files changed.
func (c *ids) reset() {
	c.mu.Lock()
	c.users, c.groups, c.failed = map[string]int{}, map[string]int{}, map[string]bool{}
	c.mu.Unlock()
}

// errReported stands for a name lookup that failed before: a rule naming
// a missing group would otherwise log once per device.
var errReported = errors.New("already reported")

func (c *ids) user(name string) (int, error) {
	return c.lookup(c.users, name, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
}

func (c *ids) group(name string) (int, error) {
	return c.lookup(c.groups, name, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
}

func (c *ids) lookup(cache map[string]int, name string, find func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := cache[name]; ok {
		return id, nil
	}
	if c.failed[name] {
		return -1, errReported
	}
	s, err := find(name)
	if err != nil {
		c.failed[name] = true
		return -1, err
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		return -1, fmt.Errorf("id %q of %q: %w", s, name, err)
	}
	cache[name] = id
	return id, nil
}

// setNodeAccess applies owner, group and mode to the device node. The
// node is never a symlink (devtmpfs makes real nodes); one is left alone
// rather than followed.
func (d *Daemon) setNodeAccess(node, owner, group string, mode fs.FileMode, modeSet bool) error {
	fi, err := os.Lstat(node)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink, not a device node", node)
	}
	// What can be applied is: a missing owner does not keep the mode.
	var errs []error
	uid, gid := -1, -1
	if owner != "" {
		if uid, err = d.ids.user(owner); err != nil && !errors.Is(err, errReported) {
			errs = append(errs, fmt.Errorf("%s: owner %q: %w", node, owner, err))
		}
	}
	if group != "" {
		if gid, err = d.ids.group(group); err != nil && !errors.Is(err, errReported) {
			errs = append(errs, fmt.Errorf("%s: group %q: %w (reported once)", node, group, err))
		}
	}
	// A node handled again (a trigger) usually has what it needs already.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid == int(st.Uid) {
			uid = -1
		}
		if gid == int(st.Gid) {
			gid = -1
		}
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(node, uid, gid); err != nil {
			errs = append(errs, err)
		}
	}
	want := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if modeSet && fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != want {
		if err := os.Chmod(node, want); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
