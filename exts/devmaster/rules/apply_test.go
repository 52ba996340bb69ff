package rules

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *Set {
	t.Helper()
	rules, err := Parse("t.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return NewSet(rules...)
}

// attrs is a Device.Attr over a map, counting reads.
func attrs(m map[string]string, reads *int) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if reads != nil {
			*reads++
		}
		v, ok := m[name]
		return v, ok
	}
}

func vda1() *Device {
	return &Device{
		Action:    "add",
		DevPath:   "/devices/pci0000:00/0000:00:04.0/virtio2/block/vda/vda1",
		Subsystem: "block",
		Kernel:    "vda1",
		DevNode:   "/dev/vda1",
		Driver:    "",
		Env:       map[string]string{"DEVTYPE": "partition", "ID_FS_UUID": "1234-ABCD", "ID_FS_LABEL": "my disk"},
		Attr:      attrs(map[string]string{"partition": "1", "size": "2048"}, nil),
	}
}

func TestApplyMatch(t *testing.T) {
	tests := []struct {
		name  string
		match string // match keys of one rule
		want  bool
	}{
		{"no keys", "", true},
		{"action", `action = "add"`, true},
		{"action alternatives", `action = "change|remove"`, false},
		{"action negated", `action = "!remove"`, true},
		{"subsystem", `subsystem = "block"`, true},
		{"kernel glob", `kernel = "vd*[0-9]"`, true},
		{"kernel bang class", `kernel = "vd*[!0-9]"`, false},
		{"devpath star crosses /", `devpath = "/devices/*/virtio*/block/*"`, true},
		{"driver empty", `driver = "?*"`, false},
		{"driver negated", `driver = "!virtio_blk"`, true},
		{"all must hold", "subsystem = \"block\"\nkernel = \"sd*\"", false},
		{"env", `env = { ID_FS_UUID = "1234-*" }`, true},
		{"env unset matches empty", `env = { ID_FS_TYPE = "" }`, true},
		{"env unset fails ?*", `env = { ID_FS_TYPE = "?*" }`, false},
		{"env negated unset", `env = { ID_FS_TYPE = "!swap" }`, true},
		{"attr", `attr = { size = "2048" }`, true},
		{"attr missing fails", `attr = { serial = "?*" }`, false},
		{"attr missing fails empty", `attr = { serial = "" }`, false},
		{"attr missing matches negated", `attr = { serial = "!x" }`, true},
		{"two attrs", `attr = { size = "2048", partition = "2" }`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, "[[rule]]\n"+tt.match+"\nsymlink = [\"hit\"]\n")
			res := s.Apply(vda1())
			if got := len(res.Matched) == 1; got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApplyAssignments(t *testing.T) {
	s := mustParse(t, `
[[rule]]
subsystem = "block"
owner = "root"
group = "disk"
mode = "0660"
symlink = ["disk/by-uuid/$env{ID_FS_UUID}", "disk/by-label/$env{ID_FS_LABEL}"]
set_env = { MY_PROP = "$kernel-$number" }
run = ["/bin/logger", "added $kernel at %N"]
start = ["storage@$kernel.service"]

[[rule]]
env = { MY_PROP = "vda1-1" }
group = "6"
mode = "0600"
symlink = ["disk/by-uuid/$env{ID_FS_UUID}", "by-prop/$env{MY_PROP}"]
run = ["/bin/true"]
start = ["storage@$kernel.service", "other.target"]

[[rule]]
kernel = "nomatch"
owner = "nobody"
`)
	res := s.Apply(vda1())
	want := &Result{
		Owner:    "root",
		Group:    "6",
		Mode:     0o600,
		ModeSet:  true,
		Symlinks: []string{"disk/by-uuid/1234-ABCD", `disk/by-label/my\x20disk`, "by-prop/vda1-1"},
		Env:      map[string]string{"MY_PROP": "vda1-1"},
		Run:      [][]string{{"/bin/logger", "added vda1 at /dev/vda1"}, {"/bin/true"}},
		Units:    []string{"storage@vda1.service", "other.target"},
		Matched:  []string{"t.toml:2", "t.toml:12"},
	}
	checkResult(t, res, want)
}

func checkResult(t *testing.T, got, want *Result) {
	t.Helper()
	if got.Owner != want.Owner || got.Group != want.Group || got.Mode != want.Mode || got.ModeSet != want.ModeSet {
		t.Errorf("owner/group/mode = %q %q %v %v, want %q %q %v %v",
			got.Owner, got.Group, got.Mode, got.ModeSet, want.Owner, want.Group, want.Mode, want.ModeSet)
	}
	if !slices.Equal(got.Symlinks, want.Symlinks) {
		t.Errorf("Symlinks = %q, want %q", got.Symlinks, want.Symlinks)
	}
	if len(got.Env) != len(want.Env) {
		t.Errorf("Env = %q, want %q", got.Env, want.Env)
	}
	for k, v := range want.Env {
		if got.Env[k] != v {
			t.Errorf("Env[%s] = %q, want %q", k, got.Env[k], v)
		}
	}
	if !slices.EqualFunc(got.Run, want.Run, slices.Equal) {
		t.Errorf("Run = %q, want %q", got.Run, want.Run)
	}
	if !slices.Equal(got.Units, want.Units) {
		t.Errorf("Units = %q, want %q", got.Units, want.Units)
	}
	if !slices.Equal(got.Matched, want.Matched) {
		t.Errorf("Matched = %q, want %q", got.Matched, want.Matched)
	}
	if !slices.Equal(got.Warnings, want.Warnings) {
		t.Errorf("Warnings = %q, want %q", got.Warnings, want.Warnings)
	}
}

func TestApplyLast(t *testing.T) {
	s := mustParse(t, `
[[rule]]
symlink = ["a"]

[[rule]]
subsystem = "net"
last = true
symlink = ["b"]

[[rule]]
subsystem = "block"
last = true
symlink = ["c"]

[[rule]]
symlink = ["d"]
`)
	res := s.Apply(vda1())
	if want := []string{"a", "c"}; !slices.Equal(res.Symlinks, want) {
		t.Errorf("Symlinks = %q, want %q", res.Symlinks, want)
	}
	if want := []string{"t.toml:2", "t.toml:10"}; !slices.Equal(res.Matched, want) {
		t.Errorf("Matched = %q, want %q", res.Matched, want)
	}
}

// TestApplyLinkSafety: values from the device cannot place links outside
// /dev or in other directories; links with unset values are not made.
func TestApplyLinkSafety(t *testing.T) {
	s := mustParse(t, `
[[rule]]
symlink = [
  "disk/by-label/$env{ID_FS_LABEL}",
  "disk/by-uuid/$env{ID_FS_UUID}",
  "serial/$attr{serial}",
  "x/$env{DOTS}",
  "$env{DOTS}",
  "by-path$devpath",
]
`)
	d := &Device{
		DevPath: "/devices/../../../etc",
		Kernel:  "x",
		Env:     map[string]string{"ID_FS_LABEL": "../../etc/passwd", "DOTS": ".."},
		Attr:    attrs(map[string]string{"serial": "a/b c\x01ü"}, nil),
	}
	res := s.Apply(d)
	wantLinks := []string{`disk/by-label/..\x2f..\x2fetc\x2fpasswd`, `serial/a\x2fb\x20c\x01\xc3\xbc`}
	if !slices.Equal(res.Symlinks, wantLinks) {
		t.Errorf("Symlinks = %q, want %q", res.Symlinks, wantLinks)
	}
	wantWarnings := []string{
		`t.toml:2: symlink: "x/.." names /dev itself, dropped`,
		`t.toml:2: symlink: ".." is outside /dev, dropped`,
		`t.toml:2: symlink: "by-path/devices/../../../etc" is outside /dev, dropped`,
	}
	if !slices.Equal(res.Warnings, wantWarnings) {
		t.Errorf("Warnings = %q, want %q", res.Warnings, wantWarnings)
	}
}

func TestApplyEnvOrder(t *testing.T) {
	s := mustParse(t, `
[[rule]]
set_env = { A = "1", B = "$env{A}" }

[[rule]]
env = { A = "1" }
set_env = { A = "2", C = "$env{A}" }

[[rule]]
env = { A = "2", B = "" }
set_env = { D = "unset B seen" }

[[rule]]
set_env = { ID_FS_UUID = "" }

[[rule]]
env = { ID_FS_UUID = "" }
symlink = ["disk/by-uuid/$env{ID_FS_UUID}", "no-uuid"]
`)
	d := vda1()
	res := s.Apply(d)
	// Values of one set_env are computed before any is set.
	want := map[string]string{"A": "2", "B": "", "C": "1", "D": "unset B seen", "ID_FS_UUID": ""}
	for k, v := range want {
		if got, ok := res.Env[k]; !ok || got != v {
			t.Errorf("Env[%s] = %q, %v; want %q", k, got, ok, v)
		}
	}
	if !slices.Equal(res.Symlinks, []string{"no-uuid"}) {
		t.Errorf("Symlinks = %q, want [no-uuid]: a property set to \"\" is unset", res.Symlinks)
	}
	if d.Env["ID_FS_UUID"] != "1234-ABCD" || d.Env["A"] != "" {
		t.Errorf("Apply changed the device's Env: %q", d.Env)
	}
}

func TestApplyUnitWarnings(t *testing.T) {
	s := mustParse(t, "[[rule]]\nstart = [\"x@$env{UNSET}.service\", \"y@$env{DEVTYPE}.service\"]\n")
	res := s.Apply(vda1())
	if !slices.Equal(res.Units, []string{"y@partition.service"}) {
		t.Errorf("Units = %q", res.Units)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], `t.toml:1: start: unit name "x@.service"`) {
		t.Errorf("Warnings = %q", res.Warnings)
	}
}

func TestApplyReadsAttrsOnce(t *testing.T) {
	s := mustParse(t, `
[[rule]]
attr = { serial = "?*" }
symlink = ["a/$attr{serial}"]

[[rule]]
attr = { serial = "SN*" }
symlink = ["b/%s{serial}"]
`)
	reads := 0
	d := &Device{Kernel: "vda", Attr: attrs(map[string]string{"serial": "SN1"}, &reads)}
	res := s.Apply(d)
	if !slices.Equal(res.Symlinks, []string{"a/SN1", "b/SN1"}) {
		t.Errorf("Symlinks = %q", res.Symlinks)
	}
	if reads != 1 {
		t.Errorf("serial read %d times, want 1", reads)
	}
}

func TestApplyKernelFromDevPath(t *testing.T) {
	s := mustParse(t, "[[rule]]\nkernel = \"ttyS*\"\nsymlink = [\"serial$number\"]\n")
	res := s.Apply(&Device{DevPath: "/devices/platform/serial8250/tty/ttyS1"})
	if !slices.Equal(res.Symlinks, []string{"serial1"}) {
		t.Errorf("Symlinks = %q", res.Symlinks)
	}
}

func TestApplyNilAndEmpty(t *testing.T) {
	var s *Set
	if s.Len() != 0 || len(s.Apply(&Device{}).Matched) != 0 || s.Rules() != nil {
		t.Error("nil Set is not empty")
	}
	res := NewSet().Apply(&Device{})
	if res.ModeSet || res.Symlinks != nil || res.Env != nil {
		t.Errorf("empty Set result = %+v", res)
	}
}

func TestNewSetCopies(t *testing.T) {
	rules, err := Parse("a.toml", []byte("[[rule]]\nsymlink = [\"a\"]\n[[rule]]\nsymlink = [\"b\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet(rules...)
	rules[0] = rules[1]
	if res := s.Apply(&Device{}); !slices.Equal(res.Symlinks, []string{"a", "b"}) || s.Len() != 2 {
		t.Errorf("Set changed with the slice it was made from: %q", res.Symlinks)
	}
}

// TestApplyReadsDriverWhenAsked: the driver link is read only for a rule
// that names the driver, once per Apply, and not when the event has one.
func TestApplyReadsDriverWhenAsked(t *testing.T) {
	tests := []struct {
		name, rules, driver string
		reads               int
		links               []string
	}{
		{"no rule asks", `[[rule]]
subsystem = "block"
symlink = ["x"]`, "", 0, []string{"x"}},
		{"match and substitution", `[[rule]]
driver = "virtio_*"
symlink = ["by-driver/$driver"]`, "", 1, []string{"by-driver/virtio_blk"}},
		{"event names it", `[[rule]]
driver = "virtio_*"
symlink = ["by-driver/$driver"]`, "virtio_scsi", 0, []string{"by-driver/virtio_scsi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := vda1()
			d.Driver = tt.driver
			reads := 0
			d.ReadDriver = func() string { reads++; return "virtio_blk" }
			res := mustParse(t, tt.rules).Apply(d)
			if reads != tt.reads || !slices.Equal(res.Symlinks, tt.links) {
				t.Errorf("driver read %d times (want %d), links %v (want %v)", reads, tt.reads, res.Symlinks, tt.links)
			}
		})
	}
}
