package devmaster

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// The database ids of the board's devices.
var boardIDs = []string{"+pci:0000:00:02.0", "+virtio:virtio0", "n2", "b254:0", "b254:1", "c4:65"}

func TestColdplug(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		t.Run(fmt.Sprintf("kernel=%v", kernel), func(t *testing.T) {
			tr := newTree(t)
			tr.board()
			h := start(t, tr, kernel, coldplug)
			state := h.ready()
			// READY comes after every device was handled.
			changes := h.mgr.snapshot()
			if !strings.Contains(state, "READY=1") || !strings.Contains(state, "STATUS=") {
				t.Errorf("notified %q", state)
			}
			if len(changes) != len(tr.devices) {
				t.Fatalf("READY after %d of %d devices: %v", len(changes), len(tr.devices), changes)
			}
			for _, c := range changes {
				if c.action != "add" || !strings.HasPrefix(c.syspath, tr.sys+"/devices/") {
					t.Errorf("unexpected change %+v", c)
				}
			}
			for _, id := range boardIDs {
				if _, err := os.Stat(filepath.Join(tr.run, "udev", "data", id)); err != nil {
					t.Errorf("database: %v", err)
				}
			}
			// The boot coldplug makes its events up from sysfs, kernel
			// or not: no uevent file is written.
			if n := h.writes.Load(); n != 0 {
				t.Errorf("coldplug wrote %d uevent files", n)
			}
			if h.log.contains("making up the events") || h.log.contains("skipped") {
				t.Error("coldplug fell back or skipped a device")
			}
			c, _ := h.mgr.find(tr.sys + "/devices/platform/serial8250/tty/ttyS1")
			if c.devnode != filepath.Join(tr.dev, "ttyS1") {
				t.Errorf("ttyS1 announced with node %q", c.devnode)
			}
		})
	}
}

// TestColdplugWaitsForCascade: loading a driver during coldplug creates
// devices whose events arrive while the driver loads; READY waits for them
// and for the modules they load in turn.
func TestColdplugWaitsForCascade(t *testing.T) {
	tr := newTree(t)
	tr.add(fakeDevice{path: "/devices/pci0000:00/0000:00:02.0", subsystem: "pci", bus: true,
		props: map[string]string{"MODALIAS": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"}})
	var h *harness
	loader := &fakeLoader{mods: map[string][]string{
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00": {"virtio_pci"},
		"virtio:d00000001v00001AF4":                             {"virtio_net"},
	}}
	started := make(chan struct{}) // coldplug may load modules before start returns h
	loader.onLoad = func(alias string) {
		<-started
		time.Sleep(20 * time.Millisecond) // the module takes a while to load
		switch {
		case strings.HasPrefix(alias, "pci:"):
			h.src.push(recorded(t, "virtio-net-add.txt"))
		case strings.HasPrefix(alias, "virtio:"):
			h.src.push(recorded(t, "virtio-net-bind.txt"), recorded(t, "net-eth0-add.txt"))
		}
	}
	h = start(t, tr, true, coldplug, withLoader(loader))
	close(started)
	h.ready()
	if got := loader.called(); len(got) != 2 {
		t.Fatalf("loader called for %v, want the pci and the virtio alias", got)
	}
	for _, p := range []string{"/devices/pci0000:00/0000:00:02.0/virtio0", "/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0"} {
		if _, ok := h.mgr.find(tr.sys + p); !ok {
			t.Errorf("READY before %s was handled", p)
		}
	}
	if !h.log.contains("loaded virtio_net for virtio:d00000001v00001AF4") {
		t.Error("module load not logged")
	}
}

// TestOrderPerDevice: 200 events for 20 devices, with random delays in the
// module loader. Each device's events are handled in order, one at a time,
// and different devices in parallel.
func TestOrderPerDevice(t *testing.T) {
	tr := newTree(t)
	const devices, perDevice = 20, 10
	var (
		mu        sync.Mutex
		next      = map[string]int{} // device -> next expected event number
		active    = map[string]bool{}
		running   atomic.Int32
		most      atomic.Int32
		failures  []string
		rnd       = rand.New(rand.NewPCG(3, 4))
		rndMu     sync.Mutex
		evs       []*uevent.Event
		perDevSeq = map[string]int{}
	)
	loader := &fakeLoader{}
	loader.onLoad = func(alias string) {
		var dev string
		var n int
		fmt.Sscanf(alias, "test:%s %d", &dev, &n)
		mu.Lock()
		if active[dev] {
			failures = append(failures, dev+" handled twice at once")
		}
		if next[dev] != n {
			failures = append(failures, fmt.Sprintf("%s: event %d handled when %d was due", dev, n, next[dev]))
		}
		active[dev] = true
		mu.Unlock()
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		rndMu.Lock()
		d := time.Duration(rnd.IntN(2000)) * time.Microsecond
		rndMu.Unlock()
		time.Sleep(d)
		running.Add(-1)
		mu.Lock()
		active[dev] = false
		next[dev] = n + 1
		mu.Unlock()
	}
	for i := range devices * perDevice {
		dev := fmt.Sprintf("dev%d", rnd.IntN(devices))
		n := perDevSeq[dev]
		perDevSeq[dev]++
		p := "/devices/virtual/test/" + dev
		evs = append(evs, &uevent.Event{Action: "add", DevPath: p, Subsystem: "test", Seqnum: uint64(i),
			Env: map[string]string{"ACTION": "add", "DEVPATH": p, "SUBSYSTEM": "test",
				"MODALIAS": fmt.Sprintf("test:%s %d", dev, n)}})
	}
	h := start(t, tr, false, withLoader(loader), func(c *Config) { c.Workers = 8 })
	h.ready()
	h.settle(evs...)
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Error(f)
	}
	for dev, n := range perDevSeq {
		if next[dev] != n {
			t.Errorf("%s: %d of %d events handled", dev, next[dev], n)
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d events at once: devices were not handled in parallel", most.Load())
	}
	if got := len(loader.called()); got != devices*perDevice {
		t.Errorf("loader called %d times, want %d", got, devices*perDevice)
	}
}

func TestModaliasLoadedOnce(t *testing.T) {
	tr := newTree(t)
	loader := &fakeLoader{mods: map[string][]string{"virtio:d00000001v00001AF4": {"virtio_net"}}}
	h := start(t, tr, false, withLoader(loader))
	h.ready()
	add := recorded(t, "virtio-net-add.txt")
	bind := recorded(t, "virtio-net-bind.txt")
	other := recorded(t, "virtio-net-add.txt")
	other.DevPath, other.Env["DEVPATH"] = "/devices/pci0000:00/0000:00:04.0/virtio3", "/devices/pci0000:00/0000:00:04.0/virtio3"
	h.settle(add, bind, other)
	if got := loader.called(); !slices.Equal(got, []string{"virtio:d00000001v00001AF4"}) {
		t.Fatalf("loader called for %v, want the alias once (add only, cached)", got)
	}
}

func TestAddRemove(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, false)
	h.ready()
	add := recorded(t, "tty-ttyS1-add.txt")
	h.settle(add)
	dbFile := filepath.Join(tr.run, "udev", "data", "c4:65")
	rec, err := h.d.host.db.read("c4:65")
	if err != nil || rec.Initialized == 0 {
		t.Fatalf("database after add: %+v, %v", rec, err)
	}
	c, ok := h.mgr.find(tr.sys + add.DevPath)
	if !ok || c.action != "add" {
		t.Fatalf("manager got %+v", c)
	}
	remove := recorded(t, "tty-ttyS1-add.txt")
	remove.Action, remove.Env["ACTION"] = "remove", "remove"
	h.settle(remove)
	if _, err := os.Stat(dbFile); !os.IsNotExist(err) {
		t.Errorf("database entry left after remove: %v", err)
	}
	if c, _ := h.mgr.find(tr.sys + add.DevPath); c.action != "remove" || c.devnode != filepath.Join(tr.dev, "ttyS1") {
		t.Errorf("manager got %+v, want remove", c)
	}
}

func TestBlockImport(t *testing.T) {
	tr := newTree(t)
	tr.board()
	hs := newHost(tr.sys, tr.dev, tr.run)
	ev, err := hs.sys.Event("/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1", "add")
	if err != nil {
		t.Fatal(err)
	}
	p, errs := hs.prepare(ev)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]string{
		"ID_FS_TYPE": "ext4", "ID_FS_USAGE": "filesystem", "ID_FS_UUID": rootUUIDString, "ID_FS_UUID_ENC": rootUUIDString,
		"ID_FS_LABEL": "root fs", "ID_FS_LABEL_ENC": `root\x20fs`, "ID_FS_VERSION": "1.0",
		"ID_SERIAL": "QM00001", "DEVNAME": "/dev/vda1", "DEVTYPE": "partition",
	}
	for k, v := range want {
		if got := p.dev.Env[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if p.dev.DevNode != "/dev/vda1" || p.node != filepath.Join(tr.dev, "vda1") || p.dev.Kernel != "vda1" || p.id != "b254:1" {
		t.Errorf("device %+v, node %q, id %q", p.dev, p.node, p.id)
	}
	if v, ok := p.dev.Attr("size"); !ok || v != "16" {
		t.Errorf("Attr(size) = %q, %v", v, ok)
	}
	// The disk itself has no filesystem.
	ev, _ = hs.sys.Event("/devices/pci0000:00/0000:00:03.0/virtio1/block/vda", "add")
	p, errs = hs.prepare(ev)
	if len(errs) > 0 || p.dev.Env["ID_FS_TYPE"] != "" || p.dev.Env["ID_SERIAL"] != "QM00001" {
		t.Errorf("vda: %v, %v", p.dev.Env, errs)
	}
}

// TestChangeKeepsImports: a change event keeps what earlier events put in
// the database, and remove hands it to the rules and programs too.
func TestChangeKeepsImports(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, false)
	h.ready()
	ev, err := h.d.host.sys.Event("/devices/platform/serial8250/tty/ttyS1", "add")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.host.db.write("c4:65", record{Env: map[string]string{"ID_FOO": "bar"}, Initialized: 42}); err != nil {
		t.Fatal(err)
	}
	ev.Action, ev.Env["ACTION"] = "change", "change"
	p, _ := h.d.host.prepare(ev)
	if p.dev.Env["ID_FOO"] != "bar" || p.old.Initialized != 42 {
		t.Errorf("change: %v, %+v", p.dev.Env, p.old)
	}
	ev.Action, ev.Env["ACTION"] = "add", "add"
	if p, _ := h.d.host.prepare(ev); p.dev.Env["ID_FOO"] != "" {
		t.Errorf("add imported the old entry: %v", p.dev.Env)
	}
}

func TestBadEventsDropped(t *testing.T) {
	tr := newTree(t)
	h := start(t, tr, false)
	h.ready()
	h.src.push(&uevent.Event{Action: "add", DevPath: "/devices/x", Subsystem: "s",
		Env: map[string]string{"ACTION": "add", "DEVPATH": "/devices/x", "SUBSYSTEM": "s", "DEVNAME": "../etc/passwd"}})
	h.settle()
	if !h.log.contains(`bad DEVNAME "../etc/passwd"`) {
		t.Error("bad DEVNAME not reported")
	}
}

// TestNoRecordForPlainDevices: as udev, a device without a node, an
// interface, links or properties of ours gets no database entry.
func TestNoRecordForPlainDevices(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, false, coldplug, func(c *Config) { c.RulesDirs = []string{tr.rules} })
	h.ready()
	for id, want := range map[string]bool{"+pci:0000:00:02.0": false, "+virtio:virtio0": false, "n2": true, "c4:65": true, "b254:0": true} {
		_, err := os.Stat(filepath.Join(tr.run, "udev", "data", id))
		if got := err == nil; got != want {
			t.Errorf("entry %s: %v, want one: %v", id, err, want)
		}
	}
}
