package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxFDs is the kernel's SCM_MAX_FD: no datagram can carry more.
const maxFDs = 253

// Server is the manager's notification socket.
type Server struct {
	conn    *net.UnixConn
	path    string
	file    os.FileInfo // the socket file we bound, nil when abstract
	dropped atomic.Uint64
}

// Listen binds a datagram socket at path, or in the abstract namespace
// when path starts with "@". A stale socket file at path is replaced.
// SO_PASSCRED is set before bind so that no datagram can arrive without
// the sender's credentials.
func Listen(path string) (*Server, error) {
	if path == "" || path == "@" {
		return nil, errors.New("notify: listen: empty socket path")
	}
	abstract := strings.HasPrefix(path, "@")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("notify: listen %s: socket: %w", path, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("notify: listen %s: SO_PASSCRED: %w", path, err)
	}
	if !abstract {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			_ = os.Remove(path)
		}
	}
	// x/sys maps a leading '@' to the abstract namespace.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("notify: listen %s: bind: %w", path, err)
	}
	var fi os.FileInfo
	if !abstract {
		// Services may run as any user; who may notify is decided per
		// message from its credentials.
		err := os.Chmod(path, 0o666)
		if err == nil {
			fi, err = os.Lstat(path)
		}
		if err != nil {
			unix.Close(fd)
			_ = os.Remove(path)
			return nil, fmt.Errorf("notify: listen %s: %w", path, err)
		}
	}
	f := os.NewFile(uintptr(fd), "notify:"+path)
	pc, err := net.FilePacketConn(f)
	f.Close() // FilePacketConn holds its own duplicate
	if err != nil {
		if !abstract {
			_ = os.Remove(path)
		}
		return nil, fmt.Errorf("notify: listen %s: %w", path, err)
	}
	conn, ok := pc.(*net.UnixConn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("notify: listen %s: unexpected connection type %T", path, pc)
	}
	return &Server{conn: conn, path: path, file: fi}, nil
}

// Path is the value for NOTIFY_SOCKET.
func (s *Server) Path() string { return s.path }

// Dropped counts datagrams that were discarded as oversized, malformed or
// lacking credentials.
func (s *Server) Dropped() uint64 { return s.dropped.Load() }

// Close stops Run and removes the socket file, unless a newer server has
// already bound the path again.
func (s *Server) Close() error {
	err := s.conn.Close()
	if fi, serr := os.Lstat(s.path); s.file != nil && serr == nil && os.SameFile(fi, s.file) {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("notify: close %s: %w", s.path, err)
	}
	return nil
}

// Run reads datagrams until Close and hands each valid one to handle, in
// order, on the calling goroutine. A datagram that is dropped is reported
// to drop (which may be nil) and counted; it never stops the loop.
//
// handle owns the Message. To keep passed descriptors beyond the call it
// must move them out by setting m.FDs to nil; whatever is left in m.FDs
// when handle returns is closed, so descriptors cannot leak into the
// manager by accident.
//
// Run returns nil after Close, or the error that made reading impossible.
func (s *Server) Run(handle func(m *Message), drop func(error)) error {
	buf := make([]byte, MaxMessage)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*maxFDs))
	for {
		n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("notify: read %s: %w", s.path, err)
		}
		m, err := decode(buf[:n], oob[:oobn], flags)
		if err != nil {
			s.dropped.Add(1)
			if drop != nil {
				drop(err)
			}
			continue
		}
		handle(&m)
		closeAll(m.FDs)
	}
}

// decode builds a Message from one datagram; on error every passed
// descriptor has been closed.
func decode(data, oob []byte, flags int) (Message, error) {
	cred, fds, cerr := control(oob)
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("notify-fd:%d", fd))
	}
	fail := func(err error) (Message, error) {
		closeAll(files)
		if cred != nil {
			err = fmt.Errorf("%w (from pid %d)", err, cred.Pid)
		}
		return Message{}, err
	}
	switch {
	case flags&unix.MSG_TRUNC != 0:
		return fail(fmt.Errorf("notify: dropped datagram larger than %d bytes", MaxMessage))
	case flags&unix.MSG_CTRUNC != 0:
		return fail(errors.New("notify: dropped datagram with truncated control data"))
	case cerr != nil:
		return fail(cerr)
	case cred == nil:
		return fail(errors.New("notify: dropped datagram without credentials"))
	}
	m, err := Parse(data)
	if err != nil {
		return fail(fmt.Errorf("notify: dropped datagram: %w", err))
	}
	m.PID, m.UID, m.GID = int(cred.Pid), cred.Uid, cred.Gid
	if len(files) > 0 {
		m.FDs = files
	}
	return m, nil
}

func control(oob []byte) (*unix.Ucred, []int, error) {
	if len(oob) == 0 {
		return nil, nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, nil, fmt.Errorf("notify: control data: %w", err)
	}
	var cred *unix.Ucred
	var fds []int
	var firstErr error
	for i := range msgs {
		h := msgs[i].Header
		if h.Level != unix.SOL_SOCKET {
			continue
		}
		switch h.Type {
		case unix.SCM_CREDENTIALS:
			c, err := unix.ParseUnixCredentials(&msgs[i])
			if err != nil {
				firstErr = errors.Join(firstErr, fmt.Errorf("notify: credentials: %w", err))
				continue
			}
			cred = c
		case unix.SCM_RIGHTS:
			r, err := unix.ParseUnixRights(&msgs[i])
			if err != nil {
				firstErr = errors.Join(firstErr, fmt.Errorf("notify: passed fds: %w", err))
				continue
			}
			fds = append(fds, r...)
		}
	}
	return cred, fds, firstErr
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// File returns a duplicate of the server's socket, to hand to a new
// manager process across exec (its close-on-exec flag is the caller's
// business).
func (s *Server) File() (*os.File, error) {
	f, err := s.conn.File()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return f, nil
}

// FromFile serves on a socket inherited from a previous manager process,
// bound at path. Close leaves the socket file in place: it belongs to
// whoever bound it.
func FromFile(f *os.File, path string) (*Server, error) {
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("notify: inherit %s: %w", path, err)
	}
	conn, ok := pc.(*net.UnixConn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("notify: inherit %s: unexpected connection type %T", path, pc)
	}
	var fi os.FileInfo
	if !strings.HasPrefix(path, "@") {
		fi, _ = os.Lstat(path)
	}
	return &Server{conn: conn, path: path, file: fi}, nil
}
