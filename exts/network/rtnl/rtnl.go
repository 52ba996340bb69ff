// Package rtnl speaks the kernel's routing netlink protocol (rtnetlink)
// for what a network manager needs: list links and watch them change, set
// a link up and its MTU, add and remove addresses and routes. It is built
// on golang.org/x/sys/unix alone, a few hundred lines in place of a general
// netlink library.
package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Conn is a request socket. Its methods may be called from several
// goroutines; requests are serialized.
type Conn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

// Dial opens a request socket in the caller's network namespace.
func Dial() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink: bind: %w", err)
	}
	// Ask for extended acks: the kernel then says why it refused.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	return &Conn{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Link is a network interface as the kernel reports it.
type Link struct {
	Index int
	Name  string
	Flags net.Flags // up, loopback, …
	// Lower is IFF_LOWER_UP: the carrier is there.
	Lower bool
	MTU   int
	MAC   net.HardwareAddr
	// Deleted is set on the event of a link going away.
	Deleted bool
}

// Up reports whether the link is administratively up.
func (l Link) Up() bool { return l.Flags&net.FlagUp != 0 }

// Addr is an address on a link.
type Addr struct {
	Index  int
	Prefix netip.Prefix
	// Valid and Preferred are the remaining lifetimes in seconds;
	// Forever when the address does not expire.
	Valid, Preferred uint32
}

// Forever is the lifetime of an address that never expires.
const Forever = 0xffffffff

// Route is a route in the main table.
type Route struct {
	Dst    netip.Prefix // 0.0.0.0/0 for the default route
	Gw     netip.Addr   // zero for a route on the link
	Index  int
	Metric uint32
	Proto  uint8 // unix.RTPROT_STATIC, RTPROT_DHCP, …
}

// request sends one message and collects the replies up to the ack or
// the end of a dump, calling each for every reply message.
func (c *Conn) request(typ, flags uint16, body []byte, each func(typ uint16, data []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	seq := c.seq
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("rtnetlink: send: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("rtnetlink: receive: %w", err)
		}
		done := false
		var reqErr error
		err = parseMessages(c.buf[:n], func(h unix.NlMsghdr, data []byte) error {
			if h.Seq != seq {
				return nil // a late reply to an earlier request
			}
			switch h.Type {
			case unix.NLMSG_DONE:
				done = true
			case unix.NLMSG_ERROR:
				done = true
				if len(data) < 4 {
					return errors.New("rtnetlink: short error message")
				}
				if code := int32(binary.NativeEndian.Uint32(data)); code != 0 {
					reqErr = syscall.Errno(-code)
				}
			default:
				if each != nil && reqErr == nil {
					reqErr = each(h.Type, data)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return reqErr
		}
	}
}

// parseMessages walks the netlink messages in b.
func parseMessages(b []byte, each func(h unix.NlMsghdr, data []byte) error) error {
	for len(b) >= unix.SizeofNlMsghdr {
		h := unix.NlMsghdr{
			Len:   binary.NativeEndian.Uint32(b[0:]),
			Type:  binary.NativeEndian.Uint16(b[4:]),
			Flags: binary.NativeEndian.Uint16(b[6:]),
			Seq:   binary.NativeEndian.Uint32(b[8:]),
			Pid:   binary.NativeEndian.Uint32(b[12:]),
		}
		if h.Len < unix.SizeofNlMsghdr || int(h.Len) > len(b) {
			return fmt.Errorf("rtnetlink: malformed message (length %d of %d bytes)", h.Len, len(b))
		}
		if err := each(h, b[unix.SizeofNlMsghdr:h.Len]); err != nil {
			return err
		}
		next := align(int(h.Len))
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return nil
}

func align(n int) int { return (n + 3) &^ 3 }

// attrs walks the route attributes in b.
func attrs(b []byte, each func(typ uint16, val []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ unix.NLA_F_NESTED
		if l < 4 || l > len(b) {
			return
		}
		each(typ, b[4:l])
		if align(l) >= len(b) {
			return
		}
		b = b[align(l):]
	}
}

// attr appends one attribute to b.
func attr(b []byte, typ uint16, val []byte) []byte {
	l := 4 + len(val)
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(l))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return b[:]
}

func cstring(s string) []byte { return append([]byte(s), 0) }

func ifinfomsg(index int, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(index)))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// parseLink decodes an RTM_NEWLINK or RTM_DELLINK body.
func parseLink(typ uint16, data []byte) (Link, bool) {
	if len(data) < unix.SizeofIfInfomsg {
		return Link{}, false
	}
	flags := binary.NativeEndian.Uint32(data[8:])
	l := Link{
		Index:   int(int32(binary.NativeEndian.Uint32(data[4:]))),
		Lower:   flags&unix.IFF_LOWER_UP != 0,
		Deleted: typ == unix.RTM_DELLINK,
	}
	// The same bits as the net package's interface flags.
	for _, f := range []struct {
		k uint32
		n net.Flags
	}{{unix.IFF_UP, net.FlagUp}, {unix.IFF_BROADCAST, net.FlagBroadcast}, {unix.IFF_LOOPBACK, net.FlagLoopback},
		{unix.IFF_POINTOPOINT, net.FlagPointToPoint}, {unix.IFF_MULTICAST, net.FlagMulticast}, {unix.IFF_RUNNING, net.FlagRunning}} {
		if flags&f.k != 0 {
			l.Flags |= f.n
		}
	}
	attrs(data[unix.SizeofIfInfomsg:], func(t uint16, v []byte) {
		switch t {
		case unix.IFLA_IFNAME:
			l.Name = string(trimNul(v))
		case unix.IFLA_MTU:
			if len(v) >= 4 {
				l.MTU = int(binary.NativeEndian.Uint32(v))
			}
		case unix.IFLA_ADDRESS:
			l.MAC = append(net.HardwareAddr(nil), v...)
		}
	})
	return l, l.Name != ""
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// Links lists every link.
func (c *Conn) Links() ([]Link, error) {
	var out []Link
	err := c.request(unix.RTM_GETLINK, unix.NLM_F_DUMP, ifinfomsg(0, 0, 0), func(typ uint16, data []byte) error {
		if l, ok := parseLink(typ, data); ok {
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list links: %w", err)
	}
	return out, nil
}

// LinkByName returns the link called name.
func (c *Conn) LinkByName(name string) (Link, error) {
	var out Link
	body := attr(ifinfomsg(0, 0, 0), unix.IFLA_IFNAME, cstring(name))
	err := c.request(unix.RTM_GETLINK, 0, body, func(typ uint16, data []byte) error {
		out, _ = parseLink(typ, data)
		return nil
	})
	if err != nil {
		return Link{}, fmt.Errorf("rtnetlink: link %s: %w", name, err)
	}
	return out, nil
}

// SetUp sets the link administratively up or down.
func (c *Conn) SetUp(index int, up bool) error {
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	if err := c.request(unix.RTM_NEWLINK, 0, ifinfomsg(index, flags, unix.IFF_UP), nil); err != nil {
		return fmt.Errorf("rtnetlink: set link %d up=%v: %w", index, up, err)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (c *Conn) SetMTU(index, mtu int) error {
	body := attr(ifinfomsg(index, 0, 0), unix.IFLA_MTU, u32(uint32(mtu)))
	if err := c.request(unix.RTM_NEWLINK, 0, body, nil); err != nil {
		return fmt.Errorf("rtnetlink: set link %d mtu %d: %w", index, mtu, err)
	}
	return nil
}

// SetNetns moves the link into the network namespace open at fd.
func (c *Conn) SetNetns(index, fd int) error {
	body := attr(ifinfomsg(index, 0, 0), unix.IFLA_NET_NS_FD, u32(uint32(fd)))
	if err := c.request(unix.RTM_NEWLINK, 0, body, nil); err != nil {
		return fmt.Errorf("rtnetlink: move link %d to another namespace: %w", index, err)
	}
	return nil
}

// AddVeth creates a pair of virtual Ethernet links, name and peer.
func (c *Conn) AddVeth(name, peer string) error {
	const vethInfoPeer = 1
	peerMsg := attr(ifinfomsg(0, 0, 0), unix.IFLA_IFNAME, cstring(peer))
	data := attr(nil, vethInfoPeer, peerMsg)
	info := attr(nil, unix.IFLA_INFO_KIND, []byte("veth"))
	info = attr(info, unix.IFLA_INFO_DATA|unix.NLA_F_NESTED, data)
	body := attr(ifinfomsg(0, 0, 0), unix.IFLA_IFNAME, cstring(name))
	body = attr(body, unix.IFLA_LINKINFO|unix.NLA_F_NESTED, info)
	if err := c.request(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body, nil); err != nil {
		return fmt.Errorf("rtnetlink: add veth %s/%s: %w", name, peer, err)
	}
	return nil
}

// DelLink removes a link (a virtual one: hardware links stay).
func (c *Conn) DelLink(index int) error {
	if err := c.request(unix.RTM_DELLINK, 0, ifinfomsg(index, 0, 0), nil); err != nil {
		return fmt.Errorf("rtnetlink: remove link %d: %w", index, err)
	}
	return nil
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func addrMsg(a Addr) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = family(a.Prefix.Addr())
	b[1] = uint8(a.Prefix.Bits())
	binary.NativeEndian.PutUint32(b[4:], uint32(a.Index))
	ip := a.Prefix.Addr().AsSlice()
	b = attr(b, unix.IFA_LOCAL, ip)
	b = attr(b, unix.IFA_ADDRESS, ip)
	if a.Prefix.Addr().Is4() && a.Prefix.Bits() < 31 {
		b = attr(b, unix.IFA_BROADCAST, broadcast(a.Prefix).AsSlice())
	}
	return b
}

func broadcast(p netip.Prefix) netip.Addr {
	ip := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(ip[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(ip[:], v)
	return netip.AddrFrom4(ip)
}

// AddAddr adds the address, or updates its lifetimes when it is there.
// The kernel itself removes an address whose valid lifetime runs out.
func (c *Conn) AddAddr(a Addr) error {
	b := addrMsg(a)
	valid, pref := a.Valid, a.Preferred
	if valid == 0 {
		valid, pref = Forever, Forever
	}
	ci := make([]byte, unix.SizeofIfaCacheinfo)
	binary.NativeEndian.PutUint32(ci[0:], pref)
	binary.NativeEndian.PutUint32(ci[4:], valid)
	b = attr(b, unix.IFA_CACHEINFO, ci)
	if err := c.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, b, nil); err != nil {
		return fmt.Errorf("rtnetlink: add address %s to link %d: %w", a.Prefix, a.Index, err)
	}
	return nil
}

// DelAddr removes the address.
func (c *Conn) DelAddr(a Addr) error {
	if err := c.request(unix.RTM_DELADDR, 0, addrMsg(a), nil); err != nil {
		return fmt.Errorf("rtnetlink: remove address %s from link %d: %w", a.Prefix, a.Index, err)
	}
	return nil
}

// Addrs lists the addresses of the link (every link when index is 0).
func (c *Conn) Addrs(index int) ([]Addr, error) {
	var out []Addr
	req := make([]byte, unix.SizeofIfAddrmsg)
	err := c.request(unix.RTM_GETADDR, unix.NLM_F_DUMP, req, func(typ uint16, data []byte) error {
		if typ != unix.RTM_NEWADDR || len(data) < unix.SizeofIfAddrmsg {
			return nil
		}
		a := Addr{Index: int(binary.NativeEndian.Uint32(data[4:])), Valid: Forever, Preferred: Forever}
		if index != 0 && a.Index != index {
			return nil
		}
		bits := int(data[1])
		var ip netip.Addr
		attrs(data[unix.SizeofIfAddrmsg:], func(t uint16, v []byte) {
			switch t {
			case unix.IFA_LOCAL:
				ip, _ = netip.AddrFromSlice(v)
			case unix.IFA_ADDRESS:
				if !ip.IsValid() {
					ip, _ = netip.AddrFromSlice(v)
				}
			case unix.IFA_CACHEINFO:
				if len(v) >= 8 {
					a.Preferred = binary.NativeEndian.Uint32(v[0:])
					a.Valid = binary.NativeEndian.Uint32(v[4:])
				}
			}
		})
		if ip.IsValid() {
			a.Prefix = netip.PrefixFrom(ip, bits)
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list addresses: %w", err)
	}
	return out, nil
}

func routeMsg(r Route) []byte {
	b := make([]byte, unix.SizeofRtMsg)
	b[0] = family(r.Dst.Addr())
	b[1] = uint8(r.Dst.Bits())
	b[4] = unix.RT_TABLE_MAIN
	b[5] = r.Proto
	if b[5] == 0 {
		b[5] = unix.RTPROT_STATIC
	}
	b[6] = unix.RT_SCOPE_UNIVERSE
	if !r.Gw.IsValid() {
		b[6] = unix.RT_SCOPE_LINK
	}
	b[7] = unix.RTN_UNICAST
	if r.Dst.Bits() > 0 {
		b = attr(b, unix.RTA_DST, r.Dst.Masked().Addr().AsSlice())
	}
	if r.Gw.IsValid() {
		b = attr(b, unix.RTA_GATEWAY, r.Gw.AsSlice())
	}
	b = attr(b, unix.RTA_OIF, u32(uint32(r.Index)))
	if r.Metric != 0 {
		b = attr(b, unix.RTA_PRIORITY, u32(r.Metric))
	}
	return b
}

// AddRoute adds the route, or replaces the one to the same destination
// with the same metric.
func (c *Conn) AddRoute(r Route) error {
	if err := c.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, routeMsg(r), nil); err != nil {
		return fmt.Errorf("rtnetlink: add route to %s via %v on link %d: %w", r.Dst, r.Gw, r.Index, err)
	}
	return nil
}

// DelRoute removes the route.
func (c *Conn) DelRoute(r Route) error {
	if err := c.request(unix.RTM_DELROUTE, 0, routeMsg(r), nil); err != nil {
		return fmt.Errorf("rtnetlink: remove route to %s on link %d: %w", r.Dst, r.Index, err)
	}
	return nil
}

// Routes lists the IPv4 routes of the main table.
func (c *Conn) Routes() ([]Route, error) {
	var out []Route
	req := make([]byte, unix.SizeofRtMsg)
	req[0] = unix.AF_INET
	err := c.request(unix.RTM_GETROUTE, unix.NLM_F_DUMP, req, func(typ uint16, data []byte) error {
		if typ != unix.RTM_NEWROUTE || len(data) < unix.SizeofRtMsg || data[4] != unix.RT_TABLE_MAIN {
			return nil
		}
		r := Route{Proto: data[5]}
		bits := int(data[1])
		dst := netip.IPv4Unspecified()
		attrs(data[unix.SizeofRtMsg:], func(t uint16, v []byte) {
			switch t {
			case unix.RTA_DST:
				dst, _ = netip.AddrFromSlice(v)
			case unix.RTA_GATEWAY:
				r.Gw, _ = netip.AddrFromSlice(v)
			case unix.RTA_OIF:
				if len(v) >= 4 {
					r.Index = int(binary.NativeEndian.Uint32(v))
				}
			case unix.RTA_PRIORITY:
				if len(v) >= 4 {
					r.Metric = binary.NativeEndian.Uint32(v)
				}
			}
		})
		r.Dst = netip.PrefixFrom(dst, bits)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list routes: %w", err)
	}
	return out, nil
}

// Watcher receives the kernel's link events.
type Watcher struct {
	f   *os.File
	raw syscall.RawConn
	buf []byte
}

// WatchLinks subscribes to link events. Subscribe before listing the
// links, so that no change falls between the two.
func WatchLinks() (*Watcher, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink: subscribe to link events: %w", err)
	}
	// A burst of hotplug events must not overflow the queue.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	// Through the runtime's poller, so that Close wakes a blocked Read.
	f := os.NewFile(uintptr(fd), "rtnetlink")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &Watcher{f: f, raw: raw, buf: make([]byte, 1<<16)}, nil
}

// Read blocks for the next batch of link events. An overflowed queue
// returns unix.ENOBUFS: events were lost, list the links again.
func (w *Watcher) Read() ([]Link, error) {
	var n int
	var rerr error
	err := w.raw.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), w.buf, 0)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: link events: %w", err)
	}
	var out []Link
	err = parseMessages(w.buf[:n], func(h unix.NlMsghdr, data []byte) error {
		if h.Type == unix.RTM_NEWLINK || h.Type == unix.RTM_DELLINK {
			if l, ok := parseLink(h.Type, data); ok {
				out = append(out, l)
			}
		}
		return nil
	})
	return out, err
}

// Close ends the subscription; a blocked Read returns an error.
func (w *Watcher) Close() error { return w.f.Close() }

// The flags of the last router advertisement on a link (IFLA_INET6_FLAGS).
const (
	raManaged   = 0x40 // IF_RA_MANAGED: addresses by DHCPv6
	raOtherConf = 0x80 // IF_RA_OTHERCONF: other configuration by DHCPv6
	raReceived  = 0x20 // IF_RA_RCVD
)

// RAFlags says what the routers on link index last advertised: managed
// (M, addresses by DHCPv6) and other (O, other configuration by DHCPv6).
// seen is false when no advertisement has come.
func (c *Conn) RAFlags(index int) (seen, managed, other bool, err error) {
	req := ifinfomsg(0, 0, 0)
	req[0] = unix.AF_INET6
	err = c.request(unix.RTM_GETLINK, unix.NLM_F_DUMP, req, func(_ uint16, data []byte) error {
		if len(data) < unix.SizeofIfInfomsg || int(int32(binary.NativeEndian.Uint32(data[4:]))) != index {
			return nil
		}
		attrs(data[unix.SizeofIfInfomsg:], func(t uint16, v []byte) {
			if t != unix.IFLA_PROTINFO {
				return
			}
			attrs(v, func(t uint16, v []byte) {
				if t == unix.IFLA_INET6_FLAGS && len(v) >= 4 {
					f := binary.NativeEndian.Uint32(v)
					seen, managed, other = f&raReceived != 0, f&raManaged != 0, f&raOtherConf != 0
				}
			})
		})
		return nil
	})
	if err != nil {
		err = fmt.Errorf("rtnetlink: IPv6 flags of link %d: %w", index, err)
	}
	return seen, managed, other, err
}
