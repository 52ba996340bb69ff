package config

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	n, err := Parse("lab.toml", []byte(`
dhcp = "both"
address = ["192.0.2.10/24", "2001:db8::10/64"]
gateway = "192.0.2.1"
dns = ["192.0.2.53"]
domains = ["lab.example"]
mtu = 1400
link_local = true
required = true
routes = [{ to = "198.51.100.0/24", via = "192.0.2.254", metric = 50 }]

[match]
name = "eth*"
mac = "52:54:00:12:34:56"
`))
	if err != nil {
		t.Fatal(err)
	}
	if n.DHCP != "both" || len(n.Addrs) != 2 || n.Gw != netip.MustParseAddr("192.0.2.1") || n.MTU != 1400 ||
		!n.Required || !n.LinkLocal || len(n.Routes) != 1 || n.Routes[0].Dst != netip.MustParsePrefix("198.51.100.0/24") ||
		n.Routes[0].Metric != 50 || n.DNSAddr[0] != netip.MustParseAddr("192.0.2.53") {
		t.Errorf("parsed %+v", n)
	}
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	if !n.Match.Matches(Link{Name: "eth1", MAC: mac}) {
		t.Error("eth1 with the MAC does not match")
	}
	if n.Match.Matches(Link{Name: "eth1", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}) {
		t.Error("another MAC matches")
	}
	if n.Match.Matches(Link{Name: "wlan0", MAC: mac}) {
		t.Error("another name matches")
	}
}

func TestDefault(t *testing.T) {
	n, err := Parse(DefaultName, Default())
	if err != nil {
		t.Fatal(err)
	}
	if n.DHCP != "ipv4" || !n.Required || !n.Match.Matches(Link{Name: "eth0"}) || n.Match.Matches(Link{Name: "eth1"}) {
		t.Errorf("default %+v", n)
	}
}

func TestMatchKeys(t *testing.T) {
	tests := []struct {
		match string
		link  Link
		want  bool
	}{
		{`driver = "virtio_net"`, Link{Name: "eth0", Driver: "virtio_net"}, true},
		{`driver = "e1000*"`, Link{Name: "eth0", Driver: "virtio_net"}, false},
		{`path = "/devices/pci0000:00/*/net/*"`, Link{Name: "eth0", Path: "/devices/pci0000:00/0000:00:02.0/net/eth0"}, true},
		{`path = "/devices/platform/*"`, Link{Name: "eth0", Path: "/devices/pci0000:00/0000:00:02.0/net/eth0"}, false},
		{`name = "eth[0-1]"`, Link{Name: "eth1"}, true},
	}
	for _, tt := range tests {
		n, err := Parse("m.toml", []byte("dhcp = \"ipv4\"\n[match]\n"+tt.match+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Match.Matches(tt.link); got != tt.want {
			t.Errorf("%s on %+v: %v, want %v", tt.match, tt.link, got, tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"typo", "dchp = \"ipv4\"\n[match]\nname = \"eth0\"\n", "bad.toml:1: dchp: unknown key (did you mean dhcp?)"},
		{"typo in match", "dhcp = \"ipv4\"\n\n[match]\nnmae = \"eth0\"\n", "bad.toml:4: match.nmae: unknown key (did you mean name?)"},
		{"typo in inline match", "match = { nmae = \"eth0\" }\n", "bad.toml:1: match.nmae: unknown key (did you mean name?)"},
		{"typo in route", "routes = [{ to = \"10.0.0.0/8\", vai = \"192.0.2.1\" }]\n[match]\nname = \"eth0\"\n", "routes.vai: unknown key (did you mean via?)"},
		{"dhcp value", "dhcp = \"yes\"\n[match]\nname = \"eth0\"\n", "bad.toml:1: dhcp: \"yes\": want \"ipv4\", \"ipv6\", \"both\" or \"no\""},
		{"wrong type", "mtu = \"1400\"\n[match]\nname = \"eth0\"\n", "bad.toml:1: mtu:"},
		{"address", "address = [\"192.0.2.10\"]\n[match]\nname = \"eth0\"\n", "bad.toml:1: address: \"192.0.2.10\" is not an address with its prefix length"},
		{"gateway", "gateway = \"router\"\n[match]\nname = \"eth0\"\n", "bad.toml:1: gateway: \"router\" is not an IP address"},
		{"dns", "\ndns = [\"8.8.8\"]\n[match]\nname = \"eth0\"\n", "bad.toml:2: dns: \"8.8.8\""},
		{"mtu range", "mtu = 20\n[match]\nname = \"eth0\"\n", "bad.toml:1: mtu: 20: want 68 to 65535"},
		{"mac", "[match]\nmac = \"52:54:00\"\n", "bad.toml:2: match.mac: \"52:54:00\" is not a MAC address"},
		{"glob", "[match]\nname = \"eth[\"\n", "bad.toml:2: match.name: \"eth[\" is not a valid glob"},
		{"no match", "dhcp = \"ipv4\"\n", "bad.toml: match: missing"},
		{"route", "routes = [{ to = \"nowhere\" }]\n[match]\nname = \"eth0\"\n", "routes[0].to: \"nowhere\""},
		{"required without address", "required = true\n[match]\nname = \"eth0\"\n", "bad.toml:1: required: the interface gets no address"},
		{"syntax", "dhcp = \n", "bad.toml:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.toml", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("10-eth0.toml", "dhcp = \"no\"\naddress = [\"192.0.2.10/24\"]\n[match]\nname = \"eth0\"\n")
	write("20-bad.toml", "dhcp = \"maybe\"\n[match]\nname = \"eth1\"\n")
	write("90-all.toml", "dhcp = \"ipv4\"\n[match]\nname = \"eth*\"\n")
	write("README", "not a network file")
	nets, errs := Load(dir)
	if len(nets) != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "20-bad.toml:1: dhcp") {
		t.Fatalf("Load: %d networks, errors %v", len(nets), errs)
	}
	// The first file in name order wins.
	if n := Find(nets, Link{Name: "eth0"}); n == nil || n.DHCP != "no" {
		t.Errorf("eth0 got %+v", n)
	}
	// The bad file is skipped; the catch-all takes eth1.
	if n := Find(nets, Link{Name: "eth1"}); n == nil || n.DHCP != "ipv4" {
		t.Errorf("eth1 got %+v", n)
	}
	if n := Find(nets, Link{Name: "usb0"}); n != nil {
		t.Errorf("usb0 got %+v", n)
	}
	if nets, errs := Load(filepath.Join(dir, "missing")); len(nets) != 0 || len(errs) != 0 {
		t.Errorf("missing dir: %v %v", nets, errs)
	}
}

// FuzzParse: no input may panic, every failure is an *Error naming the
// file, and what parses has its values decoded.
func FuzzParse(f *testing.F) {
	f.Add(Default())
	f.Add([]byte("dhcp = \"both\"\naddress = [\"192.0.2.10/24\"]\nroutes = [{ to = \"10.0.0.0/8\" }]\n[match]\nmac = \"52:54:00:12:34:56\"\n"))
	f.Add([]byte("dchp = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse("f.toml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "f.toml" {
				t.Fatalf("error %v is not an *Error for f.toml", err)
			}
			return
		}
		if len(n.Addrs) != len(n.Address) || len(n.DNSAddr) != len(n.DNS) || (n.Gateway != "") != n.Gw.IsValid() {
			t.Fatalf("values not decoded: %+v", n)
		}
	})
}
