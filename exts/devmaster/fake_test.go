package devmaster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// tree is a fake machine in a temporary directory: sys/, dev/ and run/.
type tree struct {
	t             testing.TB
	sys, dev, run string
	rules         string // a rules directory
	devices       []fakeDevice
}

// fakeDevice is a device of the fake sysfs.
type fakeDevice struct {
	path      string // "/devices/..."
	subsystem string
	bus       bool              // listed under /sys/bus rather than /sys/class
	props     map[string]string // the uevent file
	attrs     map[string]string
	driver    string
}

func newTree(t testing.TB) *tree {
	t.Helper()
	root := t.TempDir()
	tr := &tree{t: t, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"),
		run: filepath.Join(root, "run"), rules: filepath.Join(root, "rules")}
	for _, d := range []string{tr.sys, tr.dev, tr.run, tr.rules} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func (tr *tree) must(err error) {
	tr.t.Helper()
	if err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) write(name, data string) {
	tr.t.Helper()
	tr.must(os.MkdirAll(filepath.Dir(name), 0o755))
	tr.must(os.WriteFile(name, []byte(data), 0o644))
}

func (tr *tree) symlink(target, name string) {
	tr.t.Helper()
	tr.must(os.MkdirAll(filepath.Dir(name), 0o755))
	rel, err := filepath.Rel(filepath.Dir(name), target)
	tr.must(err)
	tr.must(os.Symlink(rel, name))
}

// add puts a device in the fake sysfs as the kernel lays it out.
func (tr *tree) add(d fakeDevice) {
	tr.t.Helper()
	dir := tr.sys + d.path
	var b strings.Builder
	keys := make([]string, 0, len(d.props))
	for k := range d.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, d.props[k])
	}
	tr.write(filepath.Join(dir, "uevent"), b.String())
	for name, v := range d.attrs {
		tr.write(filepath.Join(dir, name), v+"\n")
	}
	kind, list := "class", filepath.Join(tr.sys, "class", d.subsystem)
	if d.bus {
		kind, list = "bus", filepath.Join(tr.sys, "bus", d.subsystem, "devices")
	}
	tr.symlink(filepath.Join(tr.sys, kind, d.subsystem), filepath.Join(dir, "subsystem"))
	tr.symlink(dir, filepath.Join(list, filepath.Base(d.path)))
	if d.driver != "" {
		drv := filepath.Join(tr.sys, "bus", d.subsystem, "drivers", d.driver)
		tr.must(os.MkdirAll(drv, 0o755))
		tr.symlink(drv, filepath.Join(dir, "driver"))
	}
	tr.devices = append(tr.devices, d)
}

// ext4 writes an image with an ext4 superblock: magic 0xEF53 at 1080, the
// UUID at 1024+104, the label at 1024+120.
func ext4(uuid [16]byte, label string) []byte {
	img := make([]byte, 8192)
	sb := img[1024:]
	binary.LittleEndian.PutUint16(sb[0x38:], 0xEF53)
	binary.LittleEndian.PutUint32(sb[0x4C:], 1)        // dynamic revision
	binary.LittleEndian.PutUint32(sb[0x5C:], 0x4)      // has_journal
	binary.LittleEndian.PutUint32(sb[0x60:], 0x2|0x40) // filetype, extents
	copy(sb[0x68:], uuid[:])
	copy(sb[0x78:], label)
	return img
}

var rootUUID = [16]byte{0x3e, 0x6b, 0xe9, 0xde, 0x8a, 0x1c, 0x4b, 0x0e, 0x9f, 0x2a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}

const rootUUIDString = "3e6be9de-8a1c-4b0e-9f2a-112233445566"

// board fills the tree with the devices of a small virtual board.
func (tr *tree) board() {
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:02.0", subsystem: "pci", bus: true,
		props: map[string]string{"PCI_ID": "1AF4:1000", "PCI_SLOT_NAME": "0000:00:02.0",
			"MODALIAS": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"}})
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:02.0/virtio0", subsystem: "virtio", bus: true,
		props: map[string]string{"MODALIAS": "virtio:d00000001v00001AF4"}})
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0", subsystem: "net",
		props: map[string]string{"INTERFACE": "eth0", "IFINDEX": "2"}, attrs: map[string]string{"address": "52:54:00:12:34:56"}})
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda", subsystem: "block",
		props: map[string]string{"MAJOR": "254", "MINOR": "0", "DEVNAME": "vda", "DEVTYPE": "disk"},
		attrs: map[string]string{"serial": "QM00001 ", "size": "16"}})
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1", subsystem: "block",
		props: map[string]string{"MAJOR": "254", "MINOR": "1", "DEVNAME": "vda1", "DEVTYPE": "partition", "PARTN": "1"},
		attrs: map[string]string{"size": "16"}})
	tr.add(fakeDevice{path: "/devices/platform/serial8250/tty/ttyS1", subsystem: "tty",
		props: map[string]string{"MAJOR": "4", "MINOR": "65", "DEVNAME": "ttyS1"}, driver: ""})
	tr.write(filepath.Join(tr.dev, "vda"), "")
	tr.write(filepath.Join(tr.dev, "vda1"), string(ext4(rootUUID, "root fs")))
	tr.write(filepath.Join(tr.dev, "ttyS1"), "")
}

// fakeSource is an event source fed by the test, or by the fake kernel
// when devmaster writes a uevent file.
type fakeSource struct {
	mu      sync.Mutex
	pending []*uevent.Event
	wake    chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func newFakeSource() *fakeSource {
	return &fakeSource{wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (s *fakeSource) push(evs ...*uevent.Event) {
	s.mu.Lock()
	s.pending = append(s.pending, evs...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *fakeSource) Wait() error {
	select {
	case <-s.wake:
		return nil
	case <-s.closed:
		return os.ErrClosed
	}
}

func (s *fakeSource) Drain(fn func(*uevent.Event), bad func(error)) error {
	s.mu.Lock()
	evs := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, ev := range evs {
		fn(ev)
	}
	return nil
}

func (s *fakeSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// recorded reads a recorded kernel event from uevent/testdata.
func recorded(t *testing.T, name string) *uevent.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("uevent", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := uevent.Parse(bytes.ReplaceAll(b, []byte("\n"), []byte{0}))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// testLog collects the daemon's log lines and passes them to t.Log.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, strings.TrimSuffix(string(p), "\n"))
	l.mu.Unlock()
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (l *testLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func newLogger(t *testing.T) (*log.Logger, *testLog) {
	tl := &testLog{t: t}
	return log.New(tl, "", 0), tl
}
