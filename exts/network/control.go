package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/exts/network/rtnl"
)

// SocketName is the control socket's name in the run directory.
const SocketName = "control.sock"

// DefaultRunDir is netmaster's run directory on a board.
const DefaultRunDir = "/run/netmaster"

// Request is one line a client sends: {"cmd":"status","iface":"eth0"}.
type Request struct {
	Cmd   string `json:"cmd"` // status, renew, online
	Iface string `json:"iface,omitempty"`
}

// Response answers a request; Error is set when it failed.
type Response struct {
	Error      string        `json:"error,omitempty"`
	Interfaces []IfaceStatus `json:"interfaces,omitempty"`
	Online     bool          `json:"online"`
	// Waiting lists what network-online.target still waits for.
	Waiting []string `json:"waiting,omitempty"`
	// ConfigErrors are the files that did not parse.
	ConfigErrors []string `json:"config_errors,omitempty"`
}

// IfaceStatus is how one interface stands.
type IfaceStatus struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	MAC       string   `json:"mac,omitempty"`
	State     string   `json:"state"` // configuring, configured, no-carrier, failed, unmanaged
	Error     string   `json:"error,omitempty"`
	Config    string   `json:"config,omitempty"`
	Required  bool     `json:"required,omitempty"`
	Carrier   bool     `json:"carrier"`
	Addresses []string `json:"addresses,omitempty"`
	Gateway   []string `json:"gateway,omitempty"`
	DNS       []string `json:"dns,omitempty"`
	Domains   []string `json:"domains,omitempty"`
	DHCP      string   `json:"dhcp,omitempty"` // the client's state
	DHCPNote  string   `json:"dhcp_note,omitempty"`
	Lease     *Lease   `json:"lease,omitempty"`
	// The DHCPv6 client's state and lease.
	DHCP6     string `json:"dhcp6,omitempty"`
	DHCP6Note string `json:"dhcp6_note,omitempty"`
	Lease6    *Lease `json:"lease6,omitempty"`
}

// Lease is a DHCP lease as netctl shows it.
type Lease struct {
	Address string `json:"address"`
	Server  string `json:"server"`
	// ServerID is a DHCPv6 server's DUID.
	ServerID string    `json:"server_id,omitempty"`
	Acquired time.Time `json:"acquired"`
	Renew    time.Time `json:"renew"`
	Rebind   time.Time `json:"rebind"`
	Expires  time.Time `json:"expires"`
}

type controlServer struct {
	ln *net.UnixListener
}

func (s *controlServer) Close() error { return s.ln.Close() }

// listen serves the control socket until ctx ends.
func (m *Manager) listen(ctx context.Context) (*controlServer, error) {
	path := filepath.Join(m.cfg.RunDir, SocketName)
	// A socket left by a netmaster that did not end cleanly.
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Anyone may ask how things stand; renew checks who asks.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlServer{ln: ln}
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					m.logf("control socket: %v", err)
				}
				return
			}
			go m.serve(c)
		}
	}()
	return s, nil
}

// maxRequest bounds what a client may send.
const maxRequest = 4096

func (m *Manager) serve(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var req Request
	dec := json.NewDecoder(io.LimitReader(c, maxRequest))
	dec.DisallowUnknownFields()
	var resp Response
	if err := dec.Decode(&req); err != nil {
		resp.Error = fmt.Sprintf("bad request: %v (want one JSON object like {\"cmd\":\"status\"})", err)
	} else {
		resp = m.handle(req, peerUID(c))
	}
	_ = json.NewEncoder(c).Encode(resp)
}

func peerUID(c *net.UnixConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	uid := -1
	_ = rc.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			uid = int(cred.Uid)
		}
	})
	return uid
}

func (m *Manager) handle(req Request, uid int) Response {
	var resp Response
	switch req.Cmd {
	case "status":
		resp.Interfaces = m.status(req.Iface)
		if req.Iface != "" && len(resp.Interfaces) == 0 {
			resp.Error = fmt.Sprintf("no interface %q", req.Iface)
		}
		m.mu.Lock()
		resp.ConfigErrors = append(resp.ConfigErrors, m.cfgErrs...)
		m.mu.Unlock()
	case "renew":
		if uid != 0 && uid != os.Getuid() {
			resp.Error = "renew: permission denied"
			return resp
		}
		m.mu.Lock()
		i := m.ifaces[req.Iface]
		m.mu.Unlock()
		switch {
		case req.Iface == "":
			resp.Error = "renew: which interface?"
		case i == nil:
			resp.Error = fmt.Sprintf("renew: no configured interface %q", req.Iface)
		default:
			if err := i.renew(); err != nil {
				resp.Error = "renew: " + err.Error()
			}
		}
	case "online":
	default:
		resp.Error = fmt.Sprintf("unknown command %q (status, renew, online)", req.Cmd)
	}
	resp.Online, resp.Waiting = m.online()
	return resp
}

func (m *Manager) status(only string) []IfaceStatus {
	m.mu.Lock()
	ifs := make([]*iface, 0, len(m.ifaces))
	for _, i := range m.ifaces {
		if only == "" || i.name() == only {
			ifs = append(ifs, i)
		}
	}
	var others []string
	for n := range m.others {
		if only == "" || n == only {
			others = append(others, n)
		}
	}
	m.mu.Unlock()
	routes, err := m.nl.Routes()
	if err != nil {
		m.logf("%v", err)
	}
	var out []IfaceStatus
	for _, i := range ifs {
		out = append(out, i.status(routes))
	}
	for _, n := range others {
		st := IfaceStatus{Name: n, State: "unmanaged"}
		if l, err := m.nl.LinkByName(n); err == nil {
			st.Index, st.MAC, st.Carrier = l.Index, l.MAC.String(), l.Lower
			st.Addresses = addrStrings(m.addrsOf(l.Index))
		}
		out = append(out, st)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

func addrStrings(as []rtnl.Addr) []string {
	var out []string
	for _, a := range as {
		s := a.Prefix.String()
		if a.Valid != rtnl.Forever {
			s += fmt.Sprintf(" (valid %ds)", a.Valid)
		}
		out = append(out, s)
	}
	return out
}

func (i *iface) status(routes []rtnl.Route) IfaceStatus {
	servers, domains := i.dns()
	i.mu.Lock()
	st := IfaceStatus{
		Name: i.name(), Index: i.index, MAC: i.info.MAC.String(), State: i.state, Error: i.errMsg,
		Config: i.net.File, Required: i.net.Required, Carrier: i.link.Lower,
	}
	if i.dhcp4() {
		st.DHCP, st.DHCPNote = string(i.dstatus.State), i.dstatus.Note
		if st.DHCP == "" {
			st.DHCP = "stopped"
		}
	}
	if l := i.lease; l != nil {
		st.Lease = &Lease{
			Address: l.Addr.String(), Server: l.Server.String(), Acquired: l.Acquired,
			Renew: l.Acquired.Add(l.T1), Rebind: l.Acquired.Add(l.T2), Expires: l.Expiry(),
		}
	}
	if i.dhcp6() {
		st.DHCP6, st.DHCP6Note = string(i.d6status.State), i.d6status.Note
		if st.DHCP6 == "" {
			st.DHCP6 = "stopped"
		}
	}
	if l := i.lease6; l != nil {
		st.Lease6 = &Lease{
			Address: l.Addr.String(), Server: l.Server.String(), ServerID: l.ServerID.String(), Acquired: l.Acquired,
			Renew: l.Acquired.Add(l.T1), Rebind: l.Acquired.Add(l.T2), Expires: l.Expiry(),
		}
	}
	i.mu.Unlock()
	st.Addresses = addrStrings(i.m.addrsOf(i.index))
	for _, r := range routes {
		if r.Index == i.index && r.Dst.Bits() == 0 && r.Gw.IsValid() {
			st.Gateway = append(st.Gateway, r.Gw.String())
		}
	}
	for _, s := range servers {
		st.DNS = append(st.DNS, s.String())
	}
	st.Domains = domains
	return st
}

// Ask sends one request to netmaster's control socket.
func Ask(socket string, req Request, timeout time.Duration) (*Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// DialUnix, not Dial: a Unix address needs no resolver, and naming
	// no host keeps net's DNS code out of smbox.
	c, err := new(net.Dialer).DialUnix(ctx, "unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("netmaster at %s: %w", socket, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("netmaster at %s: %w", socket, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("netmaster at %s: reading the answer: %w", socket, err)
	}
	return &resp, nil
}
