package ipsock

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	loop6 := netip.MustParseAddrPort("[::1]:0")
	if f, err := Open(Datagram, loop6, nil); err != nil {
		loop6 = netip.AddrPort{} // no IPv6 here
	} else {
		f.Close()
	}
	for _, tt := range []struct {
		name   string
		kind   Kind
		addr   netip.AddrPort
		family int
	}{
		{"tcp4", Stream, netip.MustParseAddrPort("127.0.0.1:0"), unix.AF_INET},
		{"udp4", Datagram, netip.MustParseAddrPort("127.0.0.1:0"), unix.AF_INET},
		{"tcp6", Stream, loop6, unix.AF_INET6},
		{"udp6", Datagram, loop6, unix.AF_INET6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.addr.IsValid() {
				t.Skip("no IPv6")
			}
			var setupRan bool
			f, err := Open(tt.kind, tt.addr, func(fd int) error {
				// Before the bind: the socket has no port yet.
				sa, err := unix.Getsockname(fd)
				if err != nil {
					return err
				}
				switch sa := sa.(type) {
				case *unix.SockaddrInet4:
					setupRan = sa.Port == 0
				case *unix.SockaddrInet6:
					setupRan = sa.Port == 0
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if !setupRan {
				t.Error("setup did not run before the bind")
			}
			fd := int(f.Fd())
			if got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || got != tt.family {
				t.Errorf("family %d, want %d (%v)", got, tt.family, err)
			}
			if tt.kind == Stream {
				l, err := net.FileListener(f)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatalf("connecting to the listener: %v", err)
				}
				c.Close()
				return
			}
			c, err := ListenUDP(tt.addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.WriteToUDPAddrPort([]byte("ping"), c.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 8)
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:n]) != "ping" {
				t.Errorf("read %q, %v", buf[:n], err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Open(Stream, netip.MustParseAddrPort("127.0.0.1:0"), func(int) error { return boom }); !errors.Is(err, boom) || !strings.Contains(err.Error(), "tcp 127.0.0.1:0") {
		t.Errorf("setup failing: %v", err)
	}
	l, err := Open(Stream, netip.MustParseAddrPort("127.0.0.1:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln, err := net.FileListener(l)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).AddrPort()
	// SO_REUSEADDR does not let a second listener take a listening port.
	if _, err := Open(Stream, taken, nil); !errors.Is(err, unix.EADDRINUSE) || !strings.Contains(err.Error(), "bind") {
		t.Errorf("second listener on %s: %v", taken, err)
	}
	if f, err := Open(Datagram, netip.MustParseAddrPort("[::1]:0"), nil); err != nil {
		return // no IPv6 here
	} else {
		f.Close()
	}
	if _, err := Open(Datagram, netip.MustParseAddrPort("[fe80::1%nosuchif0]:0"), nil); err == nil || !strings.Contains(err.Error(), `zone "nosuchif0"`) {
		t.Errorf("unknown zone: %v", err)
	}
}
