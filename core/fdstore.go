package core

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fdStoreEnv is set by init: a socket to hand listening sockets to, so
// they outlive this process (see init's FDStoreEnv).
const fdStoreEnv = "SYSMASTER_FDSTORE_FD"

func takeFDStore() *os.File {
	v, ok := os.LookupEnv(fdStoreEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(fdStoreEnv)
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
	msg := name
	var oob []byte
	if len(fds) == 0 {
		msg = "-" + name
	} else {
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
