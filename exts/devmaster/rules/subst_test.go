package rules

import (
	"strings"
	"testing"
)

func testContext() *context {
	d := &Device{
		Action:    "add",
		DevPath:   "/devices/pci0000:00/0000:00:04.0/virtio2/block/vda/vda1",
		Subsystem: "block",
		Kernel:    "vda1",
		DevNode:   "/dev/vda1",
		Driver:    "virtio_blk",
		Env:       map[string]string{"ID_FS_LABEL": "my disk/1", "ID_FS_UUID": "1234-ABCD"},
		Attr: func(name string) (string, bool) {
			v, ok := map[string]string{"serial": "SN 42", "size": "2048"}[name]
			return v, ok
		},
	}
	return newContext(d, &Result{})
}

// TestTemplateExpand: substituted values are escaped for the place they
// land in; literal text is kept as written.
func TestTemplateExpand(t *testing.T) {
	tests := []struct {
		in, raw, link, unit string
	}{
		{"plain", "plain", "plain", "plain"},
		{"$kernel %k", "vda1 vda1", "vda1 vda1", "vda1 vda1"},
		{"$number-%n", "1-1", "1-1", "1-1"},
		{"$devpath", "/devices/pci0000:00/0000:00:04.0/virtio2/block/vda/vda1", "/devices/pci0000:00/0000:00:04.0/virtio2/block/vda/vda1",
			"-devices-pci0000:00-0000:00:04.0-virtio2-block-vda-vda1"},
		{"%N", "/dev/vda1", "/dev/vda1", "-dev-vda1"},
		{"$driver", "virtio_blk", "virtio_blk", "virtio_blk"},
		{"$env{ID_FS_LABEL}", "my disk/1", `my\x20disk\x2f1`, `my\x20disk-1`},
		{"%E{ID_FS_UUID}", "1234-ABCD", "1234-ABCD", `1234\x2dABCD`},
		{"$env{UNSET}", "", "", ""},
		{"$attr{serial}|%s{size}", "SN 42|2048", `SN\x2042|2048`, `SN\x2042|2048`},
		{"$attr{missing}", "", "", ""},
		{"$$ %% $$kernel", "$ % $kernel", "$ % $kernel", "$ % $kernel"},
		{"$kernelx", "vda1x", "vda1x", "vda1x"},
	}
	c := testContext()
	for _, tt := range tests {
		tmpl, err := parseTemplate(tt.in)
		if err != nil {
			t.Fatalf("parseTemplate(%q): %v", tt.in, err)
		}
		for _, e := range []struct {
			name string
			esc  func(source, string) string
			want string
		}{{"raw", nil, tt.raw}, {"link", escapeLink, tt.link}, {"unit", escapeUnit, tt.unit}} {
			if got := tmpl.expand(c, e.esc); got != e.want {
				t.Errorf("expand(%q) %s = %q, want %q", tt.in, e.name, got, e.want)
			}
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$foo", `unknown substitution at "$foo" (write $$ for a literal $)`},
		{"100%", `unknown substitution at "%" (write %% for a literal %)`},
		{"date +%s", `"%s" needs a name in braces, like %s{NAME}`},
		{"$env", `"$env" needs a name in braces, like $env{NAME}`},
		{"$env{X", `"$env{X" needs a name in braces, like $env{NAME}`},
		{"$env{}", "empty name in braces"},
		{"$env{A-B}", `property name "A-B": want letters, digits and '_'`},
		{"$attr{../x}", `attribute name "../x": want a path below the device, without '..'`},
	}
	for _, tt := range tests {
		_, err := parseTemplate(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseTemplate(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestKernelNumber(t *testing.T) {
	for in, want := range map[string]string{"vda1": "1", "ttyS10": "10", "nvme0n1p2": "2", "vda": "", "": "", "42": "42"} {
		if got := kernelNumber(in); got != want {
			t.Errorf("kernelNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckUnitName(t *testing.T) {
	for _, ok := range []string{"a.service", "storage@vda1.service", `x@a\x20b.mount`, "a-b:c_d.target", "t.timer", "s.socket"} {
		if err := checkUnitName(ok); err != nil {
			t.Errorf("checkUnitName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", ".service", "a.device", "a.srvice", "a@.service", "@x.service", "a b.service", "a@b@c.service", "a/b.service"} {
		if err := checkUnitName(bad); err == nil {
			t.Errorf("checkUnitName(%q) = nil, want an error", bad)
		}
	}
}

func TestCheckLink(t *testing.T) {
	tests := []struct {
		in, clean string
		empty     bool
		err       bool
	}{
		{"disk/by-uuid/x", "disk/by-uuid/x", false, false},
		{"disk/by-uuid/", "", true, false},
		{"disk//x", "", true, false},
		{"", "", true, false},
		{"a/./b", "a/b", false, false},
		{"a/../b", "b", false, false},
		{"..", "", false, true},
		{"a/../..", "", false, true},
		{"../x", "", false, true},
		{".", "", false, true},
		{"/etc/passwd", "", false, true},
	}
	for _, tt := range tests {
		clean, empty, err := checkLink(tt.in)
		if clean != tt.clean || empty != tt.empty || (err != nil) != tt.err {
			t.Errorf("checkLink(%q) = %q, %v, %v; want %q, %v, error %v", tt.in, clean, empty, err, tt.clean, tt.empty, tt.err)
		}
	}
}

func TestValidUserName(t *testing.T) {
	for _, ok := range []string{"root", "0", "1000", "disk", "_apt", "systemd-network", "a.b", "machine$"} {
		if !validUserName(ok) {
			t.Errorf("validUserName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-x", "1x", "a b", "a:b", "a$b", strings.Repeat("a", 33)} {
		if validUserName(bad) {
			t.Errorf("validUserName(%q) = true", bad)
		}
	}
}
