package qemu

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// HostForward is a QEMU user-networking port forward from the host's
// loopback to a guest port: hostfwd=tcp:127.0.0.1:HOST-:GUEST. Only the
// loopback is offered, so nothing off the machine reaches a guest.
type HostForward struct {
	HostPort, GuestPort int
}

func (f HostForward) String() string {
	return fmt.Sprintf("tcp:127.0.0.1:%d-:%d", f.HostPort, f.GuestPort)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withHostForwards adds fwds to the first user-networking -netdev of a
// board's arguments.
func withHostForwards(args []string, fwds []HostForward) ([]string, error) {
	if len(fwds) == 0 {
		return args, nil
	}
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] != "-netdev" || !strings.HasPrefix(out[i+1], "user,") {
			continue
		}
		v := out[i+1]
		for _, f := range fwds {
			if f.HostPort <= 0 || f.HostPort > 65535 || f.GuestPort <= 0 || f.GuestPort > 65535 {
				return nil, fmt.Errorf("host forward %d->%d: not a port", f.HostPort, f.GuestPort)
			}
			v += ",hostfwd=" + f.String()
		}
		out[i+1] = v
		return out, nil
	}
	return nil, errors.New("host forward: the board has no user-networking -netdev (\"user,...\") in its qemu.args")
}
