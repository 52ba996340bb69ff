package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/ipsock"
)

const (
	clientPort = 68
	serverPort = 67
)

var broadcastAddr = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// transport carries messages between the client and servers.
type transport interface {
	// send sends m to dst:67 (broadcastAddr for every server).
	send(m []byte, dst netip.Addr) error
	// receive returns the next message sent to port 68 before deadline,
	// and who sent it.
	receive(deadline time.Time) ([]byte, netip.Addr, error)
	close() error
}

// rawTransport works before the link has an address: it sends and
// receives whole IP packets on a packet socket bound to the link, so the
// kernel's IP stack, which would drop a reply to an address it does not
// have yet, is not in the way.
type rawTransport struct {
	f     *os.File
	raw   syscall.RawConn
	index int
	buf   []byte
}

// udpFilter keeps what a DHCP client wants out of everything the link
// receives: unfragmented UDP to port 68 (classic BPF, on the IP header).
var udpFilter = []unix.SockFilter{
	{Code: 0x30, K: 9},                    // ldb [9]: protocol
	{Code: 0x15, Jt: 0, Jf: 6, K: 17},     // jeq UDP, else drop
	{Code: 0x28, K: 6},                    // ldh [6]: flags and fragment offset
	{Code: 0x45, Jt: 4, Jf: 0, K: 0x1fff}, // jset offset: drop fragments
	{Code: 0xb1, K: 0},                    // ldxb 4*([0]&0xf): header length
	{Code: 0x48, K: 2},                    // ldh [x+2]: destination port
	{Code: 0x15, Jt: 0, Jf: 1, K: clientPort},
	{Code: 0x06, K: 0xffff}, // accept
	{Code: 0x06, K: 0},      // drop
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func newRawTransport(index int) (*rawTransport, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(udpFilter)), Filter: &udpFilter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket bind: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp-packet")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawTransport{f: f, raw: raw, index: index, buf: make([]byte, 1<<16)}, nil
}

func (t *rawTransport) send(m []byte, dst netip.Addr) error {
	pkt := ipUDP(netip.IPv4Unspecified(), dst, m)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: t.index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	var serr error
	err := t.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt, 0, to)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func (t *rawTransport) receive(deadline time.Time) ([]byte, netip.Addr, error) {
	if err := t.f.SetReadDeadline(deadline); err != nil {
		return nil, netip.Addr{}, err
	}
	for {
		n, err := t.f.Read(t.buf)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		if payload, src, ok := parseIPUDP(t.buf[:n]); ok {
			return payload, src, nil
		}
	}
}

func (t *rawTransport) close() error { return t.f.Close() }

// ipUDP builds an IPv4 packet holding a UDP datagram from port 68 to 67.
func ipUDP(src, dst netip.Addr, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(28+len(payload)))
	b[8] = 64 // TTL
	b[9] = unix.IPPROTO_UDP
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20], 0))
	binary.BigEndian.PutUint16(b[20:], clientPort)
	binary.BigEndian.PutUint16(b[22:], serverPort)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	b = append(b, payload...)
	// The UDP checksum covers a pseudo-header of addresses, protocol and
	// length.
	var sum uint32
	for _, a := range [][4]byte{s, d} {
		sum += uint32(a[0])<<8 | uint32(a[1])
		sum += uint32(a[2])<<8 | uint32(a[3])
	}
	sum += unix.IPPROTO_UDP + uint32(8+len(payload))
	c := checksum(b[20:], sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[26:], c)
	return b
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// parseIPUDP returns the payload of a UDP datagram to port 68 in an IPv4
// packet. The UDP checksum is not checked: on links with checksum offload
// (veth, virtio) a packet socket sees it before it is filled in.
func parseIPUDP(b []byte) ([]byte, netip.Addr, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return nil, netip.Addr{}, false
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl+8 || total > len(b) || b[9] != unix.IPPROTO_UDP || checksum(b[:ihl], 0) != 0 {
		return nil, netip.Addr{}, false
	}
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // fragment
		return nil, netip.Addr{}, false
	}
	udp := b[ihl:total]
	if binary.BigEndian.Uint16(udp[2:]) != clientPort {
		return nil, netip.Addr{}, false
	}
	ul := int(binary.BigEndian.Uint16(udp[4:]))
	if ul < 8 || ul > len(udp) {
		return nil, netip.Addr{}, false
	}
	return udp[8:ul], addr4(b[12:16]), true
}

// udpTransport works once the link has its address: renewals go unicast
// to the server, rebinding requests to every server, through an ordinary
// UDP socket bound to port 68 on the link.
type udpTransport struct {
	c   *net.UDPConn
	buf []byte
}

func newUDPTransport(ifname string) (*udpTransport, error) {
	c, err := ipsock.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), clientPort), func(fd int) error {
		return errors.Join(
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
			unix.BindToDevice(fd, ifname))
	})
	if err != nil {
		return nil, fmt.Errorf("udp socket on %s: %w", ifname, err)
	}
	return &udpTransport{c: c, buf: make([]byte, 1<<16)}, nil
}

func (t *udpTransport) send(m []byte, dst netip.Addr) error {
	_, err := t.c.WriteToUDPAddrPort(m, netip.AddrPortFrom(dst, serverPort))
	return err
}

func (t *udpTransport) receive(deadline time.Time) ([]byte, netip.Addr, error) {
	if err := t.c.SetReadDeadline(deadline); err != nil {
		return nil, netip.Addr{}, err
	}
	n, from, err := t.c.ReadFromUDPAddrPort(t.buf)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	return t.buf[:n], from.Addr().Unmap(), nil
}

func (t *udpTransport) close() error { return t.c.Close() }
