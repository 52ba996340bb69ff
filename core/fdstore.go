package core

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// takeFDStore picks up the socket init passed to hand listening sockets
// to, so they outlive this process.
func takeFDStore() *os.File {
	v, ok := os.LookupEnv(proto.EnvFDStore)
	if !ok {
		return nil
	}
	os.Unsetenv(proto.EnvFDStore)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "fdstore")
}

// storeFDs hands files to init under name; no files drops the entry.
func (m *Manager) storeFDs(name string, files ...*os.File) {
	if m.fdstore == nil {
		return
	}
	var fds []int
	for _, f := range files {
		// Not f.Fd(): that makes the descriptor blocking, and the flag is
		// shared with the listener it was duplicated from.
		sc, err := f.SyscallConn()
		if err != nil {
			continue
		}
		_ = sc.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
	}
	msg := proto.StoreMessage(name, len(fds) == 0)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	sc, err := m.fdstore.SyscallConn()
	if err == nil {
		cerr := sc.Control(func(fd uintptr) { err = unix.Sendmsg(int(fd), []byte(msg), oob, nil, 0) })
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		m.logf("handing %s to init: %v", name, err)
		m.fdstore.Close()
		m.fdstore = nil
	}
}

// takeReaped reads the exit statuses init collected for us while no
// manager ran.
func takeReaped() map[int]unix.WaitStatus {
	v, ok := os.LookupEnv(proto.EnvReaped)
	os.Unsetenv(proto.EnvReaped)
	if !ok {
		return map[int]unix.WaitStatus{}
	}
	return proto.ParseReaped(v)
}

// listenInit reads init's reports of processes it reaped for us (our
// adopted services end as init's children) until the pair closes.
func (m *Manager) listenInit() {
	if m.fdstore == nil {
		return
	}
	sc, err := m.fdstore.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 128)
	for {
		var n int
		var rerr error
		if err := sc.Read(func(fd uintptr) bool {
			n, _, _, _, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
			return rerr != unix.EAGAIN
		}); err != nil || rerr != nil || n == 0 {
			return
		}
		pid, ws, ok := proto.ParseReapedMessage(string(buf[:n]))
		if !ok {
			continue
		}
		m.post(func() { m.orphanReaped(pid, ws) })
	}
}

// orphanReaped handles the exit of an adopted main process with the
// status init saw.
func (m *Manager) orphanReaped(pid int, ws unix.WaitStatus) {
	if u := m.pids[pid]; u != nil && u.mainPID == pid && u.adopted {
		m.mainExited(u, ws, true)
	}
}
