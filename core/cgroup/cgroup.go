// Package cgroup places units in cgroup v2 child groups of the manager's own
// cgroup, sets their limits and kills them as a whole.
//
// When no cgroup2 hierarchy is mounted (cgroup v1 only) Detect fails with
// ErrNoCgroup2, and when the manager's cgroup cannot be written (a user-mode
// manager outside a delegated subtree) Writable reports false: in both cases
// the caller tracks services by process group instead.
//
// Every path is taken under Options.Root, so tests can run against a fake
// cgroupfs made of plain files.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	// ErrNoCgroup2 means the process is in no cgroup v2 hierarchy.
	ErrNoCgroup2 = errors.New("no cgroup2 hierarchy")
	// ErrNoController means a limit's controller is not enabled for a cgroup.
	ErrNoController = errors.New("controller not enabled")
)

// LeafName is the child cgroup the manager moves its own processes into
// before it enables controllers: cgroup v2 lets only leaves of a subtree
// with controllers hold processes.
const LeafName = "init.scope"

// Options say where to look; the zero value means the running system.
type Options struct {
	// Root prefixes every path read or written; "" is "/".
	Root string
	// PID is the process whose cgroup becomes the manager's; 0 is the caller.
	PID int
}

// Manager handles the cgroup subtree below the manager's own cgroup: units
// get one child each, next to the LeafName child that holds the manager.
type Manager struct {
	root     string
	mount    string // cgroup2 mount point, under root
	path     string // own cgroup as in /proc/PID/cgroup, e.g. "/user.slice/x"
	dir      string // directory of the own cgroup, under root
	writable bool
}

// Detect finds the cgroup2 hierarchy and the caller's cgroup in it.
func Detect() (*Manager, error) { return Open(Options{}) }

// Open is Detect with explicit options.
func Open(o Options) (*Manager, error) {
	root := o.Root
	if root == "" {
		root = "/"
	}
	proc := "self"
	if o.PID != 0 {
		proc = strconv.Itoa(o.PID)
	}
	cgFile := filepath.Join(root, "proc", proc, "cgroup")
	b, err := os.ReadFile(cgFile)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	own, err := ParseProcCgroup(b)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %s: %w", cgFile, err)
	}
	miFile := filepath.Join(root, "proc", proc, "mountinfo")
	if b, err = os.ReadFile(miFile); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	mounts, err := ParseMountinfo(b)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %s: %w", miFile, err)
	}
	for _, mnt := range mounts {
		rel, ok := within(own, mnt.Root)
		if !ok {
			continue
		}
		m := &Manager{
			root:  root,
			mount: filepath.Join(root, mnt.Point),
			path:  own,
			dir:   filepath.Join(root, mnt.Point, rel),
		}
		m.writable = !mnt.ReadOnly && unix.Access(m.dir, unix.W_OK) == nil &&
			unix.Access(filepath.Join(m.dir, "cgroup.procs"), unix.W_OK) == nil
		return m, nil
	}
	return nil, fmt.Errorf("cgroup: own cgroup %s is under no cgroup2 mount in %s: %w", own, miFile, ErrNoCgroup2)
}

// within returns p relative to the mount's root when p lies under it.
func within(p, mountRoot string) (string, bool) {
	if mountRoot == "/" {
		return p, true
	}
	if p == mountRoot {
		return "/", true
	}
	if strings.HasPrefix(p, mountRoot+"/") {
		return p[len(mountRoot):], true
	}
	return "", false
}

// Mount returns the directory the cgroup2 hierarchy is mounted on.
func (m *Manager) Mount() string { return m.mount }

// Own returns the directory of the manager's own cgroup.
func (m *Manager) Own() string { return m.dir }

// Writable reports whether the manager may create cgroups and move
// processes; when false, the caller falls back to process groups.
func (m *Manager) Writable() bool { return m.writable }

// Available returns the controllers the manager's cgroup may hand to its
// children (its cgroup.controllers).
func (m *Manager) Available() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(m.dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: available controllers: %w", err)
	}
	return strings.Fields(string(b)), nil
}

// EnableControllers enables those of ctrls that are available for the
// units' cgroups and returns them; the others are left out, not an error.
// Unless the manager's cgroup is the hierarchy's root, which is exempt, its
// processes first move into the LeafName child.
func (m *Manager) EnableControllers(ctrls ...string) ([]string, error) {
	avail, err := m.Available()
	if err != nil {
		return nil, err
	}
	var want []string
	for _, c := range ctrls {
		for _, a := range avail {
			if c == a {
				want = append(want, c)
				break
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	// Only the root cgroup lacks cgroup.type.
	if _, err := os.Stat(filepath.Join(m.dir, "cgroup.type")); err == nil {
		if err := m.moveToLeaf(); err != nil {
			return nil, err
		}
	}
	var enabled []string
	var errs []error
	for _, c := range want {
		if err := writeExisting(filepath.Join(m.dir, "cgroup.subtree_control"), "+"+c); err != nil {
			errs = append(errs, fmt.Errorf("cgroup: enable %s in %s: %w", c, m.dir, err))
			continue
		}
		enabled = append(enabled, c)
	}
	return enabled, errors.Join(errs...)
}

// moveToLeaf empties the manager's cgroup into its LeafName child. Children
// forked meanwhile land in the old cgroup, hence the loop.
func (m *Manager) moveToLeaf() error {
	leaf := filepath.Join(m.dir, LeafName)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cgroup: create %s: %w", leaf, err)
	}
	for range 100 {
		pids, err := m.Procs(m.dir)
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			// A process that exited meanwhile is gone from the list anyway.
			if err := m.Attach(leaf, pid); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return fmt.Errorf("cgroup: %s keeps gaining processes", m.dir)
}

// Path returns the directory of a unit's cgroup without creating it.
func (m *Manager) Path(unit string) string { return filepath.Join(m.dir, unit) }

// Create makes the cgroup of a unit and returns its directory; an existing
// one is reused, as after a restart of the manager.
func (m *Manager) Create(unit string) (string, error) {
	if unit == "" || unit == "." || unit == ".." || unit == LeafName || strings.ContainsRune(unit, '/') {
		return "", fmt.Errorf("cgroup: bad unit name %q", unit)
	}
	p := m.Path(unit)
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("cgroup: create %s: %w", p, err)
	}
	return p, nil
}

// delegatedFiles are the control files a delegated cgroup's owner needs
// to build its own subtree, as systemd hands over.
var delegatedFiles = []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}

// Delegate gives the cgroup at path to uid and gid: the directory, so
// they may create children, and the control files that move processes
// and enable controllers for those children.
func (m *Manager) Delegate(path string, uid, gid int) error {
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("cgroup: delegate %s: %w", path, err)
	}
	for _, f := range delegatedFiles {
		if err := os.Lchown(filepath.Join(path, f), uid, gid); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup: delegate %s: %w", path, err)
		}
	}
	return nil
}

// Attach moves process pid (all its threads) into the cgroup at path.
func (m *Manager) Attach(path string, pid int) error {
	if err := writeExisting(filepath.Join(path, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("cgroup: move %d into %s: %w", pid, path, err)
	}
	return nil
}

// Max is the limit value written as "max" (no limit).
const Max = ^uint64(0)

// Limits are a unit's resource limits; a nil field is left as it is.
type Limits struct {
	MemoryMax *uint64 // memory.max in bytes, or Max
	CPUWeight *uint64 // cpu.weight, 1 to 10000
	TasksMax  *uint64 // pids.max, or Max
}

// SetLimits writes the set limits of l into the cgroup at path. A limit
// whose controller is not enabled for the cgroup fails with ErrNoController;
// the other limits are still written.
func (m *Manager) SetLimits(path string, l Limits) error {
	var errs []error
	set := func(ctrl, file string, v *uint64) {
		if v == nil {
			return
		}
		s := "max"
		if *v != Max {
			s = strconv.FormatUint(*v, 10)
		}
		err := writeExisting(filepath.Join(path, file), s)
		switch {
		case errors.Is(err, os.ErrNotExist):
			errs = append(errs, fmt.Errorf("cgroup: %s: %s=%s: %s %w (not in the parent's cgroup.subtree_control)",
				path, file, s, ctrl, ErrNoController))
		case err != nil:
			errs = append(errs, fmt.Errorf("cgroup: %s: %s=%s: %w", path, file, s, err))
		}
	}
	if w := l.CPUWeight; w != nil && (*w < 1 || *w > 10000) {
		errs = append(errs, fmt.Errorf("cgroup: %s: cpu.weight %d out of range 1-10000", path, *w))
	} else {
		set("cpu", "cpu.weight", w)
	}
	set("memory", "memory.max", l.MemoryMax)
	set("pids", "pids.max", l.TasksMax)
	return errors.Join(errs...)
}

// Procs returns the processes in the cgroup at path, not in its children.
func (m *Manager) Procs(path string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %s/cgroup.procs: bad pid %q", path, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Populated reports whether the cgroup at path or any child holds a
// process, from its cgroup.events.
func (m *Manager) Populated(path string) (bool, error) {
	file := filepath.Join(path, "cgroup.events")
	b, err := os.ReadFile(file)
	if err != nil {
		return false, fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, fmt.Errorf("cgroup: %s: no populated line", file)
}

// Kill sends sig to every process in the cgroup at path and its children.
// SIGKILL goes through cgroup.kill where the kernel has it (5.14+), which
// cannot miss a process forked meanwhile; otherwise every listed process is
// signalled, again and again until a round finds none not yet signalled.
func (m *Manager) Kill(path string, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		err := writeExisting(filepath.Join(path, "cgroup.kill"), "1")
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup: kill %s: %w", path, err)
		}
	}
	seen := make(map[int]bool)
	for range 100 {
		pids, err := m.allProcs(path)
		if err != nil {
			return err
		}
		fresh := 0
		for _, pid := range pids {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			fresh++
			if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("cgroup: kill %s: pid %d: %w", path, pid, err)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("cgroup: kill %s: processes keep appearing", path)
}

// allProcs lists the processes of the cgroup at path and its descendants.
func (m *Manager) allProcs(path string) ([]int, error) {
	var all []int
	err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p != path && errors.Is(err, os.ErrNotExist) {
				return nil // a child cgroup removed meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pids, err := m.Procs(p)
		if err != nil {
			if p != path && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		all = append(all, pids...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup: list %s: %w", path, err)
	}
	return all, nil
}

// Remove removes the cgroup at path and the child cgroups a service may
// have made in it. rmdir fails with EBUSY while a just-killed process is
// still leaving, so it is retried for a while. A missing cgroup is fine.
func (m *Manager) Remove(path string) error {
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cgroup: remove %s: %w", path, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := m.Remove(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	ts := unix.Timespec{Nsec: 10_000_000}
	for range 200 { // two seconds
		err = unix.Rmdir(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		_ = unix.Nanosleep(&ts, nil)
	}
	return fmt.Errorf("cgroup: remove %s: %w", path, err)
}

// Join moves the calling process into the cgroup at dir ("0" in
// cgroup.procs means the writer; cgroup2 moves all of its threads).
func Join(dir string) error {
	return writeExisting(filepath.Join(dir, "cgroup.procs"), "0")
}

// writeExisting writes s to a control file, which must exist: cgroupfs
// creates them, and a missing one means a missing controller or feature.
func writeExisting(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ParseProcCgroup returns the cgroup v2 path from the contents of
// /proc/PID/cgroup (the "0::/path" line), or ErrNoCgroup2.
func ParseProcCgroup(b []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("bad cgroup v2 path %q", p)
			}
			return filepath.Clean(p), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoCgroup2
}

// Mount is one cgroup2 mount from mountinfo.
type Mount struct {
	Point    string // where it is mounted
	Root     string // the cgroup shown at Point
	ReadOnly bool
}

// ParseMountinfo returns the cgroup2 mounts listed in the contents of
// /proc/PID/mountinfo, in order.
func ParseMountinfo(b []byte) ([]Mount, error) {
	var mounts []Mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+1 >= len(f) {
			return nil, fmt.Errorf("line %d: malformed", line)
		}
		if f[sep+1] != "cgroup2" {
			continue
		}
		ro := false
		for _, o := range strings.Split(f[5], ",") {
			ro = ro || o == "ro"
		}
		mounts = append(mounts, Mount{Point: unescape(f[4]), Root: unescape(f[3]), ReadOnly: ro})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return mounts, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
