// Package network is the network extension: netmaster, which brings up
// the loopback and every interface that a file in /etc/sysmaster/network
// matches (at start and when one is hotplugged), keeps DHCP leases and
// writes /etc/resolv.conf; and netctl, which asks it how things stand.
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/atomicfile"
	"github.com/sysmaster-go/sysmaster/exts/network/config"
	"github.com/sysmaster-go/sysmaster/exts/network/dhcp4"
	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// Config says where netmaster reads and writes.
type Config struct {
	ConfigDir  string // *.toml network files
	RunDir     string // control socket and lease records
	ResolvConf string // "" leaves resolv.conf alone
	SysDir     string // sysfs, for drivers and device paths
	Hostname   string // sent to DHCP servers; "" sends none
	// MachineID is a file holding the machine id (/etc/machine-id), from
	// which the DHCPv6 DUID comes; without it, from each interface's MAC.
	MachineID string
	// DHCP timing, for both clients; zero values are the RFCs'.
	Retry, MaxRetry, MinRenewRetry time.Duration
	// ProbeInterval paces the ARP check of a DHCPv4 address (RFC 5227);
	// zero is the RFC's 1 s, negative turns it off.
	ProbeInterval time.Duration
	// LinkLocalAfter is how many unanswered DISCOVERs give way to an
	// IPv4 link-local address where link_local is set.
	LinkLocalAfter int
	Logf           func(format string, args ...any)
}

// Manager runs the network.
type Manager struct {
	cfg Config
	nl  *rtnl.Conn

	mu      sync.Mutex
	nets    []*config.Network
	cfgErrs []string
	ifaces  map[string]*iface
	others  map[string]bool // links seen that no file matches
	applied bool

	resolvMu sync.Mutex // one writer of resolv.conf at a time
	resolv   string     // what was last written there
}

// New loads the configuration. Files that do not parse are reported
// through Logf and left out.
func New(cfg Config) *Manager {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.SysDir == "" {
		cfg.SysDir = "/sys"
	}
	if cfg.LinkLocalAfter == 0 {
		cfg.LinkLocalAfter = 3
	}
	m := &Manager{cfg: cfg, ifaces: make(map[string]*iface), others: make(map[string]bool)}
	nets, errs := config.Load(cfg.ConfigDir)
	m.nets = nets
	for _, e := range errs {
		m.cfgErrs = append(m.cfgErrs, e.Error())
		cfg.Logf("bad network file, skipped: %v", e)
	}
	return m
}

func (m *Manager) logf(format string, args ...any) { m.cfg.Logf(format, args...) }

// Run applies the configuration, calls ready once every link present at
// start has been configured (network.target), then follows link events
// until ctx ends. Addresses and leases are left in place on return, for
// the next netmaster to adopt.
func (m *Manager) Run(ctx context.Context, ready func()) error {
	var err error
	if m.nl, err = rtnl.Dial(); err != nil {
		return err
	}
	defer m.nl.Close()
	if err := os.MkdirAll(filepath.Join(m.cfg.RunDir, "leases"), 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	w, err := rtnl.WatchLinks()
	if err != nil {
		return err
	}
	ctl, err := m.listen(ctx)
	if err != nil {
		w.Close()
		return err
	}
	defer ctl.Close()

	events := make(chan []rtnl.Link, 16)
	werr := make(chan error, 1)
	go func() {
		for {
			ls, err := w.Read()
			if errors.Is(err, unix.ENOBUFS) {
				events <- nil // lost events: list again
				continue
			}
			if err != nil {
				werr <- err
				return
			}
			events <- ls
		}
	}()
	defer w.Close()

	if err := m.rescan(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	m.applied = true
	m.mu.Unlock()
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			m.stopAll()
			return nil
		case err := <-werr:
			m.stopAll()
			if ctx.Err() != nil {
				return nil
			}
			return err
		case ls := <-events:
			if ls == nil {
				m.logf("link events were lost; listing the links again")
				if err := m.rescan(ctx); err != nil {
					m.logf("%v", err)
				}
				continue
			}
			for _, l := range ls {
				m.link(ctx, l)
			}
		}
	}
}

// rescan brings up the loopback and handles every link there is.
func (m *Manager) rescan(ctx context.Context) error {
	links, err := m.nl.Links()
	if err != nil {
		return err
	}
	present := make(map[int]bool, len(links))
	for _, l := range links {
		present[l.Index] = true
		m.link(ctx, l)
	}
	// Links that went while events were lost.
	m.mu.Lock()
	var gone []rtnl.Link
	for _, i := range m.ifaces {
		if !present[i.index] {
			gone = append(gone, rtnl.Link{Index: i.index, Name: i.name(), Deleted: true})
		}
	}
	m.mu.Unlock()
	for _, l := range gone {
		m.link(ctx, l)
	}
	return nil
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	ifs := make([]*iface, 0, len(m.ifaces))
	for _, i := range m.ifaces {
		ifs = append(ifs, i)
	}
	m.mu.Unlock()
	for _, i := range ifs {
		i.stop()
	}
}

// link handles a link that appeared, changed or went away.
func (m *Manager) link(ctx context.Context, l rtnl.Link) {
	if l.Flags&net.FlagLoopback != 0 {
		if !l.Up() && !l.Deleted {
			if err := m.nl.SetUp(l.Index, true); err != nil {
				m.logf("%s: %v", l.Name, err)
			} else {
				m.logf("%s: up", l.Name)
			}
		}
		return
	}
	m.mu.Lock()
	// A link renamed, or a name given to another link meanwhile: what was
	// known under the old name or index is stale.
	var stale []*iface
	for name, o := range m.ifaces {
		if (o.index == l.Index) != (name == l.Name) {
			stale = append(stale, o)
			delete(m.ifaces, name)
		}
	}
	i := m.ifaces[l.Name]
	m.mu.Unlock()
	for _, o := range stale {
		m.logf("%s: renamed or replaced", o.name())
		o.stop()
		o.forget()
	}
	m.mu.Lock()
	if l.Deleted {
		delete(m.others, l.Name)
		if i != nil {
			delete(m.ifaces, l.Name)
		}
		m.mu.Unlock()
		if i != nil {
			m.logf("%s: gone", l.Name)
			i.stop()
			i.forget()
			m.writeResolv()
		}
		return
	}
	if i == nil {
		info := m.linkInfo(l)
		n := config.Find(m.nets, info)
		if n == nil {
			m.others[l.Name] = true
			m.mu.Unlock()
			return
		}
		delete(m.others, l.Name)
		i = &iface{m: m, net: n, link: l, info: info, index: l.Index}
		m.ifaces[l.Name] = i
		m.mu.Unlock()
		m.logf("%s: configured by %s", l.Name, n.File)
		i.start(ctx)
		return
	}
	m.mu.Unlock()
	i.update(ctx, l)
}

// linkInfo is what a [match] looks at, from the link and sysfs.
func (m *Manager) linkInfo(l rtnl.Link) config.Link {
	info := config.Link{Name: l.Name, MAC: l.MAC}
	dev := filepath.Join(m.cfg.SysDir, "class/net", l.Name)
	if t, err := os.Readlink(filepath.Join(dev, "device/driver")); err == nil {
		info.Driver = filepath.Base(t)
	}
	if p, err := filepath.EvalSymlinks(dev); err == nil {
		info.Path = strings.TrimPrefix(p, filepath.Clean(m.cfg.SysDir))
	}
	return info
}

// addrsOf lists the addresses on a link.
func (m *Manager) addrsOf(index int) []rtnl.Addr {
	as, err := m.nl.Addrs(index)
	if err != nil {
		m.logf("%v", err)
	}
	return as
}

// online says whether every required interface has an address, and what
// is missing when not.
func (m *Manager) online() (bool, []string) {
	m.mu.Lock()
	applied := m.applied
	nets := slices.Clone(m.nets)
	ifs := make([]*iface, 0, len(m.ifaces))
	for _, i := range m.ifaces {
		ifs = append(ifs, i)
	}
	m.mu.Unlock()
	if !applied {
		return false, []string{"configuration not applied yet"}
	}
	sort.Slice(ifs, func(a, b int) bool { return ifs[a].name() < ifs[b].name() })
	var missing []string
	for _, n := range nets {
		if !n.Required {
			continue
		}
		found := false
		for _, i := range ifs {
			if i.net != n {
				continue
			}
			found = true
			if ok, why := i.online(); !ok {
				missing = append(missing, i.name()+": "+why)
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("no interface matching %s (%s) is present", n.File, describeMatch(n.Match)))
		}
	}
	return len(missing) == 0, missing
}

func describeMatch(m config.Match) string {
	var parts []string
	for _, kv := range [][2]string{{"name", m.Name}, {"mac", m.MAC}, {"driver", m.Driver}, {"path", m.Path}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

// writeResolv writes resolv.conf from every interface's DNS servers and
// domains, atomically, when that changes it. A file netmaster never
// wrote is left alone until there is something to put in it.
func (m *Manager) writeResolv() {
	if m.cfg.ResolvConf == "" {
		return
	}
	m.resolvMu.Lock()
	defer m.resolvMu.Unlock()
	m.mu.Lock()
	names := make([]string, 0, len(m.ifaces))
	for n := range m.ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	var servers []netip.Addr
	var domains []string
	for _, n := range names {
		s, d := m.ifaces[n].dns()
		for _, a := range s {
			if !slices.Contains(servers, a) {
				servers = append(servers, a)
			}
		}
		for _, x := range d {
			if !slices.Contains(domains, x) {
				domains = append(domains, x)
			}
		}
	}
	m.mu.Unlock()
	last := m.resolv
	var b strings.Builder
	b.WriteString("# Written by netmaster from /etc/sysmaster/network and DHCP.\n")
	if len(domains) > 0 {
		b.WriteString("search " + strings.Join(domains, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s.String() + "\n")
	}
	text := b.String()
	if text == last || (last == "" && len(servers) == 0 && len(domains) == 0) {
		return
	}
	if err := atomicfile.Write(m.cfg.ResolvConf, []byte(text), 0o644); err != nil {
		m.logf("resolv.conf: %v", err)
		return
	}
	m.resolv = text
}

// newClient sets up a DHCPv4 client for i.
func (m *Manager) newClient(i *iface) *dhcp4.Client {
	return &dhcp4.Client{
		Index:         i.index,
		Name:          i.name(),
		MAC:           i.info.MAC,
		Hostname:      m.cfg.Hostname,
		Retry:         m.cfg.Retry,
		MaxRetry:      m.cfg.MaxRetry,
		MinRenewRetry: m.cfg.MinRenewRetry,
		ProbeInterval: m.cfg.ProbeInterval,
		Logf: func(format string, args ...any) {
			m.logf("%s: dhcp: %s", i.name(), fmt.Sprintf(format, args...))
		},
	}
}
