package core

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// poller is the manager's one epoll instance. Listening sockets, the
// pidfds of adopted processes and the inotify instances of path units
// report readiness through it; one goroutine waits on it and hands each
// ready descriptor's handler to the manager's loop as an event. Watches
// are one-shot: a handler that wants more arms its descriptor again.
type poller struct {
	epfd     int
	mu       sync.Mutex
	handlers map[int32]func() // by watch token
	next     int32
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return &poller{epfd: fd, handlers: map[int32]func(){}}, nil
}

// watch reports fd's next readiness by running f on the loop; the token
// names the watch for rearm and unwatch.
func (p *poller) watch(fd int, f func()) (int32, error) {
	p.mu.Lock()
	p.next++
	tok := p.next
	p.handlers[tok] = f
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: tok}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.handlers, tok)
		p.mu.Unlock()
		return 0, err
	}
	return tok, nil
}

// rearm asks for fd's next readiness again.
func (p *poller) rearm(fd int, tok int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: tok}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
}

// unwatch forgets fd; call it before fd is closed.
func (p *poller) unwatch(fd int, tok int32) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	p.mu.Lock()
	delete(p.handlers, tok)
	p.mu.Unlock()
}

// run waits for readiness until the epoll is closed, posting handlers.
func (p *poller) run(post func(func())) {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			f := p.handlers[ev.Fd]
			p.mu.Unlock()
			if f != nil {
				post(f)
			}
		}
	}
}

// poll returns the manager's poller, started on first use.
func (m *Manager) poll() (*poller, error) {
	if m.poller == nil {
		p, err := newPoller()
		if err != nil {
			return nil, err
		}
		m.poller = p
		go p.run(m.post)
	}
	return m.poller, nil
}
