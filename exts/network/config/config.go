// Package config reads the network configuration of a board:
// /etc/sysmaster/network/*.toml, one file per set of interfaces. Decoding
// is strict: an unknown key, a wrong type or a bad value names the file,
// the line and the key, and suggests the nearest key. The image builder
// checks the files with it; netmaster applies them.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// Dir is where the configuration lives on the board.
const Dir = "/etc/sysmaster/network"

// DefaultName is the file name of the default configuration an image
// carries; a file of the same name in an image's extra files replaces it.
const DefaultName = "50-default.toml"

//go:embed default.toml
var defaultConfig []byte

// Default returns the configuration an image ships: eth0 by DHCP.
func Default() []byte { return slices.Clone(defaultConfig) }

// Network is one file: which interfaces it applies to and what they get.
type Network struct {
	File  string `toml:"-"`
	Match Match  `toml:"match"`
	// DHCP is "ipv4", "ipv6", "both" or "no" (the default).
	DHCP string `toml:"dhcp"`
	// Address lists static addresses with their prefix length.
	Address []string `toml:"address"`
	Gateway string   `toml:"gateway"`
	DNS     []string `toml:"dns"`
	// Domains are the DNS search domains.
	Domains []string `toml:"domains"`
	MTU     int      `toml:"mtu"`
	// LinkLocal gives an IPv4 link-local address (169.254.0.0/16) while
	// the interface has no other IPv4 address.
	LinkLocal bool `toml:"link_local"`
	// Required makes network-online.target wait for an address here.
	Required bool    `toml:"required"`
	Routes   []Route `toml:"routes"`

	// Decoded values, valid after Parse.
	Addrs   []netip.Prefix `toml:"-"`
	Gw      netip.Addr     `toml:"-"`
	DNSAddr []netip.Addr   `toml:"-"`
}

// Match selects interfaces. Every key given must match; a file without a
// [match] matches nothing.
type Match struct {
	// Name is a shell glob on the interface name ("eth*").
	Name string `toml:"name"`
	// MAC is the interface's hardware address.
	MAC string `toml:"mac"`
	// Driver is a glob on the kernel driver ("virtio_net", "e1000*").
	Driver string `toml:"driver"`
	// Path is a glob on the device's sysfs path below /sys
	// ("/devices/pci0000:00/0000:00:02.0/*").
	Path string `toml:"path"`

	mac net.HardwareAddr
}

// Route is a static route.
type Route struct {
	To     string `toml:"to"`
	Via    string `toml:"via"`
	Metric uint32 `toml:"metric"`

	Dst netip.Prefix `toml:"-"`
	Gw  netip.Addr   `toml:"-"`
}

// Link is what a Match looks at.
type Link struct {
	Name   string
	MAC    net.HardwareAddr
	Driver string
	Path   string
}

// Matches reports whether m selects l.
func (m *Match) Matches(l Link) bool {
	if m.Name == "" && m.MAC == "" && m.Driver == "" && m.Path == "" {
		return false
	}
	glob := func(pat, s string) bool {
		if pat == "" {
			return true
		}
		ok, _ := path.Match(pat, s)
		return ok
	}
	return glob(m.Name, l.Name) && glob(m.Driver, l.Driver) && glob(m.Path, l.Path) &&
		(m.mac == nil || m.mac.String() == l.MAC.String())
}

// Error is a problem in a file, at a key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error reads "FILE:LINE: KEY: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

var typeErrRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)
})

// Parse decodes one file.
func Parse(file string, data []byte) (*Network, error) {
	text := string(data)
	n := &Network{File: file}
	md, err := toml.Decode(text, n)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		if m := typeErrRE().FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{File: file, Line: line, Key: m[2], Msg: m[3]}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, unknownKey(file, text, und[0])
	}
	errAt := func(key, format string, args ...any) error {
		return &Error{File: file, Line: keyLine(text, key), Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	switch n.DHCP {
	case "":
		n.DHCP = "no"
	case "ipv4", "ipv6", "both", "no":
	default:
		return nil, errAt("dhcp", "%q: want \"ipv4\", \"ipv6\", \"both\" or \"no\"", n.DHCP)
	}
	m := &n.Match
	if m.Name == "" && m.MAC == "" && m.Driver == "" && m.Path == "" {
		return nil, &Error{File: file, Line: sectionLine(text, "match"), Key: "match", Msg: "missing: say which interfaces this is for (name, mac, driver or path)"}
	}
	for _, g := range []struct{ key, pat string }{{"match.name", m.Name}, {"match.driver", m.Driver}, {"match.path", m.Path}} {
		if _, err := path.Match(g.pat, ""); err != nil {
			return nil, errAt(g.key, "%q is not a valid glob", g.pat)
		}
	}
	if m.MAC != "" {
		mac, err := net.ParseMAC(m.MAC)
		if err != nil || len(mac) != 6 {
			return nil, errAt("match.mac", "%q is not a MAC address like \"52:54:00:12:34:56\"", m.MAC)
		}
		m.mac = mac
	}
	for _, a := range n.Address {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, errAt("address", "%q is not an address with its prefix length like \"192.0.2.10/24\"", a)
		}
		n.Addrs = append(n.Addrs, p)
	}
	if n.Gateway != "" {
		if n.Gw, err = netip.ParseAddr(n.Gateway); err != nil {
			return nil, errAt("gateway", "%q is not an IP address", n.Gateway)
		}
	}
	for _, d := range n.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, errAt("dns", "%q is not an IP address", d)
		}
		n.DNSAddr = append(n.DNSAddr, a)
	}
	for _, d := range n.Domains {
		if strings.ContainsAny(d, " \t\n#;") || d == "" {
			return nil, errAt("domains", "%q is not a domain name", d)
		}
	}
	if n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535) {
		return nil, errAt("mtu", "%d: want 68 to 65535", n.MTU)
	}
	for i := range n.Routes {
		r := &n.Routes[i]
		if r.Dst, err = netip.ParsePrefix(r.To); err != nil {
			return nil, errAt("routes", "routes[%d].to: %q is not a network like \"198.51.100.0/24\"", i, r.To)
		}
		if r.Via != "" {
			if r.Gw, err = netip.ParseAddr(r.Via); err != nil {
				return nil, errAt("routes", "routes[%d].via: %q is not an IP address", i, r.Via)
			}
		}
	}
	if n.DHCP == "no" && len(n.Addrs) == 0 && !n.LinkLocal && n.Required {
		return nil, errAt("required", "the interface gets no address: set dhcp, address or link_local")
	}
	return n, nil
}

// fieldNames lists the TOML names of t's fields.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

func unknownKey(file, text string, k toml.Key) error {
	var names []string
	switch {
	case len(k) == 1:
		names = fieldNames(reflect.TypeOf(Network{}))
	case k[0] == "match":
		names = fieldNames(reflect.TypeOf(Match{}))
	case k[0] == "routes":
		names = fieldNames(reflect.TypeOf(Route{}))
	}
	key := k[len(k)-1]
	msg := "unknown key"
	if s := suggest.Nearest(key, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return &Error{File: file, Line: keyLine(text, k.String()), Key: k.String(), Msg: msg}
}

// keyLine finds the line that sets key ("dhcp", "match.name"): under its
// table header, or as a dotted or inline key.
func keyLine(text, key string) int {
	table, last := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		table, last = key[:i], key[i+1:]
	}
	cur := ""
	for i, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[] \t")
			if j := strings.IndexByte(cur, '#'); j >= 0 {
				cur = strings.TrimSpace(strings.Trim(cur[:j], "[] \t"))
			}
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"`)
		switch {
		case cur == table && k == last,
			cur == "" && k == key,
			cur == "" && table != "" && k == table && strings.Contains(l, last):
			return i + 1
		}
	}
	return 0
}

func sectionLine(text, table string) int {
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "["+table+"]" {
			return i + 1
		}
	}
	return 0
}

// Load reads every *.toml in dir, in name order. A file that does not
// parse is returned in errs and left out; the others still apply. A
// missing dir is no configuration.
func Load(dir string) (nets []*Network, errs []error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, []error{err}
	}
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n, err := Parse(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nets = append(nets, n)
	}
	return nets, errs
}

// Find returns the first network, in file name order, that matches l.
func Find(nets []*Network, l Link) *Network {
	for _, n := range nets {
		if n.Match.Matches(l) {
			return n
		}
	}
	return nil
}
