package dhcp4

import (
	"net"
	"net/netip"
	"testing"
)

func TestConflicts(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.100")
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	arp := func(op uint16, sha net.HardwareAddr, spa, tpa netip.Addr) []byte {
		b := arpProbe(sha, tpa)
		b[7] = byte(op)
		s := spa.As4()
		copy(b[14:18], s[:])
		return b
	}
	zero := netip.IPv4Unspecified()
	for _, tt := range []struct {
		name string
		pkt  []byte
		want net.HardwareAddr
	}{
		{"our own probe", arpProbe(testMAC, a), nil},
		{"a reply from its owner", arp(2, other, a, zero), other},
		{"its owner announcing it", arp(1, other, a, a), other},
		{"another host probing for it", arp(1, other, zero, a), other},
		{"another host asking for another", arp(1, other, netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.1")), nil},
		{"short", arpProbe(other, a)[:20], nil},
	} {
		if got := conflicts(tt.pkt, testMAC, a); got.String() != tt.want.String() {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if p := arpProbe(testMAC, a); len(p) != 28 || p[7] != 1 || netip.AddrFrom4([4]byte(p[14:18])) != zero {
		t.Errorf("probe %x: want a request from 0.0.0.0", p)
	}
}
