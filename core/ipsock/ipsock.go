// Package ipsock opens IP sockets bound to a numeric address with x/sys.
//
// net's Listen and ListenConfig take "host:port" strings and resolve them,
// so calling them links net's DNS resolver (0.25 MB of smbox) even when
// every address is a literal. The manager, the DHCP clients and socket
// units never name a host: they open their sockets here and hand the file
// to net.FileListener or net.FilePacketConn when they want a net type.
package ipsock

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A Kind is what socket to open.
type Kind int

const (
	// Stream is a TCP socket, listening.
	Stream Kind = iota
	// Datagram is a UDP socket.
	Datagram
)

func (k Kind) String() string {
	if k == Stream {
		return "tcp"
	}
	return "udp"
}

// Open opens a socket of kind bound to addr: AF_INET for an IPv4 address,
// AF_INET6 otherwise (an unspecified IPv6 address is the wildcard of
// both, as IPV6_V6ONLY says). setup, when not nil, runs on the socket
// before it is bound, for options. Like net's sockets, it is non-blocking
// and close-on-exec, and a stream socket has SO_REUSEADDR and the
// largest backlog the kernel allows.
func Open(kind Kind, addr netip.AddrPort, setup func(fd int) error) (*os.File, error) {
	ip := addr.Addr()
	family := unix.AF_INET6
	if ip.Is4() {
		family = unix.AF_INET
	}
	typ := unix.SOCK_STREAM
	if kind == Datagram {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s socket for %s: %w", kind, addr, err)
	}
	if err := bind(fd, kind, family, ip, addr.Port(), setup); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s %s: %w", kind, addr, err)
	}
	return os.NewFile(uintptr(fd), kind.String()+":"+addr.String()), nil
}

func bind(fd int, kind Kind, family int, ip netip.Addr, port uint16, setup func(fd int) error) error {
	if kind == Stream {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR: %w", err)
		}
	}
	if setup != nil {
		if err := setup(fd); err != nil {
			return err
		}
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	} else {
		sa6 := &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			id, err := zoneID(z)
			if err != nil {
				return err
			}
			sa6.ZoneId = id
		}
		sa = sa6
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if kind == Stream {
		// The kernel holds the backlog to net.core.somaxconn.
		if err := unix.Listen(fd, 1<<16-1); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	return nil
}

// zoneID is the interface index an IPv6 zone names, by number or name.
func zoneID(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

// ListenUDP opens a UDP socket as Open does and returns it as net's.
func ListenUDP(addr netip.AddrPort, setup func(fd int) error) (*net.UDPConn, error) {
	f, err := Open(Datagram, addr, setup)
	if err != nil {
		return nil, err
	}
	defer f.Close() // FilePacketConn holds a duplicate
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", addr, err)
	}
	return pc.(*net.UDPConn), nil
}
