package units

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ListenAddr is one listening socket of a socket unit, in the terms of
// Go's net package: Net is "unix", "unixgram", "unixpacket", "tcp" or
// "udp"; Addr is a path, "@name" for the abstract namespace, or host:port.
type ListenAddr struct {
	Net  string
	Addr string
}

type listenError struct {
	key string
	err error
}

func (e *listenError) Error() string { return "Socket." + e.key + ": " + e.err.Error() }

// Listeners parses ListenStream, ListenDatagram and ListenSequentialPacket,
// in that order. Values are "/run/x.sock", "@abstract", "8080" (all
// addresses), "127.0.0.1:8080" or "[::1]:80".
func (s *SocketSection) Listeners() ([]ListenAddr, error) {
	var out []ListenAddr
	for _, l := range []struct {
		key        string
		vals       List
		unix, inet string
	}{
		{"ListenStream", s.ListenStream, "unix", "tcp"},
		{"ListenDatagram", s.ListenDatagram, "unixgram", "udp"},
		{"ListenSequentialPacket", s.ListenSequentialPacket, "unixpacket", ""},
	} {
		for _, v := range l.vals {
			a, err := parseListen(v, l.unix, l.inet)
			if err != nil {
				return nil, &listenError{l.key, err}
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func parseListen(v, unixNet, inetNet string) (ListenAddr, error) {
	switch {
	case strings.HasPrefix(v, "/"):
		if len(v) > 107 {
			return ListenAddr{}, fmt.Errorf("%q: socket path longer than 107 bytes", v)
		}
		return ListenAddr{unixNet, v}, nil
	case strings.HasPrefix(v, "@"):
		if len(v) < 2 || len(v) > 107 {
			return ListenAddr{}, fmt.Errorf("%q: abstract socket name must be 1..106 bytes", v)
		}
		return ListenAddr{unixNet, v}, nil
	}
	if inetNet == "" {
		return ListenAddr{}, fmt.Errorf("%q: sequential packet sockets need a path or an @abstract name", v)
	}
	if port, err := strconv.Atoi(v); err == nil {
		if port < 1 || port > 65535 {
			return ListenAddr{}, fmt.Errorf("%q: port not in 1..65535", v)
		}
		return ListenAddr{inetNet, ":" + v}, nil
	}
	ap, err := netip.ParseAddrPort(v)
	if err != nil || ap.Port() == 0 {
		return ListenAddr{}, fmt.Errorf("%q: want a path, @name, PORT, IPv4:PORT or [IPv6]:PORT", v)
	}
	return ListenAddr{inetNet, ap.String()}, nil
}
