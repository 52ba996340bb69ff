package rtnl

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// message frames body as one netlink message of type typ.
func message(typ uint16, body []byte) []byte {
	b := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	b = append(b, body...)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestParseLink(t *testing.T) {
	body := ifinfomsg(7, unix.IFF_UP|unix.IFF_LOWER_UP|unix.IFF_BROADCAST, 0)
	body = attr(body, unix.IFLA_IFNAME, cstring("eth0"))
	body = attr(body, unix.IFLA_MTU, u32(1500))
	body = attr(body, unix.IFLA_ADDRESS, []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	two := append(message(unix.RTM_NEWLINK, body), message(unix.RTM_DELLINK, body)...)
	var got []Link
	err := parseMessages(two, func(h unix.NlMsghdr, data []byte) error {
		l, ok := parseLink(h.Type, data)
		if !ok {
			t.Fatalf("message %d not a link", h.Type)
		}
		got = append(got, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d links, want 2", len(got))
	}
	l := got[0]
	if l.Index != 7 || l.Name != "eth0" || l.MTU != 1500 || l.MAC.String() != "52:54:00:12:34:56" || !l.Up() || !l.Lower || l.Deleted {
		t.Errorf("link %+v", l)
	}
	if !got[1].Deleted {
		t.Error("RTM_DELLINK not marked deleted")
	}
}

func TestMalformedMessages(t *testing.T) {
	good := message(unix.RTM_NEWLINK, attr(ifinfomsg(1, 0, 0), unix.IFLA_IFNAME, cstring("lo")))
	for _, tt := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"length past the end", func() []byte {
			b := append([]byte(nil), good...)
			binary.NativeEndian.PutUint32(b, uint32(len(b)+4))
			return b
		}(), false},
		{"length below the header", func() []byte {
			b := append([]byte(nil), good...)
			binary.NativeEndian.PutUint32(b, 4)
			return b
		}(), false},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2, 3), true},
	} {
		err := parseMessages(tt.b, func(unix.NlMsghdr, []byte) error { return nil })
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v", tt.name, err)
		}
	}
	// Attributes with a bad length end the walk instead of reading past.
	n := 0
	attrs([]byte{8, 0, 1, 0, 'a', 'b', 'c', 0, 200, 0, 2, 0}, func(uint16, []byte) { n++ })
	if n != 1 {
		t.Errorf("%d attributes, want the 1 that fits", n)
	}
	if _, ok := parseLink(unix.RTM_NEWLINK, []byte{1, 2, 3}); ok {
		t.Error("a short body parsed as a link")
	}
}

func TestBroadcast(t *testing.T) {
	for p, want := range map[string]string{
		"192.0.2.10/24":  "192.0.2.255",
		"10.0.2.15/8":    "10.255.255.255",
		"169.254.3.4/16": "169.254.255.255",
	} {
		if got := broadcast(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("broadcast(%s) = %s, want %s", p, got, want)
		}
	}
}
