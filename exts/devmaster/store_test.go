package devmaster

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDBID(t *testing.T) {
	tests := []struct {
		subsystem, sysname string
		env                map[string]string
		want               string
	}{
		{"block", "sda", map[string]string{"MAJOR": "8", "MINOR": "0"}, "b8:0"},
		{"tty", "ttyS1", map[string]string{"MAJOR": "4", "MINOR": "65"}, "c4:65"},
		{"net", "eth0", map[string]string{"IFINDEX": "2"}, "n2"},
		{"pci", "0000:00:02.0", nil, "+pci:0000:00:02.0"},
		{"virtio", "virtio0", map[string]string{"MAJOR": "1"}, "+virtio:virtio0"},
	}
	for _, tt := range tests {
		if got := dbID(tt.subsystem, tt.sysname, tt.env); got != tt.want {
			t.Errorf("dbID(%s, %s) = %q, want %q", tt.subsystem, tt.sysname, got, tt.want)
		}
	}
}

func TestDBRoundTrip(t *testing.T) {
	d := newDB(t.TempDir())
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in := record{Links: []string{"disk/by-uuid/x", "disk/by-label/root"}, Env: map[string]string{"ID_FS_TYPE": "ext4", "A": "b=c"}, Initialized: 1234}
	if err := d.write("b254:1", in); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(d.dir, "b254:1"))
	want := "S:disk/by-label/root\nS:disk/by-uuid/x\nI:1234\nE:A=b=c\nE:ID_FS_TYPE=ext4\n"
	if string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	out, err := d.read("b254:1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Links, []string{"disk/by-label/root", "disk/by-uuid/x"}) || !maps.Equal(out.Env, in.Env) || out.Initialized != 1234 {
		t.Errorf("read %+v", out)
	}
	if r, err := d.read("c1:1"); err != nil || r.Links != nil {
		t.Errorf("missing entry: %+v, %v", r, err)
	}
	for _, id := range []string{"", "../x", ".hidden", "a/b"} {
		if err := d.write(id, in); err == nil {
			t.Errorf("write(%q) succeeded", id)
		}
	}
	if err := d.remove("b254:1"); err != nil {
		t.Fatal(err)
	}
	if err := d.remove("b254:1"); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	entries, _ := os.ReadDir(d.dir)
	if len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

func TestLinks(t *testing.T) {
	dev := t.TempDir()
	node := filepath.Join(dev, "vda1")
	other := filepath.Join(dev, "vdb1")
	if changed, err := addLink(dev, "disk/by-label/root", node); err != nil || !changed {
		t.Fatalf("addLink = %v, %v", changed, err)
	}
	link := filepath.Join(dev, "disk/by-label/root")
	if target, _ := os.Readlink(link); target != "../../vda1" {
		t.Errorf("link target %q, want relative ../../vda1", target)
	}
	if changed, err := addLink(dev, "disk/by-label/root", node); err != nil || changed {
		t.Errorf("adding again: %v, %v", changed, err)
	}
	// Another device takes the name over; removing the first one's link
	// leaves it alone.
	if _, err := addLink(dev, "disk/by-label/root", other); err != nil {
		t.Fatal(err)
	}
	if err := removeLink(dev, "disk/by-label/root", node); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(link); target != "../../vdb1" {
		t.Errorf("the other device's link was touched: %q", target)
	}
	if err := removeLink(dev, "disk/by-label/root", other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dev, "disk")); !os.IsNotExist(err) {
		t.Errorf("empty directories left: %v", err)
	}
	if _, err := os.Stat(dev); err != nil {
		t.Errorf("the root went too: %v", err)
	}
	for _, bad := range []string{"../escape", "/abs", "a/../../b", ""} {
		if _, err := addLink(dev, bad, node); err == nil {
			t.Errorf("addLink(%q) succeeded", bad)
		}
	}
	if err := os.WriteFile(filepath.Join(dev, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := addLink(dev, "file", node); err == nil || !strings.Contains(err.Error(), "not a symlink") {
		t.Errorf("replacing a file: %v", err)
	}
	entries, _ := os.ReadDir(dev)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".#") {
			t.Errorf("temporary %s left", e.Name())
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct{ in, safe, enc string }{
		{"root", "root", "root"},
		{"root fs", "root_fs", `root\x20fs`},
		{"  two  spaces ", "two_spaces", `\x20\x20two\x20\x20spaces\x20`},
		{"a/b\\c", "a_b_c", `a\x2fb\x5cc`},
		{"Über", "Über", "Über"},
		{"bad\xffbyte", "bad_byte", `bad\xffbyte`},
		{"3e6be9de-8a1c", "3e6be9de-8a1c", "3e6be9de-8a1c"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := safeString(tt.in); got != tt.safe {
			t.Errorf("safeString(%q) = %q, want %q", tt.in, got, tt.safe)
		}
		if got := encodeString(tt.in); got != tt.enc {
			t.Errorf("encodeString(%q) = %q, want %q", tt.in, got, tt.enc)
		}
	}
}

// TestDBRemembered: with the directory remembered, entries found at start
// are read once, the daemon's own writes and removals are answered from
// memory, and an id without a file is one without a system call.
func TestDBRemembered(t *testing.T) {
	d := newDB(t.TempDir())
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.write("c4:65", record{Env: map[string]string{"ID_FOO": "bar"}, Initialized: 7}); err != nil {
		t.Fatal(err)
	}
	if err := d.remember(); err != nil {
		t.Fatal(err)
	}
	if r, err := d.read("c4:65"); err != nil || r.Env["ID_FOO"] != "bar" || r.Initialized != 7 {
		t.Fatalf("entry found at start: %+v, %v", r, err)
	}
	// Read once: a file changed behind the daemon's back is not read again.
	os.WriteFile(filepath.Join(d.dir, "c4:65"), []byte("I:1\n"), 0o644)
	if r, _ := d.read("c4:65"); r.Initialized != 7 {
		t.Errorf("entry read again: %+v", r)
	}
	in := record{Links: []string{"b", "a"}, Initialized: 9}
	if err := d.write("b254:1", in); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d.dir, "b254:1")); string(b) != "S:a\nS:b\nI:9\n" {
		t.Errorf("file %q", b)
	}
	if r, _ := d.read("b254:1"); !slices.Equal(r.Links, []string{"a", "b"}) || r.Initialized != 9 {
		t.Errorf("written entry: %+v", r)
	}
	if err := d.remove("b254:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "b254:1")); !os.IsNotExist(err) {
		t.Errorf("file left after remove: %v", err)
	}
	// Unknown ids: a file made behind the daemon's back is not seen.
	os.WriteFile(filepath.Join(d.dir, "b254:2"), []byte("I:1\n"), 0o644)
	for _, id := range []string{"b254:1", "b254:2", "+pci:x"} {
		if r, err := d.read(id); err != nil || r.Initialized != 0 || r.Links != nil {
			t.Errorf("read(%s) = %+v, %v", id, r, err)
		}
		if err := d.remove(id); err != nil {
			t.Errorf("remove(%s): %v", id, err)
		}
	}
}
