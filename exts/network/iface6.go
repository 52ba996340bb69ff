package network

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/atomicfile"
	"github.com/sysmaster-go/sysmaster/exts/network/dhcp6"
	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// The DHCPv6 side of an interface: the client, its lease and its record.

// startDHCP6 starts the DHCPv6 client from the lease it had, or else from
// the one a previous netmaster recorded: adopted when its address is
// still on the link, confirmed (CONFIRM) otherwise.
func (i *iface) startDHCP6(ctx context.Context) {
	i.mu.Lock()
	if i.cancel6 != nil {
		i.mu.Unlock()
		return
	}
	prev := i.lease6
	i.mu.Unlock()
	adopted := false
	if prev == nil {
		prev = i.loadLease6()
		if prev != nil {
			for _, a := range i.m.addrsOf(i.index) {
				if a.Prefix.Addr() == prev.Addr {
					adopted = true
				}
			}
			if adopted {
				i.logf("adopting the DHCPv6 lease of %s (expires %s)", prev.Addr, prev.Expiry().Format(time.RFC3339))
			}
		}
	}
	c := i.m.newClient6(i)
	c.Bound = i.bound6
	c.Lost = i.lost6
	c.Stateless = func() bool {
		seen, managed, other, err := i.m.nl.RAFlags(i.index)
		return err == nil && seen && other && !managed
	}
	c.Informed = func(in *dhcp6.Info) {
		i.mu.Lock()
		i.info6 = in
		if in != nil && i.state != "failed" {
			i.state = "configured"
		}
		i.mu.Unlock()
		i.m.writeResolv()
	}
	c.Changed = func(s dhcp6.Status) {
		i.mu.Lock()
		i.d6status = s
		i.mu.Unlock()
	}
	c.Prepare()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	i.mu.Lock()
	i.client6, i.cancel6, i.done6 = c, cancel, done
	i.lease6 = prev
	switch {
	case adopted:
		i.state = "configured"
	case i.state != "failed" && i.lease == nil:
		i.state = "configuring"
	}
	i.mu.Unlock()
	if adopted {
		i.m.writeResolv()
	}
	go func() {
		defer close(done)
		_ = c.Run(cctx, prev, adopted)
	}()
}

// bound6 puts a DHCPv6 address on the link, as a /128: which prefixes are
// on the link is for router advertisements to say (RFC 8415 section
// 21.6). The kernel is given the lifetimes, so the address goes by
// itself should netmaster not be there when they end.
func (i *iface) bound6(l *dhcp6.Lease) error {
	left := time.Until(l.Expiry())
	if left <= 0 {
		return fmt.Errorf("lease of %s already expired", l.Addr)
	}
	valid := uint32(min(left/time.Second+1, rtnl.Forever-1))
	pref := uint32(0)
	if p := time.Until(l.Acquired.Add(l.Preferred)); p > 0 {
		pref = uint32(min(p/time.Second+1, time.Duration(valid)))
	}
	if l.Valid >= 50*365*24*time.Hour {
		valid, pref = rtnl.Forever, rtnl.Forever
	}
	i.mu.Lock()
	i.lease6 = l
	if i.state != "failed" {
		i.state = "configured"
	}
	i.mu.Unlock()
	// As for DHCPv4: the servers are in resolv.conf before the address
	// makes the interface online.
	i.m.writeResolv()
	err := i.m.nl.AddAddr(rtnl.Addr{Index: i.index, Prefix: netip.PrefixFrom(l.Addr, 128), Valid: valid, Preferred: pref})
	i.saveLease6(l)
	return err
}

func (i *iface) lost6(l *dhcp6.Lease) {
	err := i.m.nl.DelAddr(rtnl.Addr{Index: i.index, Prefix: netip.PrefixFrom(l.Addr, 128)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		i.logf("%v", err)
	}
	i.logf("removed %s", l.Addr)
	i.mu.Lock()
	if i.lease6 != nil && i.lease6.Addr == l.Addr {
		i.lease6 = nil
	}
	if i.state != "failed" && i.lease == nil {
		i.state = "configuring"
	}
	i.mu.Unlock()
	_ = os.Remove(i.lease6Path())
	i.m.writeResolv()
}

// lease6Record is a DHCPv6 lease as kept under /run.
type lease6Record struct {
	IAID      uint32        `json:"iaid"`
	Addr      netip.Addr    `json:"addr"`
	Preferred time.Duration `json:"preferred"`
	Valid     time.Duration `json:"valid"`
	T1        time.Duration `json:"t1"`
	T2        time.Duration `json:"t2"`
	ServerID  string        `json:"server_id"` // hex
	Server    netip.Addr    `json:"server"`
	DNS       []netip.Addr  `json:"dns,omitempty"`
	Domains   []string      `json:"domains,omitempty"`
	Acquired  time.Time     `json:"acquired"`
}

func (i *iface) lease6Path() string {
	return filepath.Join(i.m.cfg.RunDir, "leases", i.name()+".v6.json")
}

func (i *iface) saveLease6(l *dhcp6.Lease) {
	r := lease6Record{
		IAID: l.IAID, Addr: l.Addr, Preferred: l.Preferred, Valid: l.Valid, T1: l.T1, T2: l.T2,
		ServerID: hex.EncodeToString(l.ServerID), Server: l.Server, DNS: l.DNS, Domains: l.Domains, Acquired: l.Acquired,
	}
	data, err := json.Marshal(r)
	if err == nil {
		err = atomicfile.Write(i.lease6Path(), data, 0o644)
	}
	if err != nil {
		i.logf("saving the DHCPv6 lease: %v", err)
	}
}

func (i *iface) loadLease6() *dhcp6.Lease {
	data, err := os.ReadFile(i.lease6Path())
	if err != nil {
		return nil
	}
	var r lease6Record
	var sid []byte
	err = json.Unmarshal(data, &r)
	if err == nil {
		sid, err = hex.DecodeString(r.ServerID)
	}
	if err != nil || !r.Addr.Is6() || len(sid) < 2 || r.Valid <= 0 || r.IAID != i.iaid() {
		i.logf("ignoring a bad DHCPv6 lease record %s", i.lease6Path())
		return nil
	}
	l := &dhcp6.Lease{
		IAID: r.IAID, Addr: r.Addr, Preferred: r.Preferred, Valid: r.Valid, T1: r.T1, T2: r.T2,
		ServerID: sid, Server: r.Server, DNS: r.DNS, Domains: r.Domains, Acquired: r.Acquired,
	}
	if !time.Now().Before(l.Expiry()) {
		return nil
	}
	return l
}

// iaid names the interface's IA_NA: from its MAC, which does not change
// across restarts, or from its name.
func (i *iface) iaid() uint32 {
	if mac := i.info.MAC; len(mac) >= 4 {
		return binary.BigEndian.Uint32(mac[len(mac)-4:])
	}
	h := fnv.New32a()
	h.Write([]byte(i.name()))
	return h.Sum32()
}

// duid is the client's DUID: DUID-UUID from the machine id when there is
// one, else DUID-LL from the interface's MAC. Both stay the same across
// restarts, so a server gives the same address again.
func (m *Manager) duid(i *iface) dhcp6.DUID {
	if m.cfg.MachineID != "" {
		if data, err := os.ReadFile(m.cfg.MachineID); err == nil {
			id, err := hex.DecodeString(strings.TrimSpace(string(data)))
			if err == nil && len(id) == 16 {
				return dhcp6.DUIDUUID([16]byte(id))
			}
			m.logf("%s is not a machine id (32 hex digits); the DHCPv6 DUID comes from the MAC", m.cfg.MachineID)
		}
	}
	mac := i.info.MAC
	if len(mac) == 0 {
		// No hardware address: the name, hashed, stands in for one.
		h := fnv.New64a()
		h.Write([]byte(i.name()))
		mac = h.Sum(nil)[:6]
	}
	return dhcp6.DUIDLL(mac)
}

// newClient6 sets up a DHCPv6 client for i.
func (m *Manager) newClient6(i *iface) *dhcp6.Client {
	return &dhcp6.Client{
		Index:       i.index,
		Name:        i.name(),
		DUID:        m.duid(i),
		IAID:        i.iaid(),
		RapidCommit: true,
		Retry:       m.cfg.Retry,
		MaxRetry:    m.cfg.MaxRetry,
		RenewRetry:  m.cfg.MinRenewRetry,
		Logf: func(format string, args ...any) {
			m.logf("%s: dhcp6: %s", i.name(), fmt.Sprintf(format, args...))
		},
	}
}
