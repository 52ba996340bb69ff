package uevent

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultRcvBuf is the receive buffer asked for: coldplug makes the kernel
// send an event per device in a burst, and an overrun loses events. The
// kernel only reserves memory as messages queue up.
const DefaultRcvBuf = 128 << 20

// More reasons a message is dropped, besides ErrMalformed and ErrLibudev.
var (
	// ErrNotKernel marks a datagram sent by a process, not the kernel.
	ErrNotKernel = errors.New("uevent: message not from the kernel")
	// ErrOverrun reports that the receive buffer overflowed and events were
	// lost.
	ErrOverrun = errors.New("uevent: receive buffer overrun, events lost")
)

// Conn is a netlink socket subscribed to the kernel's uevent broadcasts.
// Wait may run concurrently with Drain or Receive; Drain and Receive must
// not run concurrently with each other.
type Conn struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte
}

// Listen opens a socket bound to the kernel's uevent multicast group, with
// a receive buffer of rcvbuf bytes (0: DefaultRcvBuf). Receiving kernel
// events needs no privilege.
func Listen(rcvbuf int) (*Conn, error) {
	if rcvbuf <= 0 {
		rcvbuf = DefaultRcvBuf
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent: netlink socket: %w", err)
	}
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is silently capped at
	// net.core.rmem_max, which is the best an unprivileged process gets.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("uevent: SO_RCVBUF: %w", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: bind to the kernel's uevent group: %w", err)
	}
	// A non-blocking descriptor lets the runtime poller park Wait and
	// Receive, and Close wake them.
	f := os.NewFile(uintptr(fd), "uevent-netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uevent: %w", err)
	}
	return &Conn{f: f, rc: rc, buf: make([]byte, MaxSize)}, nil
}

// Close closes the socket, waking Wait and Receive with an error.
func (c *Conn) Close() error { return c.f.Close() }

// PortID returns the socket's netlink port id, which processes can send
// to.
func (c *Conn) PortID() (uint32, error) {
	var id uint32
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		if sa, err = unix.Getsockname(int(fd)); err == nil {
			if nl, ok := sa.(*unix.SockaddrNetlink); ok {
				id = nl.Pid
			}
		}
	})
	if cerr != nil {
		return 0, fmt.Errorf("uevent: %w", cerr)
	}
	if err != nil {
		return 0, fmt.Errorf("uevent: getsockname: %w", err)
	}
	return id, nil
}

// Wait blocks until a message is pending, without reading it. It fails
// once the Conn is closed.
func (c *Conn) Wait() error {
	err := c.rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return err == nil && n > 0
	})
	if err != nil {
		return fmt.Errorf("uevent: wait: %w", err)
	}
	return nil
}

// Drain hands every event pending now to fn, without blocking, and every
// dropped message's reason (wrapping ErrMalformed, ErrLibudev,
// ErrNotKernel or ErrOverrun) to bad. It fails only when the socket does.
func (c *Conn) Drain(fn func(*Event), bad func(error)) error {
	var ferr error
	err := c.rc.Control(func(fd uintptr) {
		for {
			ev, again, err := c.recv(int(fd))
			switch {
			case again:
				return
			case ev != nil:
				fn(ev)
			case isDropped(err):
				bad(err)
			default:
				ferr = err
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("uevent: %w", err)
	}
	return ferr
}

// Receive blocks until the next message arrives and decodes it. An error
// wrapping ErrMalformed, ErrLibudev, ErrNotKernel or ErrOverrun is about
// one message; the caller can go on receiving.
func (c *Conn) Receive() (*Event, error) {
	var ev *Event
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		var again bool
		ev, again, rerr = c.recv(int(fd))
		return !again
	})
	if err != nil {
		return nil, fmt.Errorf("uevent: receive: %w", err)
	}
	return ev, rerr
}

// recv reads one datagram without blocking; again reports that none was
// pending.
func (c *Conn) recv(fd int) (ev *Event, again bool, err error) {
	for {
		n, _, flags, from, err := unix.Recvmsg(fd, c.buf, nil, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, true, nil
		case err == unix.ENOBUFS:
			return nil, false, ErrOverrun
		case err != nil:
			return nil, false, fmt.Errorf("uevent: recvmsg: %w", err)
		}
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			return nil, false, ErrNotKernel
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, false, fmt.Errorf("%w: more than %d bytes", ErrMalformed, MaxSize)
		}
		ev, err := Parse(c.buf[:n])
		return ev, false, err
	}
}

func isDropped(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrLibudev) ||
		errors.Is(err, ErrNotKernel) || errors.Is(err, ErrOverrun)
}
