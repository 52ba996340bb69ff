package network

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/exts/network/dhcp6"
	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// fakeServer6 is a DHCPv6 server on veth1, in the server's namespace: it
// listens on ff02::1:2 there, which no other link sees.
type fakeServer6 struct {
	t    *testing.T
	conn *net.UDPConn
	nl   *rtnl.Conn
	link int
	ra   int // a raw ICMPv6 socket, for router advertisements

	mu sync.Mutex
	behaviour6
	seen       []*dhcp6.Message
	solicitsAt []time.Time
}

// behaviour6 is what the fake server does.
type behaviour6 struct {
	preferred, valid, t1, t2 uint32
	silent, garbage, rapid   bool
	badAdvertise             bool // T1 after T2 in every ADVERTISE
	noBinding, notOnLink     bool // refuse renewals, confirmations
	stateless                bool // no addresses: SOLICITs go unanswered
}

var (
	serverDUID6 = dhcp6.DUID{0, 1, 0, 1, 0x2a, 0, 0, 1, 2, 0, 0, 0, 0, 1}
	clientAddr6 = netip.MustParseAddr("2001:db8::100")
	dns6        = netip.MustParseAddr("2001:db8::53")
)

// servers are the DHCPv4 and DHCPv6 servers on the same link.
type servers struct {
	v4 *fakeServer
	v6 *fakeServer6
}

func startServers(t *testing.T) (servers, error) {
	s4, err := startServer(t)
	if err != nil {
		return servers{}, err
	}
	s6, err := startServer6(t)
	return servers{s4, s6}, err
}

// startServer6 runs on a thread in the server's namespace.
func startServer6(t *testing.T) (*fakeServer6, error) {
	// The server's link-local address is usable at once.
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/veth1/accept_dad", []byte("0\n"), 0o644); err != nil {
		return nil, err
	}
	nl, err := rtnl.Dial()
	if err != nil {
		return nil, err
	}
	l, err := nl.LinkByName("veth1")
	if err != nil {
		return nil, err
	}
	if err := nl.SetUp(l.Index, true); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			mreq := &unix.IPv6Mreq{Interface: uint32(l.Index)}
			copy(mreq.Multiaddr[:], netip.MustParseAddr("ff02::1:2").AsSlice())
			serr = errors.Join(unix.BindToDevice(int(fd), "veth1"),
				unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", "[::]:547")
	if err != nil {
		return nil, err
	}
	ra, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(unix.BindToDevice(ra, "veth1"), unix.SetsockoptInt(ra, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255)); err != nil {
		unix.Close(ra)
		return nil, err
	}
	s := &fakeServer6{t: t, conn: pc.(*net.UDPConn), nl: nl, link: l.Index, ra: ra, behaviour6: behaviour6{preferred: 3600, valid: 7200, t1: 1800, t2: 2880}}
	t.Cleanup(func() { s.conn.Close(); nl.Close(); unix.Close(ra) })
	go s.serve()
	return s, nil
}

func (s *fakeServer6) set(f func(s *fakeServer6)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// advertise sends a router advertisement to every node on the link with
// the M and O flags given (0x80, 0x40), and a router lifetime of 0: it
// is no default router.
func (s *fakeServer6) advertise(flags byte) error {
	// Type 134, code 0, checksum (the kernel's), hop limit, flags, router
	// lifetime, reachable time, retransmission timer.
	ra := []byte{134, 0, 0, 0, 64, flags, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	to := &unix.SockaddrInet6{ZoneId: uint32(s.link)}
	copy(to.Addr[:], netip.MustParseAddr("ff02::1").AsSlice())
	return unix.Sendto(s.ra, ra, 0, to)
}

func (s *fakeServer6) count(typ dhcp6.MessageType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.seen {
		if m.Type == typ {
			n++
		}
	}
	return n
}

func (s *fakeServer6) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		m, err := dhcp6.Decode(buf[:n])
		if err != nil {
			s.t.Logf("fake DHCPv6 server: %v", err)
			continue
		}
		s.mu.Lock()
		s.seen = append(s.seen, m)
		if m.Type == dhcp6.Solicit {
			s.solicitsAt = append(s.solicitsAt, time.Now())
		}
		c := s.behaviour6
		s.mu.Unlock()
		if c.silent {
			continue
		}
		r := &dhcp6.Message{TxID: m.TxID}
		cid, _ := m.Get(dhcp6.OptClientID)
		r.Add(dhcp6.OptServerID, serverDUID6)
		r.Add(dhcp6.OptClientID, cid)
		var iaid uint32
		if ia, ok := m.Get(dhcp6.OptIANA); ok && len(ia) >= 4 {
			iaid = binary.BigEndian.Uint32(ia)
		}
		lease := func() {
			t1, t2 := c.t1, c.t2
			if c.badAdvertise && r.Type == dhcp6.Advertise {
				t1, t2 = 100, 50
			}
			r.Add(dhcp6.OptIANA, dhcp6.IANA(iaid, t1, t2, dhcp6.Option{Code: dhcp6.OptIAAddr, Data: dhcp6.IAAddr(clientAddr6, c.preferred, c.valid)}))
			r.Add(dhcp6.OptDNS, dns6.AsSlice())
			r.Add(dhcp6.OptDomainList, dhcp6.EncodeDomains("lab6.example"))
		}
		_, rapid := m.Get(dhcp6.OptRapidCommit)
		switch m.Type {
		case dhcp6.Solicit:
			if c.stateless {
				continue
			}
			r.Type = dhcp6.Advertise
			if rapid && c.rapid {
				r.Type = dhcp6.Reply
				r.Add(dhcp6.OptRapidCommit, nil)
			}
			lease()
		case dhcp6.Request:
			r.Type = dhcp6.Reply
			lease()
		case dhcp6.Renew, dhcp6.Rebind:
			r.Type = dhcp6.Reply
			if c.noBinding {
				r.Add(dhcp6.OptIANA, dhcp6.IANA(iaid, 0, 0, dhcp6.Option{Code: dhcp6.OptStatusCode, Data: append([]byte{0, dhcp6.StatusNoBinding}, "unknown"...)}))
			} else {
				lease()
			}
		case dhcp6.InfoRequest:
			r.Type = dhcp6.Reply
			r.Add(dhcp6.OptDNS, dns6.AsSlice())
			r.Add(dhcp6.OptDomainList, dhcp6.EncodeDomains("lab6.example"))
		case dhcp6.Confirm:
			r.Type = dhcp6.Reply
			code := byte(dhcp6.StatusSuccess)
			if c.notOnLink {
				code = dhcp6.StatusNotOnLink
			}
			r.Add(dhcp6.OptStatusCode, []byte{0, code})
		default:
			continue
		}
		if c.garbage {
			// Same transaction, but an option runs past the end.
			b := append(r.Encode(), 0, 23, 0, 32, 1, 2, 3)
			_, _ = s.conn.WriteToUDPAddrPort(b, from)
		}
		_, _ = s.conn.WriteToUDPAddrPort(r.Encode(), from)
	}
}

const dhcp6Veth0 = "required = true\n[match]\nname = \"veth0\"\n"

var leased6 = netip.PrefixFrom(clientAddr6, 128)

// TestLease6: with dhcp = "both", an IPv4 and an IPv6 lease from the
// servers on the link; both servers' DNS in resolv.conf; the DHCPv6 lease
// renewed at T1 and when netctl asks; netctl status (text and JSON) shows
// it; a malformed reply is ignored with a clear line.
func TestLease6(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVethWith(t, startServers)
	srv.v6.set(func(s *fakeServer6) { s.preferred, s.valid, s.t1, s.t2, s.garbage = 30, 60, 2, 40, true })
	cfg := testConfig(t, map[string]string{"10-veth.toml": "dhcp = \"both\"\n" + dhcp6Veth0})
	nm := startNetmaster(t, cfg)
	waitFor(t, "the DHCPv6 address", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	waitFor(t, "the DHCPv4 address", 20*time.Second, func() bool { return hasAddr(t, index, leased) })
	if n := srv.v6.count(dhcp6.Request); n < 1 {
		t.Errorf("%d REQUESTs: a server without rapid commit was not asked", n)
	}
	if !nm.log.has("dhcp6: ignoring a reply from fe80::") || !nm.log.has("malformed DHCPv6 message: options: option 23 is 32 bytes long but only 3 remain") {
		t.Error("the malformed reply was not reported")
	}
	waitFor(t, "resolv.conf with both leases", 10*time.Second, func() bool {
		data, _ := os.ReadFile(cfg.ResolvConf)
		return strings.Contains(string(data), "nameserver 192.0.2.53\n") && strings.Contains(string(data), "nameserver 2001:db8::53\n") &&
			strings.Contains(string(data), "search lab.example lab6.example\n")
	})
	waitFor(t, "a RENEW at T1", 15*time.Second, func() bool { return srv.v6.count(dhcp6.Renew) >= 1 })
	if !hasAddr(t, index, leased6) {
		t.Error("address lost across a renewal")
	}
	// The DUID is a DUID-LL from veth0's MAC, the same in every message.
	l, err := nm.m.nl.LinkByName("veth0")
	if err != nil {
		t.Fatal(err)
	}
	srv.v6.mu.Lock()
	for _, m := range srv.v6.seen {
		if cid, _ := m.Get(dhcp6.OptClientID); string(cid) != string(dhcp6.DUIDLL(l.MAC)) {
			t.Errorf("%s with client id %s, want %s", m.Type, dhcp6.DUID(cid), dhcp6.DUIDLL(l.MAC))
		}
	}
	srv.v6.mu.Unlock()

	socket := filepath.Join(cfg.RunDir, SocketName)
	var out, errb strings.Builder
	if code := ctl([]string{"netctl", "--socket", socket, "status", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl status: %d %s", code, errb.String())
	}
	for _, want := range []string{"address:  2001:db8::100/128 (valid", "lease6:   2001:db8::100 from fe80::", "(DUID 00:01:00:01:2a:00:00:01:02:00:00:00:00:01)", "dns:      192.0.2.53 2001:db8::53"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("netctl status lacks %q:\n%s", want, out.String())
		}
	}
	// Renewals come every 2 s: it may be renewing just now.
	if !regexp.MustCompile(`dhcp6:    (bound|renewing)\n`).MatchString(out.String()) {
		t.Errorf("netctl status lacks the DHCPv6 client's state:\n%s", out.String())
	}
	renews := srv.v6.count(dhcp6.Renew)
	if code := ctl([]string{"netctl", "--socket", socket, "renew", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl renew: %d %s", code, errb.String())
	}
	waitFor(t, "the RENEW asked for", 10*time.Second, func() bool { return srv.v6.count(dhcp6.Renew) > renews })
	out.Reset()
	if code := ctl([]string{"netctl", "--socket", socket, "--json", "status", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl --json status: %d %s", code, errb.String())
	}
	for _, want := range []string{`"dhcp6": "`, `"lease6": {`, `"address": "2001:db8::100"`, `"server_id": "00:01:00:01:2a:00:00:01:02:00:00:00:00:01"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("netctl --json status lacks %s:\n%s", want, out.String())
		}
	}
}

// TestExpiry6: a server that stops answering lets the lease run out
// (RENEWs, then REBINDs), and the address goes; when it answers again, a
// new lease comes. A renewal refused (NoBinding) removes the address.
func TestExpiry6(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVethWith(t, startServer6)
	srv.set(func(s *fakeServer6) { s.preferred, s.valid, s.t1, s.t2 = 6, 8, 2, 4 })
	nm := startNetmaster(t, testConfig(t, map[string]string{"10-veth.toml": "dhcp = \"ipv6\"\n" + dhcp6Veth0}))
	waitFor(t, "the lease", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	waitFor(t, "online", 5*time.Second, func() bool { ok, _ := nm.m.online(); return ok })
	srv.set(func(s *fakeServer6) { s.silent = true })
	waitFor(t, "the address removed at expiry", 20*time.Second, func() bool { return !hasAddr(t, index, leased6) })
	if !nm.log.has("lease of 2001:db8::100 expired") {
		t.Error("expiry not reported")
	}
	renews, rebinds := srv.count(dhcp6.Renew), srv.count(dhcp6.Rebind)
	t.Logf("before expiry: %d RENEWs, %d REBINDs", renews, rebinds)
	if renews < 1 || rebinds < 1 {
		t.Errorf("%d RENEWs and %d REBINDs before expiry, want both", renews, rebinds)
	}
	// Waits from 200 ms, doubling, over 2 s of renewing and 4 s of
	// rebinding: a dozen at most, not a flood.
	if renews+rebinds > 20 {
		t.Errorf("%d RENEWs and %d REBINDs in 6 s: no backoff", renews, rebinds)
	}
	if ok, why := nm.m.online(); ok {
		t.Error("online without the lease")
	} else if !strings.Contains(strings.Join(why, " "), "no global IPv6 address (from DHCPv6") {
		t.Errorf("waiting for %q", why)
	}
	srv.set(func(s *fakeServer6) {
		s.silent, s.valid, s.preferred, s.t1, s.t2, s.noBinding = false, 600, 300, 150, 240, true
	})
	waitFor(t, "a new lease", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	nm.m.mu.Lock()
	i := nm.m.ifaces["veth0"]
	nm.m.mu.Unlock()
	if err := i.renew(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", 10*time.Second, func() bool { return nm.log.has("refused to extend 2001:db8::100") })
	if !nm.log.has("server said NoBinding (unknown)") {
		t.Error("the refusal's reason was not reported")
	}
}

// TestBrokenServer6: a server whose every ADVERTISE is unusable is waited
// for as if it had not answered: SOLICITs back off, a clear line each
// time, no address.
func TestBrokenServer6(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVethWith(t, startServer6)
	srv.set(func(s *fakeServer6) { s.badAdvertise = true })
	nm := startNetmaster(t, testConfig(t, map[string]string{"10-veth.toml": "dhcp = \"ipv6\"\n" + dhcp6Veth0}))
	waitFor(t, "three SOLICITs", 20*time.Second, func() bool { return srv.count(dhcp6.Solicit) >= 3 })
	waitFor(t, "the report", 5*time.Second, func() bool {
		return nm.log.has("ignoring an ADVERTISE from fe80::") && nm.log.has("malformed DHCPv6 message: IA_NA has T1 100 s after T2 50 s")
	})
	// Waits of about 200 ms, 400 ms, 800 ms. Each is twice the last plus
	// RAND (±10 %) of the last, as RFC 8415 §15 has it, so the shortest
	// are 180, 342 and 650 ms: four SOLICITs span 1.17 s at least, and a
	// loaded machine only makes that longer.
	waitFor(t, "four SOLICITs", 20*time.Second, func() bool { return srv.count(dhcp6.Solicit) >= 4 })
	srv.mu.Lock()
	span := srv.solicitsAt[3].Sub(srv.solicitsAt[0])
	srv.mu.Unlock()
	first := 0.9 * float64(200*time.Millisecond)
	if minSpan := time.Duration(first * (1 + 1.9 + 1.9*1.9)); span < minSpan {
		t.Errorf("four SOLICITs in %v: no backoff", span)
	}
	if srv.count(dhcp6.Request) != 0 || hasAddr(t, index, leased6) {
		t.Error("an unusable ADVERTISE was taken")
	}
	if ok, _ := nm.m.online(); ok {
		t.Error("online without a lease")
	}
}

// TestRestart6: a lease by rapid commit (SOLICIT, REPLY); the link going
// down and up makes the client CONFIRM it; a netmaster that stops leaves
// the address and the next adopts the lease without asking; one that
// finds the address gone confirms the recorded lease and puts it back;
// NotOnLink sends the client looking for a new one.
func TestRestart6(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVethWith(t, startServer6)
	srv.set(func(s *fakeServer6) { s.rapid = true })
	cfg := testConfig(t, map[string]string{"10-veth.toml": "dhcp = \"ipv6\"\ndns = [\"2001:db8::54\"]\n" + dhcp6Veth0})
	nm := startNetmaster(t, cfg)
	waitFor(t, "the lease", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	if n := srv.count(dhcp6.Request); n != 0 {
		t.Errorf("%d REQUESTs after a rapid commit", n)
	}
	if err := srv.nl.SetUp(srv.link, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no carrier", 5*time.Second, func() bool { return nm.log.has("carrier lost") })
	if err := srv.nl.SetUp(srv.link, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a CONFIRM", 20*time.Second, func() bool { return srv.count(dhcp6.Confirm) >= 1 })
	waitFor(t, "confirmed", 10*time.Second, func() bool { return nm.log.has("2001:db8::100 confirmed") })
	if !hasAddr(t, index, leased6) {
		t.Error("the address went across a confirmation")
	}

	nm.stop()
	if !hasAddr(t, index, leased6) {
		t.Fatal("a stopped netmaster removed the address")
	}
	solicits := srv.count(dhcp6.Solicit)
	nm2 := startNetmaster(t, cfg)
	waitFor(t, "online again", 10*time.Second, func() bool { ok, _ := nm2.m.online(); return ok })
	if !nm2.log.has("adopting the DHCPv6 lease of 2001:db8::100") {
		t.Error("the lease was not adopted")
	}
	// resolv.conf, rewritten as the configuration was applied, has the
	// adopted lease's DNS server again.
	if data, err := os.ReadFile(cfg.ResolvConf); err != nil || !strings.HasSuffix(string(data), "nameserver 2001:db8::54\nnameserver 2001:db8::53\n") {
		t.Errorf("resolv.conf after adoption: %q %v", data, err)
	}
	nm2.stop()
	if n := srv.count(dhcp6.Solicit); n != solicits {
		t.Errorf("the new netmaster sent %d SOLICITs", n-solicits)
	}

	// The address gone meanwhile: the record is confirmed, the address
	// put back.
	nl, err := rtnl.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if err := nl.DelAddr(rtnl.Addr{Index: index, Prefix: leased6}); err != nil {
		t.Fatal(err)
	}
	confirms := srv.count(dhcp6.Confirm)
	nm3 := startNetmaster(t, cfg)
	waitFor(t, "the address back", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	if srv.count(dhcp6.Confirm) <= confirms || srv.count(dhcp6.Solicit) != solicits {
		t.Errorf("CONFIRMs %d→%d, SOLICITs %d→%d: want a CONFIRM and no SOLICIT", confirms, srv.count(dhcp6.Confirm), solicits, srv.count(dhcp6.Solicit))
	}
	nm3.stop()

	// NotOnLink: the recorded lease is dropped and a new one asked for.
	if err := nl.DelAddr(rtnl.Addr{Index: index, Prefix: leased6}); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *fakeServer6) { s.notOnLink = true })
	nm4 := startNetmaster(t, cfg)
	waitFor(t, "a new SOLICIT", 20*time.Second, func() bool { return srv.count(dhcp6.Solicit) > solicits })
	waitFor(t, "the address back", 20*time.Second, func() bool { return hasAddr(t, index, leased6) })
	if !nm4.log.has("2001:db8::100 is no longer ours: NotOnLink") {
		t.Error("NotOnLink was not reported")
	}

	// Every message carried the same DUID.
	srv.mu.Lock()
	defer srv.mu.Unlock()
	first, _ := srv.seen[0].Get(dhcp6.OptClientID)
	for _, m := range srv.seen {
		if cid, _ := m.Get(dhcp6.OptClientID); string(cid) != string(first) {
			t.Errorf("%s with client id %s, want %s throughout", m.Type, dhcp6.DUID(cid), dhcp6.DUID(first))
		}
	}
}

// TestStateless6: routers that advertise other configuration but no
// addresses (O without M) make the client ask for DNS servers with an
// INFORMATION-REQUEST instead of soliciting an address.
func TestStateless6(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVethWith(t, startServer6)
	srv.set(func(s *fakeServer6) { s.stateless = true })
	cfg := testConfig(t, map[string]string{"10-veth.toml": "dhcp = \"ipv6\"\n[match]\nname = \"veth0\"\n"})
	nm := startNetmaster(t, cfg)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := srv.advertise(0x40); err != nil {
				t.Errorf("router advertisement: %v", err)
				return
			}
		}
	}()
	waitFor(t, "an INFORMATION-REQUEST", 20*time.Second, func() bool { return srv.count(dhcp6.InfoRequest) >= 1 })
	waitFor(t, "resolv.conf from it", 10*time.Second, func() bool {
		data, _ := os.ReadFile(cfg.ResolvConf)
		return strings.Contains(string(data), "search lab6.example\n") && strings.Contains(string(data), "nameserver 2001:db8::53\n")
	})
	if !nm.log.has("dhcp6: configuration from fe80::") {
		t.Error("the configuration was not reported")
	}
	if st := nm.m.status("veth0"); len(st) != 1 || st[0].DHCP6 != "informed" {
		t.Errorf("status %+v, want dhcp6 informed", st)
	}
	if n := srv.count(dhcp6.Request); n != 0 || hasAddr(t, index, leased6) {
		t.Errorf("%d REQUESTs: an address was asked for", n)
	}
}
