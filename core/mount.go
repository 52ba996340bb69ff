package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlags are the options that are mount(2) flags; the rest go to the
// filesystem as data.
var mountFlags = map[string]struct {
	set   bool
	flags uintptr
}{
	"ro": {true, unix.MS_RDONLY}, "rw": {false, unix.MS_RDONLY},
	"nosuid": {true, unix.MS_NOSUID}, "suid": {false, unix.MS_NOSUID},
	"nodev": {true, unix.MS_NODEV}, "dev": {false, unix.MS_NODEV},
	"noexec": {true, unix.MS_NOEXEC}, "exec": {false, unix.MS_NOEXEC},
	"sync": {true, unix.MS_SYNCHRONOUS}, "async": {false, unix.MS_SYNCHRONOUS},
	"noatime": {true, unix.MS_NOATIME}, "atime": {false, unix.MS_NOATIME},
	"nodiratime": {true, unix.MS_NODIRATIME}, "relatime": {true, unix.MS_RELATIME},
	"strictatime": {true, unix.MS_STRICTATIME}, "bind": {true, unix.MS_BIND},
	"rbind": {true, unix.MS_BIND | unix.MS_REC}, "remount": {true, unix.MS_REMOUNT},
}

// parseMountOptions splits Options= into flags and filesystem data;
// options for userspace helpers (nofail, noauto, x-…, defaults) are dropped.
func parseMountOptions(opts string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "" || o == "defaults" || o == "auto" || o == "noauto" || o == "nofail" || o == "_netdev" || strings.HasPrefix(o, "x-"):
		default:
			if f, ok := mountFlags[o]; ok {
				if f.set {
					flags |= f.flags
				} else {
					flags &^= f.flags
				}
				continue
			}
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// isMountPoint reports whether where is mounted, from /proc/self/mountinfo.
func isMountPoint(where string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) > 4 && unescapeMountinfo(f[4]) == where {
			return true
		}
	}
	return false
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// mount is a file system mounted at a path (Where=). mount(2) and
// umount(2) can block (a slow device, a network file system), so they run
// off the manager's loop, bounded by TimeoutSec=.
type mount struct {
	*unit
	noKindState
	op      int // counts mount and unmount calls, so a late answer is ignored
	timeout timerHandle
}

type mountState uint8

const (
	mountDead mountState = iota
	mountMounting
	mountMounted
	mountUnmounting
	mountFailed
)

var mountStates = []stateInfo{mountDead: {"dead", Inactive}, mountMounting: {"mounting", Activating},
	mountMounted: {"mounted", Active}, mountUnmounting: {"unmounting", Deactivating}, mountFailed: {"failed", Failed}}

func (s mountState) String() string { return mountStates[s].name }
func (s mountState) active() State  { return mountStates[s].active }

func (u *mount) typeName() string  { return "mount" }
func (u *mount) initial() subState { return mountDead }
func (u *mount) parseSub(n string) (subState, bool) {
	return parseState[mountState](mountStates, n)
}

// isolated: isolate leaves file systems mounted.
func (u *mount) isolated() bool { return false }

func (u *mount) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	return restoreSimple(u.unit, rec)
}

func (u *mount) start(m *Manager) {
	c := u.cfg.Mount
	if isMountPoint(c.Where) {
		m.setState(u.unit, mountMounted)
		m.startEnded(u.unit, resultDone)
		return
	}
	mode := os.FileMode(0o755)
	if c.DirectoryMode != nil {
		mode = os.FileMode(*c.DirectoryMode)
	}
	if err := os.MkdirAll(c.Where, mode); err != nil {
		u.failed(m, err)
		return
	}
	flags, data := parseMountOptions(c.Options)
	typ := c.Type
	if typ == "" && flags&unix.MS_BIND == 0 {
		typ = "auto"
	}
	m.setState(u.unit, mountMounting)
	u.call(m, func() error { return m.procs.mount(c.What, c.Where, typ, flags, data) }, func(err error) {
		if err != nil {
			u.failed(m, err)
			return
		}
		m.setState(u.unit, mountMounted)
		m.startEnded(u.unit, resultDone)
	})
}

// errMountTimeout is a mount or unmount that TimeoutSec= cut short.
var errMountTimeout = errors.New("no answer within TimeoutSec")

// call runs the system call f on a goroutine of its own and done on the
// loop with its error, or with a timeout error after TimeoutSec=; a call
// that never returns leaves only its goroutine behind.
func (u *mount) call(m *Manager, f func() error, done func(error)) {
	u.op++
	op := u.op
	d := u.cfg.Mount.TimeoutSec.D()
	finish := func(err error) {
		if u.op != op {
			return
		}
		u.op++
		if u.timeout != nil {
			u.timeout.Stop()
		}
		done(err)
	}
	if d > 0 {
		u.timeout = m.after(d, func() { finish(fmt.Errorf("%w (%s)", errMountTimeout, d)) })
	}
	go func() {
		err := f()
		m.post(func() { finish(err) })
	}()
}

func (u *mount) failed(m *Manager, err error) {
	c := u.cfg.Mount
	m.logf("%s: mount %s on %s (%s): %v", u.name, c.What, c.Where, c.Type, err)
	u.result = resExitCode
	if errors.Is(err, errMountTimeout) {
		u.result = resTimeout
	}
	m.setState(u.unit, mountFailed)
	m.startEnded(u.unit, resultFailed)
}

func (u *mount) stop(m *Manager) {
	where := u.cfg.Mount.Where
	down := func() {
		u.lastStop = m.now()
		m.setState(u.unit, mountDead)
		m.stopEnded(u.unit)
	}
	if !isMountPoint(where) {
		down()
		return
	}
	m.setState(u.unit, mountUnmounting)
	u.call(m, func() error { return m.procs.unmount(where, 0) }, func(err error) {
		if err != nil {
			m.logf("%s: unmount %s: %v; detaching it", u.name, where, err)
			_ = m.procs.unmount(where, unix.MNT_DETACH)
		}
		down()
	})
}
