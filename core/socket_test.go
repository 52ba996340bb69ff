package core

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
)

// freePort is a TCP port nothing listens on just now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// BindIPv6Only decides whether a wildcard socket takes IPv4 clients too.
func TestBindIPv6Only(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("no IPv6 on this machine")
	}
	for _, tc := range []struct {
		mode   string
		v6only int
	}{
		{"both", 0},
		{"ipv6-only", 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			port := freePort(t)
			u, err := units.Parse("web.socket.toml", fmt.Appendf(nil, "[Socket]\nListenStream = \"%d\"\nBindIPv6Only = %q\n", port, tc.mode))
			if err != nil {
				t.Fatal(err)
			}
			st, err := openSockets(u)
			if err != nil {
				t.Fatal(err)
			}
			defer st.files[0].Close()
			got, err := unix.GetsockoptInt(int(st.files[0].Fd()), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
			if err != nil || got != tc.v6only {
				t.Errorf("IPV6_V6ONLY = %d (%v), want %d", got, err, tc.v6only)
			}
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if c != nil {
				c.Close()
			}
			if (err == nil) != (tc.v6only == 0) {
				t.Errorf("IPv4 client: %v, want it to connect only when both", err)
			}
		})
	}
}

func TestBindIPv6OnlyInvalid(t *testing.T) {
	_, err := units.Parse("web.socket.toml", []byte("[Socket]\nListenStream = \"80\"\nBindIPv6Only = \"v6\"\n"))
	if err == nil {
		t.Fatal("BindIPv6Only = \"v6\" accepted")
	}
	t.Log(err)
}

// An IPv4 address is an IPv4 socket (as systemd), a datagram address a
// UDP socket, each on the port the unit names.
func TestListenFileInet(t *testing.T) {
	for _, tc := range []struct {
		net, addr string
		family    int
		typ       int
	}{
		{"tcp", "127.0.0.1:%d", unix.AF_INET, unix.SOCK_STREAM},
		{"udp", "127.0.0.1:%d", unix.AF_INET, unix.SOCK_DGRAM},
		{"tcp", ":%d", unix.AF_INET6, unix.SOCK_STREAM},
	} {
		t.Run(tc.net+" "+tc.addr, func(t *testing.T) {
			if tc.family == unix.AF_INET6 {
				if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
					t.Skip("no IPv6 on this machine")
				}
			}
			port := freePort(t)
			f, err := listenFile(units.ListenAddr{Net: tc.net, Addr: fmt.Sprintf(tc.addr, port)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd := int(f.Fd())
			if got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); got != tc.family {
				t.Errorf("family %d, want %d", got, tc.family)
			}
			if got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); got != tc.typ {
				t.Errorf("type %d, want %d", got, tc.typ)
			}
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			var got int
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				got = sa.Port
			case *unix.SockaddrInet6:
				got = sa.Port
			}
			if got != port {
				t.Errorf("bound to port %d, want %d", got, port)
			}
		})
	}
	for _, bad := range []string{":x", ":70000", "localhost:80", "1.2.3.4"} {
		if _, err := listenFile(units.ListenAddr{Net: "tcp", Addr: bad}, 0); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("address %q: %v, want an error naming it", bad, err)
		}
	}
}

// TestSocketBacklog: Backlog= bounds the connections waiting to be
// accepted: with 1, the third non-blocking connect to a unix socket is
// refused (EAGAIN); without it, the kernel's default takes them all.
func TestSocketBacklog(t *testing.T) {
	for _, tc := range []struct {
		backlog string
		want    int // connects that succeed out of 8
	}{{"Backlog = 1\n", 2}, {"", 8}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "s")
		u, err := units.Parse(filepath.Join(dir, "b.socket.toml"), []byte(fmt.Sprintf("[Socket]\nListenStream = %q\n%s", path, tc.backlog)))
		if err != nil {
			t.Fatal(err)
		}
		st, err := openSockets(u)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for range 8 {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err == nil {
				ok++
			} else if err != unix.EAGAIN {
				t.Fatalf("connect: %v", err)
			}
		}
		for _, f := range st.files {
			f.Close()
		}
		if ok != tc.want {
			t.Errorf("%q: %d of 8 connects went through, want %d", tc.backlog, ok, tc.want)
		}
	}
}
