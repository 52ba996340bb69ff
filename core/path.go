package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// pathUnit is a path unit: it starts a unit when a path exists, changes
// or a directory fills, watched through inotify.
type pathUnit struct {
	*unit
	noKindState
	w *pathWatch // while active
}

type pathState uint8

const (
	pathDead pathState = iota
	pathWaiting
	pathRunning // the unit it started runs
	pathFailed
)

var pathStates = []stateInfo{pathDead: {"dead", Inactive}, pathWaiting: {"waiting", Active},
	pathRunning: {"running", Active}, pathFailed: {"failed", Failed}}

func (s pathState) String() string { return pathStates[s].name }
func (s pathState) active() State  { return pathStates[s].active }

func (u *pathUnit) typeName() string  { return "path" }
func (u *pathUnit) initial() subState { return pathDead }
func (u *pathUnit) parseSub(n string) (subState, bool) {
	return parseState[pathState](pathStates, n)
}

// target is the unit a path unit starts.
func (u *pathUnit) target() string { return u.cfg.PathUnit.Unit }

// edges: a path unit watches before its unit starts, and hears when it
// goes down.
func (u *pathUnit) edges(m *Manager, g *graph) {
	g.add(g.pathsOf, u.target(), u.name)
	g.add(g.after, u.target(), u.name)
}

func (u *pathUnit) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	return restoreSimple(u.unit, rec)
}

// pathSpec is one condition of a path unit.
type pathSpec struct {
	key  string // PathExists, PathExistsGlob, PathChanged, PathModified, DirectoryNotEmpty
	path string
}

func (u *pathUnit) specs() []pathSpec {
	c := u.cfg.PathUnit
	var out []pathSpec
	for _, l := range []struct {
		key   string
		paths []string
	}{{"PathExists", c.PathExists}, {"PathExistsGlob", c.PathExistsGlob}, {"PathChanged", c.PathChanged},
		{"PathModified", c.PathModified}, {"DirectoryNotEmpty", c.DirectoryNotEmpty}} {
		for _, p := range l.paths {
			out = append(out, pathSpec{l.key, filepath.Clean(p)})
		}
	}
	return out
}

// holds reports whether a level condition is true now.
func (s pathSpec) holds() bool {
	switch s.key {
	case "PathExists":
		_, err := os.Stat(s.path)
		return err == nil
	case "PathExistsGlob":
		matches, _ := filepath.Glob(s.path)
		return len(matches) > 0
	case "DirectoryNotEmpty":
		f, err := os.Open(s.path)
		if err != nil {
			return false
		}
		defer f.Close()
		names, _ := f.Readdirnames(1)
		return len(names) > 0
	}
	return false
}

// pathWatch is the inotify instance of an active path unit, watched in
// the manager's epoll and read on its loop.
type pathWatch struct {
	fd  int
	tok int32
	p   *poller
	wds map[int32]string // watch descriptor -> watched path
}

const (
	watchChanged  = unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_MOVED_FROM | unix.IN_MOVED_TO
	watchModified = watchChanged | unix.IN_MODIFY
)

func (u *pathUnit) start(m *Manager) {
	if err := m.watchPaths(u); err != nil {
		m.logf("%s: %v", u.name, err)
		u.result = resResources
		m.setState(u.unit, pathFailed)
		m.startEnded(u.unit, resultFailed)
		return
	}
	u.result = resSuccess
	m.setState(u.unit, pathWaiting)
	m.startEnded(u.unit, resultDone)
	m.checkPaths(u, nil)
}

func (u *pathUnit) stop(m *Manager) {
	u.unwatch()
	u.lastStop = m.now()
	m.setState(u.unit, pathDead)
	m.stopEnded(u.unit)
}

// resume watches again after a restart of the manager: what changed
// meanwhile is lost, what exists is seen.
func (u *pathUnit) resume(m *Manager) {
	if u.state != Active || u.cfg == nil {
		return
	}
	if err := m.watchPaths(u); err != nil {
		m.logf("%s: %v", u.name, err)
		u.state, u.sub, u.result = Failed, pathFailed, resResources
		return
	}
	m.checkPaths(u, nil)
}

func (u *pathUnit) unwatch() {
	if u.w != nil {
		u.w.p.unwatch(u.w.fd, u.w.tok)
		unix.Close(u.w.fd)
		u.w = nil
	}
}

// watchPaths sets up u's inotify instance and its reader.
func (m *Manager) watchPaths(u *pathUnit) error {
	c := u.cfg.PathUnit
	if c.MakeDirectory {
		mode := os.FileMode(0o755)
		if c.DirectoryMode != nil {
			mode = os.FileMode(*c.DirectoryMode)
		}
		for _, d := range c.DirectoryNotEmpty {
			if err := os.MkdirAll(d, mode); err != nil {
				return err
			}
		}
	}
	p, err := m.poll()
	if err != nil {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("inotify_init1", err)
	}
	w := &pathWatch{fd: fd, p: p, wds: map[int32]string{}}
	u.unwatch()
	w.add(u.specs())
	w.tok, err = p.watch(fd, func() {
		if u.w != w {
			return
		}
		var evs []pathEvent
		buf := make([]byte, 16<<10)
		for {
			n, err := unix.Read(w.fd, buf)
			if err != nil || n <= 0 {
				break
			}
			evs = append(evs, w.parse(buf[:n])...)
		}
		m.checkPaths(u, evs)
		if u.w == w {
			_ = p.rearm(w.fd, w.tok)
		}
	})
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("watching inotify: %w", err)
	}
	u.w = w
	return nil
}

// add watches each path, or, while it does not exist, the nearest
// directory above it that does: its creation shows there. Adding a watch
// again only refreshes it. It returns the paths watched for the first
// time.
func (w *pathWatch) add(specs []pathSpec) map[string]bool {
	had := map[string]bool{}
	for _, p := range w.wds {
		had[p] = true
	}
	added := map[string]bool{}
	for _, s := range specs {
		p := s.path
		if s.key == "PathExistsGlob" {
			p = filepath.Dir(p)
			for strings.ContainsAny(p, "*?[") {
				p = filepath.Dir(p)
			}
		}
		mask := uint32(watchChanged)
		if s.key == "PathModified" {
			mask = watchModified
		}
		for {
			wd, err := unix.InotifyAddWatch(w.fd, p, mask)
			if err == nil {
				w.wds[int32(wd)] = p
				if !had[p] {
					added[p] = true
				}
				if p != s.path || s.key == "DirectoryNotEmpty" {
					break
				}
				// The path itself is watched; its directory shows it
				// being removed or replaced.
				p, mask = filepath.Dir(p), watchChanged
				continue
			}
			if p == "/" {
				break
			}
			p = filepath.Dir(p)
		}
	}
	return added
}

// pathEvent is one inotify event: the path it is about and what happened.
type pathEvent struct {
	path string
	mask uint32
}

func (w *pathWatch) parse(b []byte) []pathEvent {
	var out []pathEvent
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if len(b) < unix.SizeofInotifyEvent+n {
			break
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+n], "\x00"))
		b = b[unix.SizeofInotifyEvent+n:]
		dir, ok := w.wds[wd]
		if !ok {
			continue
		}
		if mask&unix.IN_IGNORED != 0 {
			delete(w.wds, wd)
			continue
		}
		p := dir
		if name != "" {
			p = filepath.Join(dir, name)
		}
		out = append(out, pathEvent{p, mask})
	}
	return out
}

// checkPaths starts u's unit when an event changed a watched path or a
// level condition holds; watches follow paths that appeared.
func (m *Manager) checkPaths(u *pathUnit, evs []pathEvent) {
	if u.state != Active {
		return
	}
	specs := u.specs()
	var added map[string]bool
	if len(evs) > 0 && u.w != nil {
		added = u.w.add(specs)
	}
	why := ""
	for _, s := range specs {
		switch s.key {
		case "PathChanged", "PathModified":
			if added[s.path] {
				// It appeared before its directory was watched: its
				// creation is the change.
				why = s.key + "=" + s.path
			}
			for _, ev := range evs {
				mask := uint32(watchChanged)
				if s.key == "PathModified" {
					mask = watchModified
				}
				if ev.path == s.path && ev.mask&mask != 0 {
					why = s.key + "=" + s.path
				}
			}
		default:
			if s.holds() {
				why = s.key + "=" + s.path
			}
		}
		if why != "" {
			break
		}
	}
	if why == "" {
		return
	}
	target := m.units[u.target()]
	if target == nil || target.cfg == nil {
		m.logf("%s: unit %s not found", u.name, u.target())
		return
	}
	if target.state == Active || target.state == Activating || target.job != nil {
		return // running from an earlier trigger
	}
	m.logf("%s: %s; starting %s", u.name, why, target.name)
	m.setState(u.unit, pathRunning)
	if err := m.startTransaction(target.name); err != nil {
		m.logf("%s: %v", u.name, err)
	}
}

// pathTargetDown puts the path units of name back to waiting once it has
// gone down, and looks at their conditions again.
func (m *Manager) pathTargetDown(name string) {
	for _, n := range m.g.pathsOf[name] {
		u := m.units[n]
		if u == nil {
			continue
		}
		if p, ok := u.k.(*pathUnit); ok && p.state == Active {
			m.setState(p.unit, pathWaiting)
			m.checkPaths(p, nil)
		}
	}
}
