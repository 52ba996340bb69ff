package notify

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// sendTimeout bounds how long a sender waits on a manager whose socket
// queue is full, so a stuck manager cannot hang its services forever.
const sendTimeout = 5 * time.Second

// Send delivers state (newline-separated KEY=VALUE lines, as for
// sd_notify) to the socket at socketPath; a leading "@" names an abstract
// socket.
func Send(socketPath, state string) error {
	return SendFiles(socketPath, state)
}

// SendFiles is Send with descriptors passed along, as for FDSTORE=1.
// The files stay open in the caller.
func SendFiles(socketPath, state string, files ...*os.File) error {
	if socketPath == "" {
		return errors.New("notify: send: empty socket path")
	}
	if len(files) > maxFDs {
		return fmt.Errorf("notify: send %s: %d files exceed the limit of %d", socketPath, len(files), maxFDs)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			// Control, unlike Fd, leaves the file's blocking mode alone.
			sc, err := f.SyscallConn()
			if err != nil {
				return fmt.Errorf("notify: send %s: %w", socketPath, err)
			}
			if err := sc.Control(func(fd uintptr) { fds[i] = int(fd) }); err != nil {
				return fmt.Errorf("notify: send %s: %w", socketPath, err)
			}
		}
		oob = unix.UnixRights(fds...)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("notify: send %s: socket: %w", socketPath, err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(sendTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("notify: send %s: SO_SNDTIMEO: %w", socketPath, err)
	}
	// x/sys maps a leading '@' to the abstract namespace.
	for {
		// A send timeout makes the kernel return EINTR even for SA_RESTART
		// handlers, and the Go runtime signals its threads routinely.
		err = unix.Sendmsg(fd, []byte(state), oob, &unix.SockaddrUnix{Name: socketPath}, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(files)
	if err != nil {
		return fmt.Errorf("notify: send %s: %w", socketPath, err)
	}
	return nil
}

// Notify sends state to $NOTIFY_SOCKET. Like sd_notify it reports false
// without error when the variable is unset, so a program works the same
// whether or not a manager is listening.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if err := Send(path, state); err != nil {
		return false, err
	}
	return true, nil
}

// SendAndWait sends state with BARRIER=1 and waits until the manager has
// handled it (it closes the passed pipe end then), or timeout passes. A
// short-lived sender, like a shell script's notify, stays alive while the
// manager checks which service it belongs to.
func SendAndWait(socketPath, state string, timeout time.Duration) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("notify: barrier: %w", err)
	}
	defer r.Close()
	err = SendFiles(socketPath, state+"\nBARRIER=1", w)
	w.Close()
	if err != nil {
		return err
	}
	if err := r.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		// Pipes without deadline support: don't wait.
		return nil
	}
	var b [1]byte
	if _, err := r.Read(b[:]); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("notify: waiting for the manager: %w", err)
	}
	return nil
}
