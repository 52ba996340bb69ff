package network

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/network/config"
	"github.com/sysmaster-go/sysmaster/exts/network/dhcp6"
)

// TestDUID: the DUID comes from the machine id when it is one, from the
// MAC otherwise; the same inputs give the same DUID.
func TestDUID(t *testing.T) {
	dir := t.TempDir()
	mac := net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	good := filepath.Join(dir, "machine-id")
	bad := filepath.Join(dir, "bad-id")
	if err := os.WriteFile(good, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not an id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		machineID, want string
	}{
		{good, "00:04:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef"},
		{bad, "00:03:00:01:52:54:00:12:34:56"},
		{filepath.Join(dir, "absent"), "00:03:00:01:52:54:00:12:34:56"},
		{"", "00:03:00:01:52:54:00:12:34:56"},
	} {
		m := New(Config{MachineID: tt.machineID})
		i := &iface{m: m, info: config.Link{Name: "eth0", MAC: mac}}
		if got := m.duid(i).String(); got != tt.want {
			t.Errorf("machine id %s: DUID %s, want %s", tt.machineID, got, tt.want)
		}
		if i.iaid() != 0x00123456 {
			t.Errorf("IAID %#x, want the MAC's last four bytes", i.iaid())
		}
	}
}

// TestLease6Record: a lease record comes back as it was saved; a broken
// one, an expired one or one for another IAID is not used.
func TestLease6Record(t *testing.T) {
	cfg := testConfig(t, nil)
	if err := os.MkdirAll(filepath.Join(cfg.RunDir, "leases"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := New(cfg)
	i := &iface{m: m, info: config.Link{Name: "eth0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}}
	l := &dhcp6.Lease{
		IAID: i.iaid(), Addr: clientAddr6, Preferred: time.Hour, Valid: 2 * time.Hour, T1: 30 * time.Minute, T2: 48 * time.Minute,
		ServerID: serverDUID6, DNS: []netip.Addr{dns6}, Domains: []string{"lab6.example"}, Acquired: time.Now().Round(0),
	}
	i.saveLease6(l)
	got := i.loadLease6()
	if got == nil || got.Addr != l.Addr || got.ServerID.String() != l.ServerID.String() || !got.Acquired.Equal(l.Acquired) || got.T2 != l.T2 || len(got.DNS) != 1 {
		t.Fatalf("loaded %+v, saved %+v", got, l)
	}
	l.Acquired = time.Now().Add(-3 * time.Hour)
	i.saveLease6(l)
	if i.loadLease6() != nil {
		t.Error("an expired lease was loaded")
	}
	l.Acquired, l.IAID = time.Now(), l.IAID+1
	i.saveLease6(l)
	if i.loadLease6() != nil {
		t.Error("another IAID's lease was loaded")
	}
	if err := os.WriteFile(i.lease6Path(), []byte(`{"addr":"2001:db8::1","server_id":"zz"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if i.loadLease6() != nil {
		t.Error("a broken record was loaded")
	}
}
