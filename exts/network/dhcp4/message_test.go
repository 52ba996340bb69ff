package dhcp4

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var testMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// ack is a valid ACK for testMAC; edit changes it before it is encoded.
func ack(edit func(m *Message)) []byte {
	m := &Message{Op: opReply, XID: 0x1234, CHAddr: testMAC, YIAddr: netip.MustParseAddr("10.0.2.15")}
	m.Set(optMessageType, []byte{byte(Ack)})
	m.Set(optServerID, []byte{10, 0, 2, 2})
	m.Set(optLeaseTime, []byte{0, 1, 0x51, 0x80}) // 86400 s
	m.Set(optSubnetMask, []byte{255, 255, 255, 0})
	m.Set(optRouter, []byte{10, 0, 2, 2})
	m.Set(optDNS, []byte{10, 0, 2, 3})
	if edit != nil {
		edit(m)
	}
	return m.Encode()
}

func TestEncodeDecode(t *testing.T) {
	m := &Message{Op: opRequest, XID: 0xdeadbeef, Secs: 3, CHAddr: testMAC, CIAddr: netip.MustParseAddr("192.0.2.7")}
	m.Set(optMessageType, []byte{byte(Request)})
	long := []byte(strings.Repeat("x", 300))
	m.Set(optHostname, long) // split over two options, joined again
	b := m.Encode()
	if len(b) < 300 {
		t.Errorf("encoded %d bytes, want at least 300", len(b))
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.XID != m.XID || got.Secs != 3 || got.CIAddr != m.CIAddr || got.CHAddr.String() != testMAC.String() || got.Type() != Request {
		t.Errorf("decoded %+v", got)
	}
	if string(got.Options[optHostname]) != string(long) {
		t.Errorf("long option: %d bytes back, want %d", len(got.Options[optHostname]), len(long))
	}
}

func TestOverload(t *testing.T) {
	b := ack(func(m *Message) { m.Set(optOverload, []byte{1}) })
	// DNS moved into the file field.
	copy(b[108:], []byte{optDomainName, 4, 't', 'e', 's', 't', optEnd})
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	l, err := parseLease(m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.Domain != "test" {
		t.Errorf("domain %q from the file field, want test", l.Domain)
	}
}

func TestParseLease(t *testing.T) {
	l, err := parseLease(mustDecode(t, ack(nil)), time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr != netip.MustParsePrefix("10.0.2.15/24") || l.Server != netip.MustParseAddr("10.0.2.2") ||
		l.Duration != 24*time.Hour || l.T1 != 12*time.Hour || l.T2 != 21*time.Hour ||
		len(l.Routers) != 1 || len(l.DNS) != 1 || !l.Expiry().Equal(time.Unix(1000+86400, 0)) {
		t.Errorf("lease %+v", l)
	}
	// T1 and T2 from the server, when they make sense.
	l, err = parseLease(mustDecode(t, ack(func(m *Message) {
		m.Set(optRenewalT1, []byte{0, 0, 0, 100})
		m.Set(optRebindingT2, []byte{0, 0, 0, 200})
	})), time.Now())
	if err != nil || l.T1 != 100*time.Second || l.T2 != 200*time.Second {
		t.Errorf("T1/T2 from options: %+v %v", l, err)
	}
	l, err = parseLease(mustDecode(t, ack(func(m *Message) {
		m.Set(optRenewalT1, []byte{0, 0, 0, 200})
		m.Set(optRebindingT2, []byte{0, 0, 0, 100}) // T2 before T1: defaults
	})), time.Now())
	if err != nil || l.T1 != 12*time.Hour {
		t.Errorf("inconsistent T1/T2 kept: %+v %v", l, err)
	}
}

func mustDecode(t *testing.T, b []byte) *Message {
	t.Helper()
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMalformed(t *testing.T) {
	truncate := func(n int) func([]byte) []byte { return func(b []byte) []byte { return b[:n] } }
	tests := []struct {
		name string
		edit func(*Message)
		raw  func([]byte) []byte
		want string
	}{
		{"short", nil, truncate(100), "shorter than"},
		{"no cookie", nil, func(b []byte) []byte { b[236] = 0; return b }, "magic cookie"},
		{"not ethernet", nil, func(b []byte) []byte { b[1] = 6; return b }, "not Ethernet"},
		{"option overruns", nil, func(b []byte) []byte {
			return append(b[:240], optLeaseTime, 200, 1, 2)
		}, "option 51 is 200 bytes long"},
		{"option without length", nil, func(b []byte) []byte { return append(b[:240], optRouter) }, "has no length"},
		{"bad overload", func(m *Message) { m.Set(optOverload, []byte{7}) }, nil, "overload"},
		{"no server id", func(m *Message) { delete(m.Options, optServerID) }, nil, "server identifier"},
		{"no lease time", func(m *Message) { delete(m.Options, optLeaseTime) }, nil, "lease time"},
		{"zero lease", func(m *Message) { m.Set(optLeaseTime, []byte{0, 0, 0, 0}) }, nil, "0 seconds"},
		{"no address", func(m *Message) { m.YIAddr = netip.IPv4Unspecified() }, nil, "not a host address"},
		{"broadcast address", func(m *Message) { m.YIAddr = netip.MustParseAddr("255.255.255.255") }, nil, "not a host address"},
		{"mask gap", func(m *Message) { m.Set(optSubnetMask, []byte{255, 0, 255, 0}) }, nil, "not contiguous"},
		{"mask length", func(m *Message) { m.Set(optSubnetMask, []byte{255}) }, nil, "not 4"},
		{"routers length", func(m *Message) { m.Set(optRouter, []byte{10, 0, 2}) }, nil, "not a list of addresses"},
		{"dns zero", func(m *Message) { m.Set(optDNS, []byte{0, 0, 0, 0}) }, nil, "lists 0.0.0.0"},
		{"bad domain", func(m *Message) { m.Set(optDomainName, []byte("a b\nnameserver 1.2.3.4")) }, nil, "not a domain name"},
		{"request not reply", func(m *Message) { m.Op = opRequest }, nil, "not a reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ack(tt.edit)
			if tt.raw != nil {
				b = tt.raw(b)
			}
			m, err := Decode(b)
			if err == nil {
				_, err = parseLease(m, time.Now())
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrMalformed with %q", err, tt.want)
			}
		})
	}
}

func TestIPUDP(t *testing.T) {
	payload := ack(nil)
	pkt := ipUDP(netip.MustParseAddr("10.0.2.2"), broadcastAddr, payload)
	// ipUDP writes from port 68 to 67; parseIPUDP wants 68: swap to read
	// it back as a reply.
	binary.BigEndian.PutUint16(pkt[20:], serverPort)
	binary.BigEndian.PutUint16(pkt[22:], clientPort)
	got, src, ok := parseIPUDP(pkt)
	if !ok || src != netip.MustParseAddr("10.0.2.2") || string(got) != string(payload) {
		t.Fatalf("parseIPUDP: ok=%v src=%v len=%d", ok, src, len(got))
	}
	pkt[8]++ // TTL: the header checksum no longer holds
	if _, _, ok := parseIPUDP(pkt); ok {
		t.Error("accepted a bad header checksum")
	}
}

// FuzzDecode: no input may panic; what decodes and gives a lease gives
// one that holds together.
func FuzzDecode(f *testing.F) {
	f.Add(ack(nil))
	f.Add(ack(func(m *Message) { m.Set(optOverload, []byte{3}) }))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		l, err := parseLease(m, time.Now())
		if err != nil {
			return
		}
		if !l.Addr.IsValid() || l.Duration <= 0 || l.T1 <= 0 || l.T1 > l.T2 || l.T2 > l.Duration {
			t.Fatalf("incoherent lease %+v", l)
		}
		parseIPUDP(b)
	})
}
