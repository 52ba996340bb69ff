package devmaster

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestEnumerate(t *testing.T) {
	tr := newTree(t)
	tr.board()
	// A class attribute file and a second link to a device must be ignored.
	tr.write(filepath.Join(tr.sys, "class", "net", "bonding_masters"), "")
	tr.symlink(tr.sys+"/devices/pci0000:00/0000:00:02.0/virtio0", filepath.Join(tr.sys, "bus", "virtio", "devices", "alias0"))
	// A link not in the kernel's "../../devices/..." form is resolved in
	// full: absolute, and climbing further than it needs.
	tr.write(filepath.Join(tr.sys, "devices", "virtual", "misc", "fuse", "uevent"), "MAJOR=10\nMINOR=229\nDEVNAME=fuse\n")
	tr.must(os.MkdirAll(filepath.Join(tr.sys, "class", "misc"), 0o755))
	tr.must(os.Symlink(filepath.Join(tr.sys, "devices", "virtual", "misc", "fuse"), filepath.Join(tr.sys, "class", "misc", "fuse")))
	tr.must(os.Symlink("../../class/../devices/platform/serial8250/tty/ttyS1", filepath.Join(tr.sys, "class", "misc", "odd")))
	s := sysfs{Root: tr.sys}
	tests := []struct {
		subsystems []string
		want       []string
	}{
		{nil, []string{
			"/devices/pci0000:00/0000:00:02.0",
			"/devices/pci0000:00/0000:00:02.0/virtio0",
			"/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0",
			"/devices/pci0000:00/0000:00:03.0/virtio1/block/vda",
			"/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1",
			"/devices/platform/serial8250/tty/ttyS1",
			"/devices/virtual/misc/fuse",
		}},
		{[]string{"misc"}, []string{"/devices/platform/serial8250/tty/ttyS1", "/devices/virtual/misc/fuse"}},
		{[]string{"block"}, []string{
			"/devices/pci0000:00/0000:00:03.0/virtio1/block/vda",
			"/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1",
		}},
		{[]string{"tty", "nonexistent", "../.."}, []string{"/devices/platform/serial8250/tty/ttyS1"}},
	}
	for _, tt := range tests {
		devs, err := s.Enumerate(tt.subsystems)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range devs {
			got = append(got, d.DevPath)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Enumerate(%v) = %v, want %v", tt.subsystems, got, tt.want)
		}
	}
}

// TestEnumerateRemembersLinks: with the link cache, listings find what
// they find without it as links are added, made again elsewhere and
// removed, and the cache keeps only the links of the latest listing.
func TestEnumerateRemembersLinks(t *testing.T) {
	tr := newTree(t)
	tr.board()
	cached, plain := sysfs{Root: tr.sys, links: &linkCache{}}, sysfs{Root: tr.sys}
	class := filepath.Join(tr.sys, "class", "tty")
	check := func(step string) {
		t.Helper()
		got, err := cached.Enumerate(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.Enumerate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: with the cache %v, without %v", step, got, want)
		}
		n := 0
		for _, d := range cached.links.dirs {
			n += len(d.links)
		}
		links := 0
		for _, d := range []string{"bus", "class"} {
			subs, _ := os.ReadDir(filepath.Join(tr.sys, d))
			for _, sub := range subs {
				dir := filepath.Join(tr.sys, d, sub.Name())
				if d == "bus" {
					dir = filepath.Join(dir, "devices")
				}
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if e.Type()&os.ModeSymlink != 0 {
						links++
					}
				}
			}
		}
		if n != links {
			t.Errorf("%s: the cache holds %d links, the tree has %d", step, n, links)
		}
	}
	check("first listing")
	check("again")
	// A device that came back elsewhere under the same name: a new link
	// (renamed over the old one, so its inode number is surely new).
	tr.write(filepath.Join(tr.sys, "devices", "virtual", "tty", "ttyS1", "uevent"), "MAJOR=4\nMINOR=65\nDEVNAME=ttyS1\n")
	tr.must(os.Symlink("../../devices/virtual/tty/ttyS1", filepath.Join(class, "new")))
	tr.must(os.Rename(filepath.Join(class, "new"), filepath.Join(class, "ttyS1")))
	check("a link made again")
	tr.must(os.Remove(filepath.Join(class, "ttyS1")))
	check("a link removed")
	tr.must(os.RemoveAll(class))
	check("a class removed")
	if _, ok := cached.links.dirs["/class/tty"]; ok {
		t.Error("the removed class directory is still cached")
	}
}

// TestDevDirs: uevent files read from their parent's descriptor read as
// by their full path, in any order, with no more descriptors open than
// the tree is deep and none left after close; a device that went away is
// not found.
func TestDevDirs(t *testing.T) {
	tr := newTree(t)
	tr.board()
	s := sysfs{Root: tr.sys}
	devs, err := s.Enumerate(nil)
	if err != nil {
		t.Fatal(err)
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip(err)
		}
		return len(ents)
	}
	before := fds()
	w := &devDirs{root: tr.sys}
	order := append(slices.Clone(devs), devs[len(devs)-1], devs[0]) // back up the tree too
	for _, d := range order {
		got, _, err := s.props(d.DevPath, nil, w)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := s.props(d.DevPath, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: %v through its parent, %v by path", d.DevPath, got, want)
		}
		if n := strings.Count(d.DevPath, "/"); len(w.stack) > n {
			t.Errorf("%s: %d directories open, for a path %d deep", d.DevPath, len(w.stack), n)
		}
	}
	last := devs[len(devs)-1].DevPath
	tr.must(os.RemoveAll(tr.sys + last))
	if _, _, err := s.props(last, nil, w); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a removed device: %v, want not-exist", err)
	}
	if err := s.Trigger(w, last, "add", "x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("triggering a removed device: %v, want not-exist (and no file made)", err)
	}
	// A directory held that was removed, and made again with the device
	// in it: the device is found at its path.
	parent := filepath.Dir(last)
	if _, _, err := s.props(filepath.Dir(parent)+"/x", nil, w); err == nil {
		t.Fatal("a device that never was was read")
	}
	if _, err := w.open(parent); err != nil {
		t.Fatal(err)
	}
	tr.must(os.RemoveAll(tr.sys + parent))
	tr.write(tr.sys+last+"/uevent", "AGAIN=1\n")
	if got, _, err := s.props(last, nil, w); err != nil || got["AGAIN"] != "1" {
		t.Errorf("a device made again under a directory made again: %v, %v", got, err)
	}
	if err := s.Trigger(w, last, "add", ""); err != nil {
		t.Errorf("triggering it: %v", err)
	}
	first := devs[0].DevPath
	if err := s.Trigger(w, first, "change", ""); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(tr.sys + first + "/uevent"); err != nil || !strings.HasPrefix(string(b), "change") {
		t.Errorf("the uevent file written through its parent holds %q, %v", b, err)
	}
	w.close()
	if after := fds(); after != before {
		t.Errorf("%d descriptors open after close, %d before", after, before)
	}
}

func TestSysfsDevice(t *testing.T) {
	tr := newTree(t)
	tr.add(fakeDevice{path: "/devices/platform/serial8250/tty/ttyS1", subsystem: "tty", driver: "serial8250",
		props: map[string]string{"MAJOR": "4", "MINOR": "65", "DEVNAME": "ttyS1"},
		attrs: map[string]string{"type": "4", "power/control": "auto"}})
	s := sysfs{Root: tr.sys}
	const p = "/devices/platform/serial8250/tty/ttyS1"
	ev, err := s.Event(p, "add")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Subsystem != "tty" || ev.Env["DEVNAME"] != "ttyS1" || ev.Env["ACTION"] != "add" || ev.DevPath != p {
		t.Errorf("event %+v", ev)
	}
	if drv, err := s.Driver(p); err != nil || drv != "serial8250" {
		t.Errorf("Driver = %q, %v", drv, err)
	}
	for name, want := range map[string]string{"type": "4", "power/control": "auto"} {
		if v, err := s.Attr(p, name); err != nil || v != want {
			t.Errorf("Attr(%s) = %q, %v", name, v, err)
		}
	}
	for _, name := range []string{"../../../../../etc/passwd", "/etc/passwd", "", "a//b", "."} {
		if _, err := s.Attr(p, name); err == nil {
			t.Errorf("Attr(%q) succeeded", name)
		}
	}
	if _, ok := s.AttrFunc(p)("missing"); ok {
		t.Error("a missing attribute was found")
	}
	if got, err := s.DevPathOf(filepath.Join(tr.sys, "class", "tty", "ttyS1")); err != nil || got != p {
		t.Errorf("DevPathOf = %q, %v", got, err)
	}
	if _, err := s.DevPathOf(filepath.Join(tr.sys, "class")); err == nil {
		t.Error("DevPathOf a directory without uevent succeeded")
	}
	if s.IsSysfs() {
		t.Error("a temporary directory taken for sysfs")
	}
	if err := os.Remove(filepath.Join(tr.sys+p, "uevent")); err != nil {
		t.Fatal(err)
	}
	if err := s.Trigger(nil, p, "add", "x"); !os.IsNotExist(err) {
		t.Errorf("Trigger on a gone device = %v, want not-exist (and no file made)", err)
	}
}

// Trigger runs are told apart by their UUID: version 4, and different
// each time.
func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		u, err := newUUID()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("uuid %q: not a fresh version 4 UUID (seen: %v)", u, seen[u])
		}
		seen[u] = true
	}
}

// TestResolveLink: the hand-made join agrees with filepath's.
func TestResolveLink(t *testing.T) {
	for _, tt := range []struct{ dir, target string }{
		{"/sys/bus/pci/devices", "../../../devices/pci0000:00/0000:00:01.0"},
		{"/sys/class/tty", "../../devices/virtual/tty/tty0"},
		{"/tmp/x/sys/class/net", "../../devices/pci0000:00/0000:00:02.0/virtio0/net/eth0"},
		{"/sys", "../../../../x"},
		{"/sys/class/a", "/sys/devices/x"},
		{"/sys/class/a", "../../devices/./x"},
		{"/sys/class/a", "../../devices//x/"},
		{"/sys/class/a", "../../devices/../x"},
		{"/sys/class/a", "../../devices/.hidden"},
		{"/sys/class/a", "x"},
		{"/sys/class/a", ".."},
		{"/sys/class/a", "../"},
	} {
		want := filepath.Join(tt.dir, tt.target)
		if filepath.IsAbs(tt.target) {
			want = filepath.Clean(tt.target)
		}
		if got := resolveLink(tt.dir, tt.target); got != want {
			t.Errorf("resolveLink(%q, %q) = %q, want %q", tt.dir, tt.target, got, want)
		}
	}
}

// TestReadLimited: files of every size are read whole up to maxAttr,
// though a short read ends the loop.
func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 8192, 10000, maxAttr, maxAttr + 1, 3 * maxAttr} {
		name := filepath.Join(dir, "f")
		data := make([]byte, size)
		for i := range data {
			data[i] = byte('a' + i%26)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readLimited(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := data[:min(size, maxAttr)]; string(got) != string(want) {
			t.Errorf("size %d: read %d bytes, want %d", size, len(got), len(want))
		}
	}
}
