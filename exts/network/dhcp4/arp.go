package dhcp4

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Address conflict detection (RFC 5227 section 2.1): before a new lease's
// address is used, the client asks the link three times who has it, from
// 0.0.0.0 so that no neighbour learns anything yet. An answer, or another
// host probing for the same address, is a conflict.

const (
	probeNum = 3 // PROBE_NUM
	arpLen   = 28
)

// errConflict is an offered address that another host uses.
type errConflict struct {
	addr netip.Addr
	mac  net.HardwareAddr
}

func (e *errConflict) Error() string {
	return fmt.Sprintf("%s is in use by %s", e.addr, e.mac)
}

// probe checks that nobody on link index uses a. interval is the RFC's
// PROBE_MIN (1 s): the first probe comes within one interval, the others
// one to two intervals apart, and the last is followed by two
// (ANNOUNCE_WAIT). It returns an *errConflict when someone does.
func probe(ctx context.Context, index int, mac net.HardwareAddr, a netip.Addr, interval time.Duration) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("ARP socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: index}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("ARP socket bind: %w", err)
	}
	f := os.NewFile(uintptr(fd), "arp")
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	pkt := arpProbe(mac, a)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	buf := make([]byte, 1500)
	wait := func(d time.Duration) error {
		deadline := time.Now().Add(d)
		for ctx.Err() == nil {
			left := time.Until(deadline)
			if left <= 0 {
				return nil
			}
			_ = f.SetReadDeadline(time.Now().Add(min(left, 250*time.Millisecond)))
			n, err := f.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				return fmt.Errorf("ARP: %w", err)
			}
			if who := conflicts(buf[:n], mac, a); who != nil {
				return &errConflict{a, who}
			}
		}
		return ctx.Err()
	}
	if err := wait(randBetween(0, interval)); err != nil {
		return err
	}
	for i := 0; i < probeNum; i++ {
		var serr error
		err := raw.Write(func(fd uintptr) bool {
			serr = unix.Sendto(int(fd), pkt, 0, to)
			return serr != unix.EAGAIN
		})
		if err = errors.Join(err, serr); err != nil {
			return fmt.Errorf("ARP probe: %w", err)
		}
		d := randBetween(interval, 2*interval)
		if i == probeNum-1 {
			d = 2 * interval
		}
		if err := wait(d); err != nil {
			return err
		}
	}
	return nil
}

func randBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(mrand.Int64N(int64(hi-lo)))
}

// arpProbe is an ARP request for a from mac, with sender address 0.0.0.0.
func arpProbe(mac net.HardwareAddr, a netip.Addr) []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], 1) // request
	copy(b[8:14], mac)
	t := a.As4()
	copy(b[24:28], t[:])
	return b
}

// conflicts returns the hardware address of a host that b, an ARP
// packet, shows using a (its sender address) or probing for it too; nil
// when it shows neither.
func conflicts(b []byte, mac net.HardwareAddr, a netip.Addr) net.HardwareAddr {
	if len(b) < arpLen || binary.BigEndian.Uint16(b[2:]) != 0x0800 || b[4] != 6 || b[5] != 4 {
		return nil
	}
	sha := net.HardwareAddr(b[8:14])
	if bytes.Equal(sha, mac) {
		return nil // ours
	}
	spa, tpa := addr4(b[14:18]), addr4(b[24:28])
	op := binary.BigEndian.Uint16(b[6:])
	if spa == a || op == 1 && spa.IsUnspecified() && tpa == a {
		return append(net.HardwareAddr(nil), sha...)
	}
	return nil
}
