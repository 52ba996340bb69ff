package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/exts/network/dhcp4"
	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// The tests below run in network namespaces they create: the test binary
// runs itself again in a new namespace (so every socket netmaster opens
// is in it), and the fake DHCP server lives in a second one, at the other
// end of a veth pair. Nothing leaves them.

const netnsEnv = "SYSMASTER_NETNS_TEST"

// inNetns reports whether the test is running in its namespace; when it
// is not, it runs the test there and reports its result.
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		return true
	}
	if testing.Short() {
		t.Skip("creates network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and veth pairs")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Logf("in its own network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("test in its namespace: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skip("skipped in its namespace")
	}
	return false
}

// fakeServer is a DHCP server for one subnet, 192.0.2.0/24, at
// 192.0.2.1 on the far end of the veth pair.
type fakeServer struct {
	t    *testing.T
	conn *net.UDPConn
	nl   *rtnl.Conn // in the server's namespace
	link int

	mu       sync.Mutex
	lease    uint32 // seconds
	silent   bool
	garbage  bool // send a malformed reply before each real one
	badOffer bool // offer without a server identifier, and nothing else
	nakRenew bool
	offer    netip.Addr // what it gives; clientAddr, then the next one after a DECLINE
	seen     []*dhcp4.Message
	at       []time.Time // when each DISCOVER came
	// extends counts REQUESTs with ciaddr: unicast (renewals, T1) and
	// broadcast (rebinding, T2).
	renewals, rebinds int
}

var (
	serverAddr = netip.MustParseAddr("192.0.2.1")
	clientAddr = netip.MustParseAddr("192.0.2.100")
)

// newVeth creates veth0 here and its peer in a new namespace, where the
// server runs. It returns veth0's index.
func newVeth(t *testing.T) (int, *fakeServer) {
	t.Helper()
	return newVethWith(t, startServer)
}

// newVethWith is newVeth with the servers that start runs, on a thread in
// the server's namespace.
func newVethWith[S any](t *testing.T, start func(*testing.T) (S, error)) (int, S) {
	t.Helper()
	nl, err := rtnl.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	if err := nl.AddVeth("veth0", "veth1"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   S
		err error
	}
	nsFD := make(chan int)
	moved := make(chan error)
	res := make(chan result)
	go func() {
		// This thread moves to the server's namespace and stays there
		// until it ends with the goroutine: what it opens is there.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			close(nsFD)
			res <- result{err: err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			close(nsFD)
			res <- result{err: err}
			return
		}
		nsFD <- fd
		if err := <-moved; err != nil {
			res <- result{err: err}
			return
		}
		s, err := start(t)
		res <- result{s, err}
	}()
	fd, ok := <-nsFD
	if ok {
		peer, err := nl.LinkByName("veth1")
		if err == nil {
			err = nl.SetNetns(peer.Index, fd)
		}
		unix.Close(fd)
		moved <- err
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	l, err := nl.LinkByName("veth0")
	if err != nil {
		t.Fatal(err)
	}
	return l.Index, r.s
}

// startServer runs on a thread in the server's namespace.
func startServer(t *testing.T) (*fakeServer, error) {
	nl, err := rtnl.Dial()
	if err != nil {
		return nil, err
	}
	l, err := nl.LinkByName("veth1")
	if err != nil {
		return nil, err
	}
	if err := nl.AddAddr(rtnl.Addr{Index: l.Index, Prefix: netip.PrefixFrom(serverAddr, 24)}); err != nil {
		return nil, err
	}
	if err := nl.SetUp(l.Index, true); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
				unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1),
				unix.BindToDevice(int(fd), "veth1"))
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:67")
	if err != nil {
		return nil, err
	}
	s := &fakeServer{t: t, conn: pc.(*net.UDPConn), nl: nl, link: l.Index, lease: 3600, offer: clientAddr}
	t.Cleanup(func() { s.conn.Close(); nl.Close() })
	go s.serve()
	return s, nil
}

func (s *fakeServer) set(f func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// count returns how many messages of type typ came, and of them how many
// carried ciaddr (renewals and rebinds).
func (s *fakeServer) count(typ dhcp4.MessageType) (all, withCIAddr int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.seen {
		if m.Type() == typ {
			all++
			if m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified() {
				withCIAddr++
			}
		}
	}
	return all, withCIAddr
}

func (s *fakeServer) serve() {
	buf, oob := make([]byte, 1500), make([]byte, 256)
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		broadcast := false
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				// struct in_pktinfo: ifindex, spec_dst, then the header's
				// destination address.
				if cm.Header.Level == unix.IPPROTO_IP && cm.Header.Type == unix.IP_PKTINFO && len(cm.Data) >= 12 {
					broadcast = [4]byte(cm.Data[8:12]) == [4]byte{255, 255, 255, 255}
				}
			}
		}
		m, err := dhcp4.Decode(buf[:n])
		if err != nil {
			s.t.Logf("fake server: %v", err)
			continue
		}
		s.mu.Lock()
		s.seen = append(s.seen, m)
		if m.Type() == dhcp4.Discover {
			s.at = append(s.at, time.Now())
		}
		if m.Type() == dhcp4.Decline {
			s.offer = s.offer.Next()
		}
		if m.Type() == dhcp4.Request && !m.CIAddr.IsUnspecified() {
			if broadcast {
				s.rebinds++
			} else {
				s.renewals++
			}
		}
		silent, garbage, lease, nakRenew, badOffer, offer := s.silent, s.garbage, s.lease, s.nakRenew, s.badOffer, s.offer
		s.mu.Unlock()
		if silent {
			continue
		}
		var typ dhcp4.MessageType
		switch m.Type() {
		case dhcp4.Discover:
			typ = dhcp4.Offer
		case dhcp4.Request:
			typ = dhcp4.Ack
			renewing := m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified()
			if renewing && nakRenew {
				typ = dhcp4.Nak
			}
		default:
			continue
		}
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68)
		if m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified() {
			dst = netip.AddrPortFrom(m.CIAddr, 68)
		}
		if badOffer {
			r := reply(m, typ, lease, offer)
			delete(r.Options, 54)
			_, _ = s.conn.WriteToUDPAddrPort(r.Encode(), dst)
			continue
		}
		if garbage {
			// Same transaction, but option 51 runs past the end.
			b := reply(m, typ, lease, offer).Encode()
			b = append(b[:240], 53, 1, byte(typ), 51, 200, 0, 0)
			_, _ = s.conn.WriteToUDPAddrPort(b, dst)
		}
		_, _ = s.conn.WriteToUDPAddrPort(reply(m, typ, lease, offer).Encode(), dst)
	}
}

func reply(req *dhcp4.Message, typ dhcp4.MessageType, lease uint32, offer netip.Addr) *dhcp4.Message {
	r := &dhcp4.Message{Op: 2, XID: req.XID, CHAddr: req.CHAddr, YIAddr: offer}
	if typ == dhcp4.Nak {
		r.YIAddr = netip.IPv4Unspecified()
	}
	r.Set(53, []byte{byte(typ)})
	r.Set(54, serverAddr.AsSlice())
	if typ != dhcp4.Nak {
		r.Set(51, []byte{byte(lease >> 24), byte(lease >> 16), byte(lease >> 8), byte(lease)})
		r.Set(1, []byte{255, 255, 255, 0})
		r.Set(3, serverAddr.AsSlice())
		r.Set(6, []byte{192, 0, 2, 53})
		r.Set(15, []byte("lab.example"))
	}
	return r
}

// netmaster is a running Manager under test.
type netmaster struct {
	m      *Manager
	cancel context.CancelFunc
	done   chan error
	log    *logLines
	ready  chan struct{}
	once   sync.Once
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logLines) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// testConfig is a Config in t's temporary directory with fast DHCP
// retries; files are written to its ConfigDir.
func testConfig(t *testing.T, files map[string]string) Config {
	dir := t.TempDir()
	cfg := Config{
		ConfigDir:     filepath.Join(dir, "network"),
		RunDir:        filepath.Join(dir, "run"),
		ResolvConf:    filepath.Join(dir, "resolv.conf"),
		Retry:         200 * time.Millisecond,
		MaxRetry:      time.Second,
		MinRenewRetry: 200 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond,
	}
	if err := os.MkdirAll(cfg.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(cfg.ConfigDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func startNetmaster(t *testing.T, cfg Config) *netmaster {
	t.Helper()
	log := &logLines{}
	cfg.Logf = func(format string, args ...any) {
		log.add(format, args...)
		t.Logf("netmaster: "+format, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &netmaster{m: New(cfg), cancel: cancel, done: make(chan error, 1), log: log, ready: make(chan struct{})}
	go func() { n.done <- n.m.Run(ctx, func() { close(n.ready) }) }()
	select {
	case <-n.ready:
	case err := <-n.done:
		t.Fatalf("netmaster ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("netmaster not ready after 10s")
	}
	t.Cleanup(n.stop)
	return n
}

func (n *netmaster) stop() {
	n.once.Do(func() {
		n.cancel()
		select {
		case err := <-n.done:
			if err != nil {
				n.log.add("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			n.log.add("Run did not return 10s after its context ended")
		}
	})
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasAddr(t *testing.T, index int, p netip.Prefix) bool {
	nl, err := rtnl.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	as, err := nl.Addrs(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.Prefix == p {
			return true
		}
	}
	return false
}

const dhcpVeth0 = "dhcp = \"ipv4\"\nrequired = true\n[match]\nname = \"veth0\"\n"

var leased = netip.PrefixFrom(clientAddr, 24)

// TestLease: a lease from the fake server, its route, resolv.conf, a
// renewal at T1 and one asked for with netctl, status over the control
// socket, and a malformed reply ignored with a clear line.
func TestLease(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVeth(t)
	srv.set(func(s *fakeServer) { s.lease, s.garbage = 4, true })
	cfg := testConfig(t, map[string]string{"10-veth.toml": "dns = [\"192.0.2.54\"]\n" + dhcpVeth0})
	nm := startNetmaster(t, cfg)
	waitFor(t, "online", 15*time.Second, func() bool { ok, _ := nm.m.online(); return ok })
	if !hasAddr(t, index, leased) {
		t.Fatal("online without the leased address")
	}
	if !nm.log.has("ignoring a reply from 192.0.2.1: malformed DHCP message: options: option 51 is 200 bytes long") {
		t.Error("the malformed reply was not reported")
	}
	routes, err := nm.m.nl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range routes {
		if r.Dst.Bits() == 0 && r.Gw == serverAddr && r.Index == index {
			found = true
		}
	}
	if !found {
		t.Errorf("no default route via %s in %+v", serverAddr, routes)
	}
	data, err := os.ReadFile(cfg.ResolvConf)
	if err != nil {
		t.Fatal(err)
	}
	if want := "search lab.example\nnameserver 192.0.2.54\nnameserver 192.0.2.53\n"; !strings.HasSuffix(string(data), want) {
		t.Errorf("resolv.conf:\n%s\nwant it to end in\n%s", data, want)
	}

	// T1 is 2 s: the client renews, unicast, with ciaddr.
	waitFor(t, "a renewal", 10*time.Second, func() bool { _, n := srv.count(dhcp4.Request); return n >= 1 })
	if !hasAddr(t, index, leased) {
		t.Error("address lost across a renewal")
	}

	// netctl status and renew, through the control socket.
	socket := filepath.Join(cfg.RunDir, SocketName)
	var out, errb strings.Builder
	if code := ctl([]string{"netctl", "--socket", socket, "status", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl status: %d %s", code, errb.String())
	}
	for _, want := range []string{"veth0: configured (carrier)", "address:  192.0.2.100/24 (valid", "gateway:  192.0.2.1", "dns:      192.0.2.54 192.0.2.53", "lease:    192.0.2.100/24 from 192.0.2.1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("netctl status lacks %q:\n%s", want, out.String())
		}
	}
	_, before := srv.count(dhcp4.Request)
	if code := ctl([]string{"netctl", "--socket", socket, "renew", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl renew: %d %s", code, errb.String())
	}
	waitFor(t, "the renewal asked for", 5*time.Second, func() bool { _, n := srv.count(dhcp4.Request); return n > before })
	out.Reset()
	if code := ctl([]string{"netctl", "--socket", socket, "--json", "status"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"online": true`) {
		t.Errorf("netctl --json status: %d\n%s", code, out.String())
	}
	errb.Reset()
	if code := ctl([]string{"netctl", "--socket", socket, "renew", "veth9"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `no configured interface "veth9"`) {
		t.Errorf("renew of an unknown interface: %d %q", code, errb.String())
	}
}

// TestExpiry: a server that stops answering lets the lease run out, and
// the address goes; when it answers again, a new lease comes. A NAK to a
// renewal removes the address at once.
func TestExpiry(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVeth(t)
	srv.set(func(s *fakeServer) { s.lease = 6 })
	// A static address too, which keeps the link's routes when the
	// lease goes: its default route must go with it all the same.
	nm := startNetmaster(t, testConfig(t, map[string]string{"10-veth.toml": "address = [\"198.51.100.9/24\"]\n" + dhcpVeth0}))
	waitFor(t, "the lease", 10*time.Second, func() bool { return hasAddr(t, index, leased) })
	defaultVia := func() bool {
		rs, err := nm.m.nl.Routes()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Dst.Bits() == 0 && r.Gw == serverAddr {
				return true
			}
		}
		return false
	}
	if !defaultVia() {
		t.Fatal("no default route from the lease")
	}
	srv.set(func(s *fakeServer) { s.silent = true })
	waitFor(t, "the address removed at expiry", 15*time.Second, func() bool { return !hasAddr(t, index, leased) })
	if defaultVia() {
		t.Error("the lease's default route outlived it")
	}
	if !hasAddr(t, index, netip.MustParsePrefix("198.51.100.9/24")) {
		t.Error("the static address went with the lease")
	}
	if !nm.log.has("lease of 192.0.2.100/24 expired") {
		t.Error("expiry not reported")
	}
	// Renewals went to the server, rebinding requests to everyone.
	srv.mu.Lock()
	renewals, rebinds := srv.renewals, srv.rebinds
	srv.mu.Unlock()
	t.Logf("before expiry: %d renewals, %d rebinds", renewals, rebinds)
	if renewals < 1 || rebinds < 1 {
		t.Errorf("%d renewals (unicast) and %d rebinds (broadcast) before expiry, want both", renewals, rebinds)
	}
	srv.set(func(s *fakeServer) { s.silent, s.lease, s.nakRenew = false, 60, true })
	waitFor(t, "a new lease", 10*time.Second, func() bool { return hasAddr(t, index, leased) })
	nm.m.mu.Lock()
	i := nm.m.ifaces["veth0"]
	nm.m.mu.Unlock()
	if err := i.renew(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the address removed after a NAK", 10*time.Second, func() bool { return !hasAddr(t, index, leased) || nm.log.has("refused to extend") })
	if !nm.log.has("refused to extend 192.0.2.100/24") {
		t.Error("the NAK was not reported")
	}
}

// TestNoServer: nobody answers. The client retries with growing waits and
// says so; network-online names the reason; the link-local fallback
// gives an address meanwhile; a required interface that never appears is
// named too, and the rest goes on.
func TestNoServer(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVeth(t)
	srv.set(func(s *fakeServer) { s.silent = true })
	cfg := testConfig(t, map[string]string{
		"10-veth.toml":   "link_local = true\n" + dhcpVeth0,
		"20-absent.toml": "dhcp = \"ipv4\"\nrequired = true\n[match]\nname = \"wwan0\"\n",
		"30-typo.toml":   "dhcp = \"ipv4\"\n[match]\nnmae = \"veth*\"\n",
	})
	cfg.MaxRetry = 30 * time.Second
	nm := startNetmaster(t, cfg)
	waitFor(t, "three unanswered DISCOVERs", 10*time.Second, func() bool { n, _ := srv.count(dhcp4.Discover); return n >= 3 })
	ok, waiting := nm.m.online()
	if ok {
		t.Fatal("online without a lease")
	}
	joined := strings.Join(waiting, "\n")
	for _, want := range []string{"veth0: no DHCP lease: no DHCP server answered", "no interface matching " + filepath.Join(nm.m.cfg.ConfigDir, "20-absent.toml") + " (name=wwan0) is present"} {
		if !strings.Contains(joined, want) {
			t.Errorf("waiting for %q, want %q in it", joined, want)
		}
	}
	if !nm.log.has("30-typo.toml:3: match.nmae: unknown key (did you mean name?)") {
		t.Error("the typo was not reported")
	}
	// Waits are 200 ms, 400 ms, 800 ms, 1.6 s, 3.2 s…: after the fifth
	// DISCOVER (the next is 2.4 s away at the earliest), netctl renew sends
	// one at once.
	waitFor(t, "five unanswered DISCOVERs", 10*time.Second, func() bool { n, _ := srv.count(dhcp4.Discover); return n >= 5 })
	// Backoff: the waits double (200 ms, 400 ms, 800 ms, 1.6 s, each
	// ±25 %), so five DISCOVERs span 2.25 s at least; a loaded machine
	// only makes that longer. Without backoff it would be 0.8 s.
	srv.mu.Lock()
	at := slices.Clone(srv.at)
	srv.mu.Unlock()
	if span := at[4].Sub(at[0]); span < 2250*time.Millisecond {
		t.Errorf("five DISCOVERs in %v: no backoff", span)
	}
	before, _ := srv.count(dhcp4.Discover)
	var out, errb strings.Builder
	socket := filepath.Join(nm.m.cfg.RunDir, SocketName)
	if code := ctl([]string{"netctl", "--socket", socket, "renew", "veth0"}, &out, &errb); code != 0 {
		t.Fatalf("netctl renew: %d %s", code, errb.String())
	}
	// The next one would come 2.4 s after the fifth at the earliest.
	if left := time.Until(at[4].Add(2300 * time.Millisecond)); left > 200*time.Millisecond {
		waitFor(t, "a DISCOVER at once after netctl renew", left, func() bool { n, _ := srv.count(dhcp4.Discover); return n > before })
	} else {
		t.Log("too slow to tell a renewal from the next retry")
	}
	ll := false
	waitFor(t, "a link-local address", 10*time.Second, func() bool {
		nl, _ := rtnl.Dial()
		defer nl.Close()
		as, _ := nl.Addrs(index)
		for _, a := range as {
			if a.Prefix.Addr().Is4() && a.Prefix.Addr().IsLinkLocalUnicast() {
				ll = true
			}
		}
		return ll
	})
	// The link-local address does not make the interface online, and
	// goes when a lease comes.
	if ok, _ := nm.m.online(); ok {
		t.Error("online with only a link-local address")
	}
	srv.set(func(s *fakeServer) { s.silent = false })
	waitFor(t, "the lease", 10*time.Second, func() bool { return hasAddr(t, index, leased) })
	errb.Reset()
	ctl([]string{"netctl", "--socket", socket, "wait-online", "--timeout", "1s"}, &out, &errb)
	if !strings.Contains(errb.String(), "not online after 1s: no interface matching") {
		t.Errorf("wait-online: %q", errb.String())
	}
}

// TestBrokenServer: a server whose every OFFER is unusable (no server
// identifier) is waited for as if it had not answered: no flood of
// DISCOVERs, a clear line each time.
func TestBrokenServer(t *testing.T) {
	if !inNetns(t) {
		return
	}
	_, srv := newVeth(t)
	srv.set(func(s *fakeServer) { s.badOffer = true })
	nm := startNetmaster(t, testConfig(t, map[string]string{"10-veth.toml": dhcpVeth0}))
	time.Sleep(2500 * time.Millisecond)
	// 200 ms, 400 ms, 800 ms, 1.6 s: five at most, with the jitter.
	if n, _ := srv.count(dhcp4.Discover); n < 2 || n > 6 {
		t.Errorf("%d DISCOVERs in 2.5 s, want 2 to 6", n)
	}
	if !nm.log.has("ignoring an OFFER: malformed DHCP message: option 54 (server identifier) missing") {
		t.Error("the unusable OFFER was not reported")
	}
	if ok, _ := nm.m.online(); ok {
		t.Error("online without a lease")
	}
}

// TestCarrierAndRestart: the link going down and up makes the client ask
// to keep its lease (INIT-REBOOT); a netmaster that stops leaves the
// address, and the next one adopts the lease without asking anew.
func TestCarrierAndRestart(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVeth(t)
	cfg := testConfig(t, map[string]string{"10-veth.toml": dhcpVeth0})
	nm := startNetmaster(t, cfg)
	waitFor(t, "the lease", 10*time.Second, func() bool { return hasAddr(t, index, leased) })
	if err := srv.nl.SetUp(srv.link, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no carrier", 5*time.Second, func() bool { return nm.log.has("carrier lost") })
	requests, _ := srv.count(dhcp4.Request)
	if err := srv.nl.SetUp(srv.link, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "INIT-REBOOT", 10*time.Second, func() bool { n, _ := srv.count(dhcp4.Request); return n > requests })
	srv.mu.Lock()
	last := srv.seen[len(srv.seen)-1]
	srv.mu.Unlock()
	if ip := last.Options[50]; netip.AddrFrom4([4]byte(ip)) != clientAddr || last.CIAddr != netip.IPv4Unspecified() {
		t.Errorf("after the carrier came back: requested %v ciaddr %v, want an INIT-REBOOT for %s", ip, last.CIAddr, clientAddr)
	}
	discovers, _ := srv.count(dhcp4.Discover)

	nm.stop()
	if !hasAddr(t, index, leased) {
		t.Fatal("a stopped netmaster removed the address")
	}
	nm2 := startNetmaster(t, cfg)
	waitFor(t, "online again", 5*time.Second, func() bool { ok, _ := nm2.m.online(); return ok })
	if !nm2.log.has("adopting the lease of 192.0.2.100/24") {
		t.Error("the lease was not adopted")
	}
	if n, _ := srv.count(dhcp4.Discover); n != discovers {
		t.Errorf("the new netmaster sent %d DISCOVERs", n-discovers)
	}
}

// TestHotplug: a link that appears after start is configured when a file
// matches it, with its static address, MTU and route.
func TestHotplug(t *testing.T) {
	if !inNetns(t) {
		return
	}
	nm := startNetmaster(t, testConfig(t, map[string]string{
		"10-hot.toml": "address = [\"198.51.100.7/24\"]\nmtu = 1280\nroutes = [{ to = \"203.0.113.0/24\", via = \"198.51.100.1\" }]\n[match]\nname = \"hot0\"\n",
	}))
	nl, err := rtnl.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if err := nl.AddVeth("hot0", "hot1"); err != nil {
		t.Fatal(err)
	}
	l, err := nl.LinkByName("hot0")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the static address", 5*time.Second, func() bool { return hasAddr(t, l.Index, netip.MustParsePrefix("198.51.100.7/24")) })
	waitFor(t, "the route", 5*time.Second, func() bool {
		rs, _ := nl.Routes()
		for _, r := range rs {
			if r.Dst == netip.MustParsePrefix("203.0.113.0/24") && r.Gw == netip.MustParseAddr("198.51.100.1") {
				return true
			}
		}
		return false
	})
	if l, _ = nl.LinkByName("hot0"); l.MTU != 1280 || !l.Up() {
		t.Errorf("hot0: mtu %d up %v", l.MTU, l.Up())
	}
	lo, err := nl.LinkByName("lo")
	if err != nil || !lo.Up() {
		t.Errorf("lo not up: %+v %v", lo, err)
	}
	if ok, w := nm.m.online(); !ok {
		t.Errorf("not online with nothing required: %v", w)
	}
	// Unplugged: forgotten.
	if err := nl.DelLink(l.Index); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hot0 forgotten", 5*time.Second, func() bool { return len(nm.m.status("hot0")) == 0 })
	if !nm.log.has("hot0: gone") {
		t.Error("the unplugged link was not reported")
	}
}

// TestConflict: an address that another host on the link already has
// answers the client's ARP probes (RFC 5227); the client declines it,
// never puts it on the link, and takes the next one offered.
func TestConflict(t *testing.T) {
	if !inNetns(t) {
		return
	}
	index, srv := newVeth(t)
	// The server's own host has the address it is about to offer: its
	// kernel answers probes for it.
	if err := srv.nl.AddAddr(rtnl.Addr{Index: srv.link, Prefix: netip.PrefixFrom(clientAddr, 24)}); err != nil {
		t.Fatal(err)
	}
	peer, err := srv.nl.LinkByName("veth1")
	if err != nil {
		t.Fatal(err)
	}
	nm := startNetmaster(t, testConfig(t, map[string]string{"10-veth.toml": dhcpVeth0}))
	next := netip.PrefixFrom(clientAddr.Next(), 24)
	waitFor(t, "the next address", 20*time.Second, func() bool { return hasAddr(t, index, next) })
	if hasAddr(t, index, leased) {
		t.Error("the address in use was put on the link")
	}
	if n, _ := srv.count(dhcp4.Decline); n != 1 {
		t.Errorf("%d DECLINEs, want 1", n)
	}
	srv.mu.Lock()
	for _, m := range srv.seen {
		if m.Type() == dhcp4.Decline {
			if ip := m.Options[50]; len(ip) != 4 || netip.AddrFrom4([4]byte(ip)) != clientAddr || netip.AddrFrom4([4]byte(m.Options[54])) != serverAddr {
				t.Errorf("DECLINE for %v to server %v, want %s to %s", ip, m.Options[54], clientAddr, serverAddr)
			}
		}
	}
	srv.mu.Unlock()
	if want := "192.0.2.1 gave 192.0.2.100/24, but 192.0.2.100 is in use by " + peer.MAC.String() + "; declined"; !nm.log.has(want) {
		t.Errorf("no line %q", want)
	}
	waitFor(t, "online", 5*time.Second, func() bool { ok, _ := nm.m.online(); return ok })
}
