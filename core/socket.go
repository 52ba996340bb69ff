package core

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/core/ipsock"
	"github.com/sysmaster-go/sysmaster/units"
)

// socket is a socket unit: listening sockets whose first client starts
// a service.
type socket struct {
	*unit
	noKindState
	sock *listeners
}

type socketSub uint8

const (
	socketDead socketSub = iota
	socketListening
	socketFailed
)

var socketStates = []stateInfo{socketDead: {"dead", Inactive}, socketListening: {"listening", Active}, socketFailed: {"failed", Failed}}

func (s socketSub) String() string { return socketStates[s].name }
func (s socketSub) active() State  { return socketStates[s].active }

func (u *socket) typeName() string  { return "socket" }
func (u *socket) initial() subState { return socketDead }
func (u *socket) parseSub(n string) (subState, bool) {
	return parseState[socketSub](socketStates, n)
}

// edges: a socket listens before its service starts.
func (u *socket) edges(m *Manager, g *graph) {
	svc := serviceOf(u.unit)
	g.add(g.socketsOf, svc, u.name)
	g.add(g.after, svc, u.name)
}

func (u *socket) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	return restoreSimple(u.unit, rec)
}

// listeners are a socket unit's listening sockets. The manager keeps them
// open while the service runs, so a restarted service gets the same ones
// and clients never see "connection refused".
type listeners struct {
	files []*os.File
	names []string
	paths []string // filesystem sockets to remove on stop
	// The descriptors are watched in the manager's epoll while no service
	// runs for them.
	fds   []int
	toks  []int32
	armed bool
}

// serviceOf is the service a socket unit activates.
func serviceOf(u *unit) string {
	if s := u.cfg.Socket.Service; s != "" {
		return s
	}
	return u.name[:len(u.name)-len(".socket")] + ".service"
}

// socketsFor lists the active socket units that activate service svc.
func (m *Manager) socketsFor(svc string) []*socket {
	var out []*socket
	for _, n := range m.g.socketsOf[svc] {
		if u := m.units[n]; u != nil {
			if s, ok := u.k.(*socket); ok && s.sock != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

func (m *Manager) socketFiles(u *service) []*os.File {
	var out []*os.File
	for _, s := range m.socketsFor(u.name) {
		out = append(out, s.sock.files...)
	}
	return out
}

func (m *Manager) socketNames(u *service) []string {
	var out []string
	for _, s := range m.socketsFor(u.name) {
		out = append(out, s.sock.names...)
	}
	return out
}

func (u *socket) start(m *Manager) {
	st, err := openSockets(u.cfg)
	if err != nil {
		m.logf("%s: %v", u.name, err)
		u.result = resResources
		m.setState(u.unit, socketFailed)
		m.startEnded(u.unit, resultFailed)
		return
	}
	u.sock = st
	m.storeFDs(u.name, st.files...)
	u.result = resSuccess
	m.setState(u.unit, socketListening)
	m.startEnded(u.unit, resultDone)
	m.watchSocket(u)
}

func (u *socket) stop(m *Manager) {
	if u.sock != nil {
		if m.poller != nil {
			for i, tok := range u.sock.toks {
				m.poller.unwatch(u.sock.fds[i], tok)
			}
		}
		for _, f := range u.sock.files {
			f.Close()
		}
		m.storeFDs(u.name)
		if u.cfg.Socket.RemoveOnStop {
			for _, p := range u.sock.paths {
				os.Remove(p)
			}
		}
		u.sock = nil
	}
	u.lastStop = m.now()
	m.setState(u.unit, socketDead)
	m.stopEnded(u.unit)
}

// resume gives an active socket unit its listening sockets again:
// inherited across daemon-reexec, else opened anew.
func (u *socket) resume(m *Manager) {
	if u.state != Active || u.cfg == nil {
		return
	}
	if files := m.inh.files(u.name); len(files) > 0 {
		st := &listeners{files: files}
		name := u.cfg.Socket.FileDescriptorName
		if name == "" {
			name = strings.TrimSuffix(u.name, ".socket")
		}
		for range files {
			st.names = append(st.names, name)
		}
		if addrs, err := u.cfg.Socket.Listeners(); err == nil {
			for _, a := range addrs {
				if a.Addr[0] == '/' {
					st.paths = append(st.paths, a.Addr)
				}
			}
		}
		u.sock = st
	} else if st, err := openSockets(u.cfg); err == nil {
		u.sock = st
		m.storeFDs(u.name, st.files...)
	} else {
		m.logf("%s: %v", u.name, err)
		u.state, u.sub, u.result = Failed, socketFailed, resResources
		return
	}
	m.watchSocket(u)
}

// openSockets creates the listening sockets of a socket unit.
func openSockets(c *units.Unit) (*listeners, error) {
	addrs, err := c.Socket.Listeners()
	if err != nil {
		return nil, err
	}
	st := &listeners{}
	name := c.Socket.FileDescriptorName
	if name == "" {
		name = c.Name[:len(c.Name)-len(".socket")]
	}
	fail := func(err error) (*listeners, error) {
		for _, f := range st.files {
			f.Close()
		}
		return nil, err
	}
	v6only, err := ipv6Only(c.Socket.BindIPv6Only)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if (a.Net == "unix" || a.Net == "unixgram" || a.Net == "unixpacket") && a.Addr[0] == '/' {
			// A stale socket file from a previous run would make bind fail.
			if fi, err := os.Lstat(a.Addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(a.Addr)
			}
			st.paths = append(st.paths, a.Addr)
		}
		f, err := listenFile(a, v6only)
		if err != nil {
			return fail(fmt.Errorf("listen %s %s: %w", a.Net, a.Addr, err))
		}
		st.files = append(st.files, f)
		st.names = append(st.names, name)
		if n := c.Socket.Backlog; n > 0 && a.Net != "unixgram" && a.Net != "udp" {
			if err := setBacklog(f, n); err != nil {
				return fail(fmt.Errorf("backlog %d (Backlog=) on %s %s: %w", n, a.Net, a.Addr, err))
			}
		}
		if a.Addr[0] == '/' {
			mode := os.FileMode(0o666)
			if c.Socket.SocketMode != nil {
				mode = os.FileMode(*c.Socket.SocketMode)
			}
			if err := os.Chmod(a.Addr, mode); err != nil {
				return fail(fmt.Errorf("SocketMode: %w", err))
			}
			if err := chownSocket(a.Addr, c.Socket.SocketUser, c.Socket.SocketGroup); err != nil {
				return fail(err)
			}
		}
	}
	return st, nil
}

// chownSocket gives a socket file to SocketUser= and SocketGroup=.
func chownSocket(path, user, group string) error {
	uid, gid := -1, -1
	if user != "" {
		u, g, _, err := execute.LookupUser(user)
		if err != nil {
			return fmt.Errorf("SocketUser %q: %w", user, err)
		}
		uid, gid = int(u), int(g)
	}
	if group != "" {
		g, err := execute.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("SocketGroup %q: %w", group, err)
		}
		gid = int(g)
	}
	if uid < 0 && gid < 0 {
		return nil
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("SocketUser/SocketGroup: %w", err)
	}
	return nil
}

// ipv6Only is the IPV6_V6ONLY value BindIPv6Only= asks for: "default"
// is the kernel's net.ipv6.bindv6only, as systemd (Go would otherwise
// make wildcard sockets dual-stack whatever the sysctl says).
func ipv6Only(mode string) (int, error) {
	switch mode {
	case "both":
		return 0, nil
	case "ipv6-only":
		return 1, nil
	}
	b, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only")
	if err != nil {
		return 0, nil // no IPv6 here: nothing to set
	}
	if strings.TrimSpace(string(b)) == "1" {
		return 1, nil
	}
	return 0, nil
}

// listenFile opens one listening socket and returns it as a file the
// manager owns; Go's listener is closed without removing the path. IPv6
// sockets get IPV6_V6ONLY=v6only before they are bound; a port alone is
// the IPv6 wildcard, which takes IPv4 too unless v6only, and an IPv4
// address an IPv4 socket, as systemd.
func listenFile(a units.ListenAddr, v6only int) (*os.File, error) {
	switch a.Net {
	case "unix", "unixpacket":
		l, err := net.ListenUnix(a.Net, &net.UnixAddr{Name: a.Addr, Net: a.Net})
		if err != nil {
			return nil, err
		}
		l.SetUnlinkOnClose(false)
		defer l.Close()
		return l.File()
	case "unixgram":
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: a.Addr, Net: "unixgram"})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.File()
	case "tcp", "udp":
		ap, err := inetAddr(a.Addr)
		if err != nil {
			return nil, err
		}
		kind := ipsock.Stream
		if a.Net == "udp" {
			kind = ipsock.Datagram
		}
		return ipsock.Open(kind, ap, func(fd int) error {
			if ap.Addr().Is4() {
				return nil
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return fmt.Errorf("IPV6_V6ONLY: %w", err)
			}
			return nil
		})
	}
	return nil, fmt.Errorf("unsupported network %q", a.Net)
}

// setBacklog bounds the queue of connections not yet accepted on the
// listening socket f: Linux takes a second listen(2) on a listening socket
// as a new backlog.
func setBacklog(f *os.File, n int) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := sc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), n) }); err != nil {
		return err
	}
	return lerr
}

// inetAddr reads a ListenAddr's address: ":PORT" (the IPv6 wildcard) or
// a numeric address and port, as units writes them.
func inetAddr(s string) (netip.AddrPort, error) {
	if port, ok := strings.CutPrefix(s, ":"); ok {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
		}
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(n)), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	return ap, nil
}

// watchSocket waits for the first client on any of u's sockets and then
// starts its service. The watch is armed again when the service goes down.
func (m *Manager) watchSocket(u *socket) {
	st := u.sock
	if st == nil {
		return
	}
	svc := serviceOf(u.unit)
	if d := m.units[svc]; d != nil && (d.state == Active || d.state == Activating || d.job != nil) {
		return
	}
	if st.armed {
		return
	}
	p, err := m.poll()
	if err != nil {
		m.logf("%s: %v", u.name, err)
		return
	}
	if st.fds == nil {
		for _, f := range st.files {
			// Not f.Fd(): that would make the socket blocking for the
			// service too.
			if sc, err := f.SyscallConn(); err == nil {
				_ = sc.Control(func(fd uintptr) { st.fds = append(st.fds, int(fd)) })
			}
		}
	}
	ready := func() { m.socketReady(u, st) }
	for i, fd := range st.fds {
		if i < len(st.toks) {
			err = p.rearm(fd, st.toks[i])
		} else {
			var tok int32
			tok, err = p.watch(fd, ready)
			st.toks = append(st.toks, tok)
		}
		if err != nil {
			m.logf("%s: watching its socket: %v", u.name, err)
		}
	}
	st.armed = true
}

func (m *Manager) socketReady(u *socket, st *listeners) {
	if u.sock != st || !st.armed || m.shuttingDown {
		return
	}
	st.armed = false
	svc := serviceOf(u.unit)
	d := m.units[svc]
	if d == nil || d.cfg == nil {
		m.logf("%s: service %s not found; closing the socket", u.name, svc)
		m.stopTransaction([]string{u.name})
		return
	}
	if d.state == Active || d.state == Activating || d.job != nil {
		return
	}
	m.logf("%s: incoming connection; starting %s", u.name, svc)
	if err := m.startTransaction(svc); err != nil {
		m.logf("%s: %v", u.name, err)
	}
}
