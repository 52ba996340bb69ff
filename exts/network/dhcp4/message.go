// Package dhcp4 is a DHCPv4 client (RFC 2131, options from RFC 2132):
// the message format, and a client that obtains a lease, renews it at T1,
// rebinds at T2 and reports its expiry. It configures nothing itself: the
// caller applies each lease.
package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// MessageType is option 53.
type MessageType uint8

// The message types of RFC 2132 section 9.6.
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

func (t MessageType) String() string {
	names := [...]string{"", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Option codes used here (RFC 2132).
const (
	optPad         = 0
	optSubnetMask  = 1
	optRouter      = 3
	optDNS         = 6
	optHostname    = 12
	optDomainName  = 15
	optBroadcast   = 28
	optRequestedIP = 50
	optLeaseTime   = 51
	optOverload    = 52
	optMessageType = 53
	optServerID    = 54
	optParamList   = 55
	optMessage     = 56
	optMaxSize     = 57
	optRenewalT1   = 58
	optRebindingT2 = 59
	optClientID    = 61
	optEnd         = 255
)

const (
	opRequest = 1
	opReply   = 2
	// headerLen is the fixed part, before the magic cookie.
	headerLen = 236
)

var magic = [4]byte{99, 130, 83, 99}

// Message is a DHCP message, the fields a client uses.
type Message struct {
	Op     uint8
	XID    uint32
	Secs   uint16
	Flags  uint16
	CIAddr netip.Addr // client's address, when it has one
	YIAddr netip.Addr // "your" address: the one offered or given
	SIAddr netip.Addr
	GIAddr netip.Addr
	CHAddr net.HardwareAddr
	// Options by code; a repeated option is concatenated (RFC 3396).
	Options map[uint8][]byte
	// order keeps the order options are written in.
	order []uint8
}

// Set sets option code to val.
func (m *Message) Set(code uint8, val []byte) {
	if m.Options == nil {
		m.Options = make(map[uint8][]byte)
	}
	if _, ok := m.Options[code]; !ok {
		m.order = append(m.order, code)
	}
	m.Options[code] = val
}

// Type is the message type, 0 when option 53 is missing or malformed.
func (m *Message) Type() MessageType {
	if v := m.Options[optMessageType]; len(v) == 1 {
		return MessageType(v[0])
	}
	return 0
}

func addr4(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b[:4])
	return a
}

func put4(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

// Encode writes m in wire format, padded to the 300 bytes of a BOOTP
// message that old relays and servers expect.
func (m *Message) Encode() []byte {
	b := make([]byte, headerLen, 576)
	b[0] = m.Op
	b[1] = 1 // Ethernet
	b[2] = byte(len(m.CHAddr))
	binary.BigEndian.PutUint32(b[4:], m.XID)
	binary.BigEndian.PutUint16(b[8:], m.Secs)
	binary.BigEndian.PutUint16(b[10:], m.Flags)
	put4(b[12:], m.CIAddr)
	put4(b[16:], m.YIAddr)
	put4(b[20:], m.SIAddr)
	put4(b[24:], m.GIAddr)
	copy(b[28:44], m.CHAddr)
	b = append(b, magic[:]...)
	for _, code := range m.order {
		v := m.Options[code]
		// Long values are split over repeated options (RFC 3396).
		for first := true; first || len(v) > 0; first = false {
			n := min(len(v), 255)
			b = append(b, code, byte(n))
			b = append(b, v[:n]...)
			v = v[n:]
		}
	}
	b = append(b, optEnd)
	for len(b) < 300 {
		b = append(b, optPad)
	}
	return b
}

// ErrMalformed wraps every reason a message is refused.
var ErrMalformed = errors.New("malformed DHCP message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Decode parses a message. It checks the framing only: what a reply must
// carry is Lease's business.
func Decode(b []byte) (*Message, error) {
	if len(b) < headerLen+len(magic) {
		return nil, malformed("%d bytes, shorter than the %d of a header", len(b), headerLen+len(magic))
	}
	if [4]byte(b[headerLen:headerLen+4]) != magic {
		return nil, malformed("no magic cookie")
	}
	m := &Message{
		Op:      b[0],
		XID:     binary.BigEndian.Uint32(b[4:]),
		Secs:    binary.BigEndian.Uint16(b[8:]),
		Flags:   binary.BigEndian.Uint16(b[10:]),
		CIAddr:  addr4(b[12:]),
		YIAddr:  addr4(b[16:]),
		SIAddr:  addr4(b[20:]),
		GIAddr:  addr4(b[24:]),
		Options: make(map[uint8][]byte),
	}
	if b[1] != 1 || b[2] != 6 {
		return nil, malformed("hardware type %d length %d, not Ethernet", b[1], b[2])
	}
	m.CHAddr = append(net.HardwareAddr(nil), b[28:34]...)
	if err := m.parseOptions(b[headerLen+4:], "options"); err != nil {
		return nil, err
	}
	// Option 52: the file and sname fields carry more options.
	if v, ok := m.Options[optOverload]; ok {
		if len(v) != 1 || v[0] < 1 || v[0] > 3 {
			return nil, malformed("option 52 (overload) is %v", v)
		}
		if v[0]&1 != 0 {
			if err := m.parseOptions(b[108:236], "file field"); err != nil {
				return nil, err
			}
		}
		if v[0]&2 != 0 {
			if err := m.parseOptions(b[44:108], "sname field"); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Message) parseOptions(b []byte, where string) error {
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case optPad:
			i++
			continue
		case optEnd:
			return nil
		}
		if i+1 >= len(b) {
			return malformed("%s: option %d has no length", where, code)
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return malformed("%s: option %d is %d bytes long but only %d remain", where, code, n, len(b)-i-2)
		}
		if _, ok := m.Options[code]; !ok {
			m.order = append(m.order, code)
		}
		m.Options[code] = append(m.Options[code], b[i+2:i+2+n]...)
		i += 2 + n
	}
	// Many servers omit the end option; that is tolerated.
	return nil
}

// Lease is what an ACK (or an OFFER) gives.
type Lease struct {
	Addr     netip.Prefix // address and subnet
	Server   netip.Addr   // option 54: where renewals go
	Routers  []netip.Addr
	DNS      []netip.Addr
	Domain   string
	Duration time.Duration // option 51
	T1, T2   time.Duration // renewal and rebinding times
	// Acquired is when the request that got the lease was sent: the
	// lease's times count from then (RFC 2131 section 4.4.1).
	Acquired time.Time
}

// Expiry is when the lease runs out.
func (l *Lease) Expiry() time.Time { return l.Acquired.Add(l.Duration) }

// infinite is option 51's "forever" (0xffffffff seconds).
const infinite = 0xffffffff

// parseLease reads the lease an OFFER or ACK carries and checks what the
// RFC requires of it. acquired is when the request was sent.
func parseLease(m *Message, acquired time.Time) (*Lease, error) {
	if m.Op != opReply {
		return nil, malformed("op %d is not a reply", m.Op)
	}
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() || m.YIAddr.IsMulticast() || m.YIAddr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil, malformed("offered address %v is not a host address", m.YIAddr)
	}
	l := &Lease{Acquired: acquired}
	sid, ok := m.Options[optServerID]
	if !ok || len(sid) != 4 {
		return nil, malformed("option 54 (server identifier) missing or not 4 bytes")
	}
	l.Server = addr4(sid)
	lt, ok := m.Options[optLeaseTime]
	if !ok || len(lt) != 4 {
		return nil, malformed("option 51 (lease time) missing or not 4 bytes")
	}
	secs := binary.BigEndian.Uint32(lt)
	if secs == 0 {
		return nil, malformed("lease time of 0 seconds")
	}
	l.Duration = seconds(secs)
	bits := 0
	if mask, ok := m.Options[optSubnetMask]; ok {
		if len(mask) != 4 {
			return nil, malformed("option 1 (subnet mask) is %d bytes, not 4", len(mask))
		}
		ones, size := net.IPMask(mask).Size()
		if size != 32 || ones == 0 {
			return nil, malformed("option 1 (subnet mask) %v is not contiguous", net.IP(mask))
		}
		bits = ones
	} else {
		bits = classfulBits(m.YIAddr)
	}
	l.Addr = netip.PrefixFrom(m.YIAddr, bits)
	var err error
	if l.Routers, err = addrList(m, optRouter, "router"); err != nil {
		return nil, err
	}
	if l.DNS, err = addrList(m, optDNS, "DNS server"); err != nil {
		return nil, err
	}
	if d, ok := m.Options[optDomainName]; ok {
		l.Domain = string(trimNul(d))
		if !validDomain(l.Domain) {
			return nil, malformed("option 15 (domain name) %q is not a domain name", l.Domain)
		}
	}
	// T1 and T2 default to 1/2 and 7/8 of the lease; values that break
	// T1 < T2 < lease are replaced by the defaults.
	l.T1, l.T2 = l.Duration/2, l.Duration/8*7
	if secs == infinite {
		l.T1, l.T2 = l.Duration, l.Duration
	}
	t1, t2 := l.T1, l.T2
	if v, ok := m.Options[optRenewalT1]; ok && len(v) == 4 {
		t1 = seconds(binary.BigEndian.Uint32(v))
	}
	if v, ok := m.Options[optRebindingT2]; ok && len(v) == 4 {
		t2 = seconds(binary.BigEndian.Uint32(v))
	}
	if 0 < t1 && t1 < t2 && t2 < l.Duration {
		l.T1, l.T2 = t1, t2
	}
	return l, nil
}

// forever stands for "infinite" (and any longer time): a hundred years,
// which no board outlives.
const forever = 100 * 365 * 24 * time.Hour

// seconds turns an option's seconds into a duration.
func seconds(s uint32) time.Duration {
	return min(time.Duration(s)*time.Second, forever)
}

func addrList(m *Message, code uint8, what string) ([]netip.Addr, error) {
	v, ok := m.Options[code]
	if !ok {
		return nil, nil
	}
	if len(v) == 0 || len(v)%4 != 0 {
		return nil, malformed("option %d (%s) is %d bytes, not a list of addresses", code, what, len(v))
	}
	var out []netip.Addr
	for i := 0; i < len(v); i += 4 {
		a := addr4(v[i:])
		if a.IsUnspecified() || a.IsMulticast() {
			return nil, malformed("option %d (%s) lists %v", code, what, a)
		}
		out = append(out, a)
	}
	return out, nil
}

func classfulBits(a netip.Addr) int {
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	default:
		return 24
	}
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// validDomain accepts what may go on a resolv.conf search line.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
