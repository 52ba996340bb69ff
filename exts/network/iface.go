package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/atomicfile"
	"github.com/sysmaster-go/sysmaster/exts/network/config"
	"github.com/sysmaster-go/sysmaster/exts/network/dhcp4"
	"github.com/sysmaster-go/sysmaster/exts/network/dhcp6"
	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// dhcpMetric is the metric of routes from DHCP, above a static gateway's;
// the link index keeps two interfaces' default routes apart.
const dhcpMetric = 1024

// iface is one interface a file matched.
type iface struct {
	m     *Manager
	net   *config.Network
	info  config.Link
	index int // the link's, which never changes

	mu      sync.Mutex
	link    rtnl.Link
	state   string // configuring, configured, no-carrier, failed
	errMsg  string
	client  *dhcp4.Client
	cancel  context.CancelFunc
	done    chan struct{}
	lease   *dhcp4.Lease
	dstatus dhcp4.Status
	ll      netip.Prefix // the IPv4 link-local address given, if any

	// The DHCPv6 client, as the DHCPv4 one above.
	client6  *dhcp6.Client
	cancel6  context.CancelFunc
	done6    chan struct{}
	lease6   *dhcp6.Lease
	info6    *dhcp6.Info // stateless: DNS without an address
	d6status dhcp6.Status
}

func (i *iface) name() string { return i.info.Name }

func (i *iface) logf(format string, args ...any) {
	i.m.logf("%s: %s", i.name(), fmt.Sprintf(format, args...))
}

func (i *iface) dhcp4() bool { return i.net.DHCP == "ipv4" || i.net.DHCP == "both" }

func (i *iface) dhcp6() bool { return i.net.DHCP == "ipv6" || i.net.DHCP == "both" }

// dhcp says whether any DHCP client runs here.
func (i *iface) dhcp() bool { return i.dhcp4() || i.dhcp6() }

// start applies the static part of the configuration and, with a
// carrier, starts DHCP.
func (i *iface) start(ctx context.Context) {
	nl, n := i.m.nl, i.net
	var errs []error
	if n.MTU != 0 && i.link.MTU != n.MTU {
		errs = append(errs, nl.SetMTU(i.index, n.MTU))
	}
	if !i.link.Up() {
		errs = append(errs, nl.SetUp(i.index, true))
	}
	if n.DHCP == "ipv6" || n.DHCP == "both" {
		// Addresses from router advertisements (SLAAC); the kernel does
		// the work.
		for _, k := range []string{"accept_ra", "autoconf"} {
			p := filepath.Join("/proc/sys/net/ipv6/conf", i.name(), k)
			if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for _, a := range n.Addrs {
		errs = append(errs, nl.AddAddr(rtnl.Addr{Index: i.index, Prefix: a}))
	}
	if n.Gw.IsValid() {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if n.Gw.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		errs = append(errs, nl.AddRoute(rtnl.Route{Dst: dst, Gw: n.Gw, Index: i.index}))
	}
	for _, r := range n.Routes {
		errs = append(errs, nl.AddRoute(rtnl.Route{Dst: r.Dst, Gw: r.Gw, Index: i.index, Metric: r.Metric}))
	}
	err := errors.Join(errs...)
	i.mu.Lock()
	i.state = "configured"
	if err != nil {
		i.state, i.errMsg = "failed", err.Error()
	}
	i.mu.Unlock()
	if err != nil {
		i.logf("%v", err)
	}
	i.m.writeResolv()
	if i.dhcp() {
		if i.link.Lower {
			i.startDHCP(ctx)
		} else {
			i.setState("no-carrier")
		}
	}
	if !i.dhcp4() {
		i.linkLocal()
	}
}

func (i *iface) setState(s string) {
	i.mu.Lock()
	if i.state != "failed" {
		i.state = s
	}
	i.mu.Unlock()
}

// update follows a change of the link: carrier lost, the DHCP clients
// stop (the leases and their addresses stay); carrier back, they ask to
// keep the leases (INIT-REBOOT, CONFIRM).
func (i *iface) update(ctx context.Context, l rtnl.Link) {
	i.mu.Lock()
	was := i.link
	i.link = l
	i.mu.Unlock()
	switch {
	case was.Lower && !l.Lower:
		i.logf("carrier lost")
		if i.dhcp() {
			i.stop()
			i.setState("no-carrier")
		}
	case !was.Lower && l.Lower:
		i.logf("carrier")
		if i.dhcp() {
			i.startDHCP(ctx)
		}
	}
}

// startDHCP starts the DHCP clients the file asks for.
func (i *iface) startDHCP(ctx context.Context) {
	if i.dhcp4() {
		i.startDHCP4(ctx)
	}
	if i.dhcp6() {
		i.startDHCP6(ctx)
	}
}

// startDHCP4 starts the client from the lease it had, or else from the
// one a previous netmaster recorded: adopted when its address is still on
// the link, asked for again (INIT-REBOOT) otherwise.
func (i *iface) startDHCP4(ctx context.Context) {
	i.mu.Lock()
	if i.cancel != nil {
		i.mu.Unlock()
		return
	}
	prev := i.lease
	i.mu.Unlock()
	adopted := false
	if prev == nil {
		prev = i.loadLease()
		if prev != nil {
			for _, a := range i.m.addrsOf(i.index) {
				if a.Prefix == prev.Addr {
					adopted = true
				}
			}
			if adopted {
				i.logf("adopting the lease of %s (expires %s)", prev.Addr, prev.Expiry().Format(time.RFC3339))
			}
		}
	}
	c := i.m.newClient(i)
	c.Bound = i.bound
	c.Lost = i.lost
	c.Changed = func(s dhcp4.Status) {
		i.mu.Lock()
		i.dstatus = s
		i.mu.Unlock()
		if s.Attempts >= i.m.cfg.LinkLocalAfter {
			i.linkLocal()
		}
	}
	c.Prepare()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	i.mu.Lock()
	i.client, i.cancel, i.done = c, cancel, done
	i.lease = prev
	i.state = "configuring"
	if adopted {
		i.state = "configured"
	}
	i.mu.Unlock()
	if adopted {
		// Its DNS servers too, which resolv.conf as the configuration
		// was applied lacked.
		i.m.writeResolv()
	}
	go func() {
		defer close(done)
		_ = c.Run(cctx, prev, adopted)
	}()
}

// stop ends the DHCP clients and waits for them, leaving the addresses.
func (i *iface) stop() {
	i.mu.Lock()
	cancel, done := i.cancel, i.done
	i.cancel, i.done, i.client = nil, nil, nil
	cancel6, done6 := i.cancel6, i.done6
	i.cancel6, i.done6, i.client6 = nil, nil, nil
	i.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if cancel6 != nil {
		cancel6()
		<-done6
	}
}

// forget drops the records of a link that went away.
func (i *iface) forget() {
	_ = os.Remove(i.leasePath())
	_ = os.Remove(i.lease6Path())
}

func (i *iface) bound(l *dhcp4.Lease) error {
	nl := i.m.nl
	left := time.Until(l.Expiry())
	if left <= 0 {
		return fmt.Errorf("lease of %s already expired", l.Addr)
	}
	valid := uint32(min(left/time.Second+1, rtnl.Forever-1))
	i.mu.Lock()
	i.lease = l
	ll := i.ll
	i.ll = netip.Prefix{}
	if i.state != "failed" {
		i.state = "configured"
	}
	i.mu.Unlock()
	// resolv.conf names the lease's servers before the address is up:
	// the interface counts as online once the address is there, and a
	// unit started then must find them.
	i.m.writeResolv()
	var errs []error
	// The kernel removes the address itself should the lease run out
	// while netmaster is not running.
	errs = append(errs, nl.AddAddr(rtnl.Addr{Index: i.index, Prefix: l.Addr, Valid: valid, Preferred: valid}))
	if len(l.Routers) > 0 {
		errs = append(errs, nl.AddRoute(i.dhcpRoute(l)))
	}
	if ll.IsValid() {
		if err := nl.DelAddr(rtnl.Addr{Index: i.index, Prefix: ll}); err != nil {
			i.logf("%v", err)
		}
	}
	i.saveLease(l)
	return errors.Join(errs...)
}

// dhcpRoute is the default route a lease gives.
func (i *iface) dhcpRoute(l *dhcp4.Lease) rtnl.Route {
	return rtnl.Route{
		Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gw: l.Routers[0],
		Index: i.index, Metric: dhcpMetric + uint32(i.index), Proto: unix.RTPROT_DHCP,
	}
}

func (i *iface) lost(l *dhcp4.Lease) {
	// The default route first: it would outlive the address when a
	// static one keeps the link's routes.
	if len(l.Routers) > 0 {
		_ = i.m.nl.DelRoute(i.dhcpRoute(l))
	}
	err := i.m.nl.DelAddr(rtnl.Addr{Index: i.index, Prefix: l.Addr})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		i.logf("%v", err)
	}
	i.logf("removed %s", l.Addr)
	i.mu.Lock()
	if i.lease == l || (i.lease != nil && i.lease.Addr == l.Addr) {
		i.lease = nil
	}
	if i.state != "failed" && i.lease6 == nil {
		i.state = "configuring"
	}
	i.mu.Unlock()
	_ = os.Remove(i.leasePath())
	i.m.writeResolv()
	i.linkLocal()
}

// linkLocal gives the interface an IPv4 link-local address (RFC 3927)
// when its file asks for one and it has no other IPv4 address. The
// address is derived from the MAC, so it stays the same across boots.
func (i *iface) linkLocal() {
	if !i.net.LinkLocal {
		return
	}
	i.mu.Lock()
	busy := i.ll.IsValid() || i.lease != nil
	i.mu.Unlock()
	if busy {
		return
	}
	for _, a := range i.net.Addrs {
		if a.Addr().Is4() {
			return
		}
	}
	// The MAC picks the address, so a board asks for the same one at every
	// boot; any well-mixed hash does (FNV: crypto would grow smbox).
	f := fnv.New32a()
	f.Write(i.info.MAC)
	h := f.Sum(nil)
	// 169.254.1.0 to 169.254.254.255, as section 2.1 asks.
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, 1 + h[0]%254, h[1]}), 16)
	if err := i.m.nl.AddAddr(rtnl.Addr{Index: i.index, Prefix: p}); err != nil {
		i.logf("link-local address: %v", err)
		return
	}
	i.logf("link-local address %s", p)
	i.mu.Lock()
	i.ll = p
	i.mu.Unlock()
}

// online says whether the interface has the address it is waiting for.
func (i *iface) online() (bool, string) {
	i.mu.Lock()
	state, errMsg, note, note6 := i.state, i.errMsg, i.dstatus.Note, i.d6status.Note
	i.mu.Unlock()
	if state == "failed" {
		return false, "configuration failed: " + errMsg
	}
	if state == "no-carrier" {
		return false, "no carrier"
	}
	// With DHCPv4 the interface waits for IPv4 (a kernel's SLAAC address
	// must not count), with "ipv6" for IPv6; static ones take either.
	want4, want6 := true, true
	switch i.net.DHCP {
	case "ipv4", "both":
		want6 = false
	case "ipv6":
		want4 = false
	}
	for _, a := range i.m.addrsOf(i.index) {
		ip := a.Prefix.Addr()
		if ip.IsLinkLocalUnicast() || ip.IsLoopback() {
			continue
		}
		if ip.Is4() && want4 || ip.Is6() && want6 {
			return true, ""
		}
	}
	switch {
	case !want4 && note6 != "":
		return false, "no global IPv6 address (from DHCPv6: " + note6 + "; or router advertisements) yet"
	case !want4:
		return false, "no global IPv6 address (from DHCPv6 or router advertisements) yet"
	case i.dhcp4() && note != "":
		return false, "no DHCP lease: " + note
	case i.dhcp4():
		return false, "no DHCP lease yet"
	}
	return false, "no address"
}

// dns is what the interface adds to resolv.conf.
func (i *iface) dns() ([]netip.Addr, []string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	servers := append([]netip.Addr(nil), i.net.DNSAddr...)
	domains := append([]string(nil), i.net.Domains...)
	if i.lease != nil {
		servers = append(servers, i.lease.DNS...)
		if i.lease.Domain != "" {
			domains = append(domains, i.lease.Domain)
		}
	}
	if i.lease6 != nil {
		servers = append(servers, i.lease6.DNS...)
		domains = append(domains, i.lease6.Domains...)
	}
	if i.info6 != nil {
		servers = append(servers, i.info6.DNS...)
		domains = append(domains, i.info6.Domains...)
	}
	return servers, domains
}

func (i *iface) renew() error {
	i.mu.Lock()
	c, c6 := i.client, i.client6
	i.mu.Unlock()
	if c == nil && c6 == nil {
		if !i.dhcp() {
			return fmt.Errorf("%s: not configured by DHCP", i.name())
		}
		return fmt.Errorf("%s: DHCP is not running (no carrier)", i.name())
	}
	if c != nil {
		c.Renew()
	}
	if c6 != nil {
		c6.Renew()
	}
	return nil
}

// leaseRecord is a lease as kept under /run, for the next netmaster.
type leaseRecord struct {
	Addr     netip.Prefix  `json:"addr"`
	Server   netip.Addr    `json:"server"`
	Routers  []netip.Addr  `json:"routers,omitempty"`
	DNS      []netip.Addr  `json:"dns,omitempty"`
	Domain   string        `json:"domain,omitempty"`
	Duration time.Duration `json:"duration"`
	T1       time.Duration `json:"t1"`
	T2       time.Duration `json:"t2"`
	Acquired time.Time     `json:"acquired"`
}

func (i *iface) leasePath() string {
	return filepath.Join(i.m.cfg.RunDir, "leases", i.name()+".json")
}

func (i *iface) saveLease(l *dhcp4.Lease) {
	data, err := json.Marshal(leaseRecord(*l))
	if err == nil {
		err = atomicfile.Write(i.leasePath(), data, 0o644)
	}
	if err != nil {
		i.logf("saving the lease: %v", err)
	}
}

func (i *iface) loadLease() *dhcp4.Lease {
	data, err := os.ReadFile(i.leasePath())
	if err != nil {
		return nil
	}
	var r leaseRecord
	if err := json.Unmarshal(data, &r); err != nil || !r.Addr.IsValid() || !r.Server.IsValid() || r.Duration <= 0 {
		i.logf("ignoring a bad lease record %s", i.leasePath())
		return nil
	}
	l := dhcp4.Lease(r)
	if !time.Now().Before(l.Expiry()) {
		return nil
	}
	return &l
}
