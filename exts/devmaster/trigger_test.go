package devmaster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

func TestParseUevent(t *testing.T) {
	const name = "/sys/devices/x/uevent"
	tests := []struct {
		text string
		want map[string]string
		bad  []string // the errors, in order
	}{
		{"MAJOR=4\nMINOR=65\nDEVNAME=ttyS1\n", map[string]string{"MAJOR": "4", "MINOR": "65", "DEVNAME": "ttyS1"}, nil},
		{"", map[string]string{}, nil},
		{"A=1\n\nB=\n", map[string]string{"A": "1", "B": ""}, nil},
		{"A=x=y", map[string]string{"A": "x=y"}, nil}, // no final newline, '=' in the value
		{"garbage\nA=1\n=2\nB=\x00\nSEQNUM=7\nDEVPATH=/devices/y\n", map[string]string{"A": "1"}, []string{
			name + ":1: not KEY=VALUE",
			name + ":3: not KEY=VALUE",
			name + ":4: holds a NUL",
			name + ":5: sets SEQNUM",
			name + ":6: sets DEVPATH",
		}},
	}
	for _, tt := range tests {
		got, bad := parseUevent(name, tt.text)
		if !maps.Equal(got, tt.want) {
			t.Errorf("parseUevent(%q) = %v, want %v", tt.text, got, tt.want)
		}
		if len(bad) != len(tt.bad) {
			t.Errorf("parseUevent(%q): errors %v, want %d", tt.text, bad, len(tt.bad))
			continue
		}
		for i, err := range bad {
			if !strings.HasPrefix(err.Error(), tt.bad[i]) {
				t.Errorf("parseUevent(%q): error %d = %q, want %q...", tt.text, i, err, tt.bad[i])
			}
		}
	}
}

func trigger(t *testing.T, h *harness, opt TriggerOptions) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, done, err := h.d.Trigger(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("trigger: events not handled")
	}
	return n
}

// TestTriggerFrom: a kernel trigger writes every uevent file and handles
// what the kernel sends; one from sysfs writes none, and handles the same.
func TestTriggerFrom(t *testing.T) {
	for _, fromSysfs := range []bool{false, true} {
		t.Run(fmt.Sprintf("fromSysfs=%v", fromSysfs), func(t *testing.T) {
			tr := newTree(t)
			tr.board()
			tr.write(filepath.Join(tr.rules, rules.DefaultName), string(rules.Default()))
			h := start(t, tr, true)
			h.ready()
			n := trigger(t, h, TriggerOptions{Action: "change", FromSysfs: fromSysfs})
			if n != len(tr.devices) {
				t.Errorf("trigger for %d devices, want %d", n, len(tr.devices))
			}
			wantWrites := int64(len(tr.devices))
			if fromSysfs {
				wantWrites = 0
			}
			if got := h.writes.Load(); got != wantWrites {
				t.Errorf("%d uevent files written, want %d", got, wantWrites)
			}
			for _, d := range tr.devices {
				c, ok := h.mgr.find(tr.sys + d.path)
				if !ok || c.action != "change" {
					t.Errorf("%s: manager got %+v", d.path, c)
				}
			}
			c, _ := h.mgr.find(tr.sys + "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1")
			if c.devnode != filepath.Join(tr.dev, "vda1") || len(c.links) != 3 {
				t.Errorf("vda1 announced as %+v", c)
			}
			if rec, err := h.d.host.db.read("b254:1"); err != nil || rec.Env["ID_FS_TYPE"] != "ext4" {
				t.Errorf("database of vda1: %+v, %v", rec, err)
			}
		})
	}
}

// TestScanBadInput: a malformed line is left out of its device's event,
// and a device whose uevent file cannot be read or which is gone is
// skipped; each is logged with its path and the others are handled.
func TestScanBadInput(t *testing.T) {
	tr := newTree(t)
	tr.board()
	const (
		malformed  = "/devices/platform/serial8250/tty/ttyS2"
		unreadable = "/devices/platform/serial8250/tty/ttyS3"
		vanished   = "/devices/platform/serial8250/tty/ttyS4"
	)
	tr.add(fakeDevice{path: malformed, subsystem: "tty", props: map[string]string{"MAJOR": "4", "MINOR": "66", "DEVNAME": "ttyS2"}})
	f, err := os.OpenFile(filepath.Join(tr.sys+malformed, "uevent"), os.O_APPEND|os.O_WRONLY, 0)
	tr.must(err)
	_, err = f.WriteString("not a field\n")
	tr.must(err)
	tr.must(f.Close())
	tr.write(filepath.Join(tr.dev, "ttyS2"), "")
	// A uevent that is a directory fails to read, even for root.
	tr.symlink(tr.sys+unreadable, filepath.Join(tr.sys, "class", "tty", "ttyS3"))
	tr.must(os.MkdirAll(filepath.Join(tr.sys+unreadable, "uevent"), 0o755))
	// Listed, but its directory is gone: removed between the listing and
	// the read.
	tr.symlink(tr.sys+vanished, filepath.Join(tr.sys, "class", "tty", "ttyS4"))

	h := start(t, tr, true)
	h.ready()
	n := trigger(t, h, TriggerOptions{Action: "add", FromSysfs: true})
	if n != len(tr.devices)+2 {
		t.Errorf("trigger for %d devices, want %d", n, len(tr.devices)+2)
	}
	for _, d := range tr.devices {
		if _, ok := h.mgr.find(tr.sys + d.path); !ok {
			t.Errorf("%s not handled", d.path)
		}
	}
	for _, p := range []string{unreadable, vanished} {
		if _, ok := h.mgr.find(tr.sys + p); ok {
			t.Errorf("%s handled", p)
		}
	}
	c, _ := h.mgr.find(tr.sys + malformed)
	if c.devnode != filepath.Join(tr.dev, "ttyS2") {
		t.Errorf("%s announced as %+v", malformed, c)
	}
	for _, want := range []string{
		"trigger " + malformed + ": " + tr.sys + malformed + "/uevent:4: not KEY=VALUE",
		"trigger " + unreadable + ": read " + tr.sys + unreadable + "/uevent: is a directory (skipped)",
		"trigger " + vanished + ": gone while scanning",
	} {
		if !h.log.contains(want) {
			t.Errorf("not logged: %q", want)
		}
	}
}

// TestScanSeenTwice: a device whose kernel add arrives while the scan
// handles it is handled twice, to the same result.
func TestScanSeenTwice(t *testing.T) {
	tr := newTree(t)
	tr.board()
	tr.write(filepath.Join(tr.rules, rules.DefaultName), string(rules.Default()))
	const vda1 = "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1"
	var h *harness
	// Coldplug may load modules before start returns h.
	started := make(chan struct{})
	loader := &fakeLoader{mods: map[string][]string{}}
	loader.onLoad = func(alias string) {
		if !strings.HasPrefix(alias, "pci:") {
			return
		}
		<-started
		ev, err := h.d.host.sys.Event(vda1, "add")
		if err != nil {
			t.Error(err)
			return
		}
		ev.Env["SEQNUM"], ev.Seqnum = "1234", 1234
		h.src.push(ev)
	}
	h = start(t, tr, true, coldplug, withLoader(loader))
	close(started)
	h.ready()
	h.settle()
	var adds []change
	for _, c := range h.mgr.snapshot() {
		if c.syspath == tr.sys+vda1 {
			slices.Sort(c.links)
			adds = append(adds, c)
		}
	}
	if len(adds) != 2 {
		t.Fatalf("vda1 announced %d times, want 2 (scan and kernel): %+v", len(adds), adds)
	}
	if !slices.Equal(adds[0].links, adds[1].links) || adds[0].devnode != adds[1].devnode || len(adds[0].links) != 3 {
		t.Errorf("the two adds differ: %+v", adds)
	}
	rec, err := h.d.host.db.read("b254:1")
	if err != nil || len(rec.Links) != 3 || rec.Env["ID_FS_TYPE"] != "ext4" {
		t.Errorf("database of vda1: %+v, %v", rec, err)
	}
	for _, l := range rec.Links {
		if got := readlink(t, filepath.Join(tr.dev, l)); got != "../../vda1" {
			t.Errorf("%s -> %q", l, got)
		}
	}
	if h.log.contains("vda1: ") {
		t.Error("handling vda1 twice logged a problem")
	}
}

// TestScanDropsRemoved: an event read from sysfs before the kernel
// reported the device removed is not handled after the removal.
func TestScanDropsRemoved(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, true)
	h.ready()
	const tty = "/devices/platform/serial8250/tty/ttyS1"
	made, err := h.d.host.sys.Event(tty, "add")
	tr.must(err)
	run := &triggerRun{uuid: "u", action: "add", expect: map[string]struct{}{tty: {}}, gone: map[string]struct{}{}, done: make(chan struct{})}
	remove := &uevent.Event{Action: "remove", DevPath: tty, Subsystem: "tty", Seqnum: 9,
		Env: map[string]string{"ACTION": "remove", "DEVPATH": tty, "SUBSYSTEM": "tty", "SEQNUM": "9"}}
	// A made-up remove (a trigger of removes) marks nothing gone.
	madeRemove := &uevent.Event{Action: "remove", DevPath: "/devices/platform/serial8250", Subsystem: "platform",
		Env: map[string]string{"ACTION": "remove", "DEVPATH": "/devices/platform/serial8250", "SUBSYSTEM": "platform", "SYNTH_UUID": "v"}}
	run.arrived(madeRemove)
	run.arrived(remove)
	if _, ok := run.gone[tty]; !ok || len(run.gone) != 1 {
		t.Fatalf("gone = %v, want only %s", run.gone, tty)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := len(h.mgr.snapshot())
	tr.must(h.d.call(ctx, func() { h.d.queueMade(run, []*uevent.Event{made}) }))
	h.settle()
	if got := h.mgr.snapshot(); len(got) != n {
		t.Errorf("a removed device was handled: %+v", got[n:])
	}
	if len(run.expect) != 0 || !h.log.contains("trigger "+tty+": removed while scanning") {
		t.Errorf("dropped event not crossed off (%v) or not logged", run.expect)
	}
}

// TestTriggerFallsBack: a uevent file the kernel will not take gets its
// event made up from sysfs; the other devices still go through the kernel.
func TestTriggerFallsBack(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, true)
	h.ready()
	const first = "/devices/pci0000:00/0000:00:02.0" // the first in the listing
	h.d.trigger = func(dirs *devDirs, devpath, action, uuid string) error {
		if devpath == first {
			return &os.PathError{Op: "write", Path: tr.sys + devpath + "/uevent", Err: syscall.EIO}
		}
		return h.kernelTrigger(dirs, devpath, action, uuid)
	}
	trigger(t, h, TriggerOptions{Action: "change"})
	if got, want := h.writes.Load(), int64(len(tr.devices)-1); got != want {
		t.Errorf("%d events from the kernel, want %d", got, want)
	}
	for _, d := range tr.devices {
		if c, _ := h.mgr.find(tr.sys + d.path); c.action != "change" {
			t.Errorf("%s: manager got %+v", d.path, c)
		}
	}
	if !h.log.contains("cannot write uevent files") {
		t.Error("the fallback was not logged")
	}
}

// knownFake is a manager that can leave out known devices
// (knownDevices): it records Sync calls and which reports came as
// DeviceSeen.
type knownFake struct {
	*fakeManager
	syncs atomic.Int64
	mu    sync.Mutex
	seen  []string
}

func (k *knownFake) Sync() error { k.syncs.Add(1); return nil }

func (k *knownFake) DeviceSeen(action, syspath, devnode string, links []string) error {
	k.mu.Lock()
	k.seen = append(k.seen, syspath)
	k.mu.Unlock()
	return nil
}

// TestTriggerTellsKnownDevices: a trigger pass begins with the manager's
// Sync and reports its own events as seen again; the kernel's own events,
// and a trigger's when Sync is not there, go out as changes.
func TestTriggerTellsKnownDevices(t *testing.T) {
	tr := newTree(t)
	tr.board()
	var k *knownFake
	h := start(t, tr, false, func(c *Config) {
		k = &knownFake{fakeManager: c.Manager.(*fakeManager)}
		c.Manager = k
	})
	before := len(h.mgr.snapshot())
	n := trigger(t, h, TriggerOptions{Action: "change", FromSysfs: true})
	if k.syncs.Load() != 1 {
		t.Errorf("%d Syncs for one trigger pass", k.syncs.Load())
	}
	k.mu.Lock()
	seen := len(k.seen)
	k.mu.Unlock()
	if seen != n || len(h.mgr.snapshot()) != before {
		t.Errorf("%d of %d devices reported as seen, %d as changed", seen, n, len(h.mgr.snapshot())-before)
	}
	// A kernel event outside any trigger run is a change.
	ev, err := h.d.host.sys.Event("/devices/platform/serial8250/tty/ttyS1", "change")
	if err != nil {
		t.Fatal(err)
	}
	ev.Env["SEQNUM"], ev.Seqnum = "77", 77
	h.settle(ev)
	if got := h.mgr.snapshot(); len(got) != before+1 || got[len(got)-1].action != "change" {
		t.Errorf("the kernel's event was not reported as a change: %+v", got[before:])
	}
}
