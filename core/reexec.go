package core

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"

	"github.com/sysmaster-go/sysmaster/core/notify"
)

// inherited are the descriptors a previous manager process left us.
type inherited struct {
	control *os.File
	notify  *os.File
	sockets map[string][]*os.File
}

// takeInherited reads and clears the descriptors a previous manager
// process handed us (proto.EnvReexecFDs).
func takeInherited() (*inherited, error) {
	v, ok := os.LookupEnv(proto.EnvReexecFDs)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(proto.EnvReexecFDs)
	all, err := proto.ParseFDs(v)
	if err != nil {
		return nil, err
	}
	in := &inherited{sockets: map[string][]*os.File{}}
	for name, fds := range all {
		var files []*os.File
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), name))
		}
		switch name {
		case "control":
			in.control = files[0]
		case "notify":
			in.notify = files[0]
		default:
			in.sockets[name] = files
		}
	}
	return in, nil
}

// listenControl opens the control socket, or takes the inherited one.
func (m *Manager) listenControl() (*net.UnixListener, error) {
	if m.inh != nil && m.inh.control != nil {
		l, err := net.FileListener(m.inh.control)
		m.inh.control.Close()
		if err == nil {
			if ul, ok := l.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false)
				return ul, nil
			}
			l.Close()
		}
		m.logf("inherited control socket unusable (%v); opening a new one", err)
	}
	return m.listen()
}

func (m *Manager) listenNotify(path string) (*notify.Server, error) {
	if m.inh != nil && m.inh.notify != nil {
		s, err := notify.FromFile(m.inh.notify, path)
		m.inh.notify.Close()
		if err == nil {
			return s, nil
		}
		m.logf("inherited notify socket unusable (%v); opening a new one", err)
	}
	return notify.Listen(path)
}

// execSelf replaces the manager process with its binary (possibly a new
// one), keeping the pid, the children and every listening socket: the
// control socket, the notify socket and those of socket units, and the
// services' capture pipes. It returns
// only on failure.
func (m *Manager) execSelf(ln *net.UnixListener) error {
	items := map[string][]int{}
	pass := func(name string, files ...*os.File) {
		var fds []int
		for _, f := range files {
			// Not f.Fd(): that would make the shared description blocking
			// for us too, should the exec fail.
			sc, err := f.SyscallConn()
			if err != nil {
				m.logf("reexec: keep %s: %v", name, err)
				return
			}
			var fd int
			_ = sc.Control(func(u uintptr) { fd = int(u) })
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				m.logf("reexec: keep %s: %v", name, err)
				return
			}
			fds = append(fds, fd)
		}
		if len(fds) > 0 {
			items[name] = fds
		}
	}
	if f, err := ln.File(); err == nil {
		pass("control", f)
	}
	if m.notify != nil {
		if f, err := m.notify.File(); err == nil {
			pass("notify", f)
		}
	}
	for _, n := range sortedNames(m.units) {
		switch u := m.units[n].k.(type) {
		case *socket:
			if u.sock != nil {
				pass(n, u.sock.files...)
			}
		case *service:
			// The services write on while the new binary starts.
			pass(n, u.logPipes...)
		}
	}
	m.flushState()
	env := append(os.Environ(), proto.EnvReexecFDs+"="+proto.FormatFDs(items))
	// The new binary keeps talking to init's fd store.
	if m.fdstore != nil {
		fd := m.fdstore.Fd()
		if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err == nil {
			env = append(env, proto.EnvFDStore+"="+strconv.Itoa(int(fd)))
		}
	}
	m.logf("re-executing %s", m.self)
	err := unix.Exec(m.self, os.Args, env)
	return fmt.Errorf("exec %s: %w", m.self, err)
}
