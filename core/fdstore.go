package core

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	if err := m.tellInitMsg(proto.StoreMessage(name, len(fds) == 0), fds); err != nil {
		m.logf("handing %s to init: %v", name, err)
	}
}

// tellInitMsg sends init one message on the fd store pair; the pair is
// given up when that fails.
func (m *Manager) tellInitMsg(msg string, fds []int) error {
	if m.fdstore == nil {
		return errors.New("no line to init")
	}
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
		m.fdstore.Close()
		m.fdstore = nil
	}
	return err
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

// switchRoot answers sctl switch-root: a request that cannot succeed is
// refused with the reason before anything is stopped; otherwise init is
// told where to go and every unit stops, as for a shutdown. Init makes the
// switch once this process has exited.
func (m *Manager) switchRoot(root, init string) Response {
	if m.cfg.User {
		return Response{Code: 1, Err: "switch-root: only the system manager can switch the root"}
	}
	if m.shuttingDown {
		return Response{Code: 1, Err: "switch-root: the system is shutting down"}
	}
	if root == "" {
		return Response{Code: 1, Err: "switch-root: no new root given (sctl switch-root PATH [INIT])"}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return Response{Code: 1, Err: fmt.Sprintf("switch-root: %v", err)}
	}
	init, err = proto.CheckSwitchRoot(root, init, mi)
	if err != nil {
		return Response{Code: 1, Err: "switch-root: " + err.Error()}
	}
	root = filepath.Clean(root)
	if err := m.tellInitMsg(proto.SwitchRootMessage(root, init), nil); err != nil {
		return Response{Code: 1, Err: fmt.Sprintf("switch-root: telling init: %v", err)}
	}
	m.shutdown("switch-root")
	return Response{Out: fmt.Sprintf("switching root to %s once every unit has stopped; executing %s there\n", root, init)}
}
