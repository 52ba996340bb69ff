package devmaster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// change is one DeviceChanged call.
type change struct {
	action, syspath, devnode string
	links                    []string
}

type fakeManager struct {
	mu      sync.Mutex
	changes []change
	units   []string
}

func (m *fakeManager) DeviceChanged(action, syspath, devnode string, links []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes = append(m.changes, change{action, syspath, devnode, slices.Clone(links)})
	return nil
}

func (m *fakeManager) StartUnit(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.units = append(m.units, name)
	return nil
}

func (m *fakeManager) started() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.units)
}

func (m *fakeManager) snapshot() []change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.changes)
}

// find returns the last change for the device path.
func (m *fakeManager) find(syspath string) (change, bool) {
	all := m.snapshot()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].syspath == syspath {
			return all[i], true
		}
	}
	return change{}, false
}

// fakeLoader answers ProbeAlias from a table and can act like the kernel
// when a driver loads.
type fakeLoader struct {
	mu     sync.Mutex
	calls  []string
	mods   map[string][]string
	onLoad func(alias string) // runs inside ProbeAlias
}

func (l *fakeLoader) ProbeAlias(alias string) ([]string, error) {
	l.mu.Lock()
	l.calls = append(l.calls, alias)
	mods, ok := l.mods[alias]
	l.mu.Unlock()
	if l.onLoad != nil {
		l.onLoad(alias)
	}
	if !ok {
		return nil, fmt.Errorf("no module for %s", alias)
	}
	return mods, nil
}

func (l *fakeLoader) ResolveAlias(alias string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mods[alias], nil
}

func (l *fakeLoader) called() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// harness runs a daemon on a fake tree.
type harness struct {
	t        *testing.T
	tr       *tree
	src      *fakeSource
	mgr      *fakeManager
	d        *Daemon
	log      *testLog
	notified chan string
	// writes counts the uevent files the fake kernel was asked to answer.
	writes atomic.Int64
}

type option func(*Config)

// start runs a daemon on tr, stopped at the end of the test. Without
// kernel, uevent files cannot be written and events are made up from
// sysfs; with it, a fake kernel answers the writes.
func start(t *testing.T, tr *tree, kernel bool, opts ...option) *harness {
	t.Helper()
	logger, tl := newLogger(t)
	h := &harness{t: t, tr: tr, src: newFakeSource(), mgr: &fakeManager{}, log: tl, notified: make(chan string, 4)}
	// The fake manager hears about every device, not only the kinds the
	// default rules mark.
	announce := filepath.Join(filepath.Dir(tr.rules), "announce")
	tr.write(filepath.Join(announce, "00-announce.toml"), "[[rule]]\nset_env = { "+ManagerProperty+" = \"1\" }\n")
	cfg := Config{
		SysRoot: tr.sys, DevRoot: tr.dev, RunRoot: tr.run, RulesDirs: []string{tr.rules, announce},
		Control: tr.run + "/devmaster/control.sock",
		Workers: 4, ExecTimeout: 5 * time.Second,
		Source: h.src, Manager: h.mgr, Log: logger,
		Notify: func(s string) error { h.notified <- s; return nil },
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if kernel {
		d.trigger = h.kernelTrigger
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// kernelTrigger is the fake kernel answering a write to a uevent file:
// it sends the device's event, with SYNTH_UUID, before the write returns.
func (h *harness) kernelTrigger(_ *devDirs, devpath, action, uuid string) error {
	h.writes.Add(1)
	ev, err := h.d.host.sys.Event(devpath, action)
	if err != nil {
		return err
	}
	if uuid != "" {
		ev.Env["SYNTH_UUID"] = uuid
	}
	h.src.push(ev)
	return nil
}

// ready waits for READY=1.
func (h *harness) ready() string {
	h.t.Helper()
	select {
	case s := <-h.notified:
		return s
	case <-time.After(10 * time.Second):
		h.t.Fatal("no READY=1")
		return ""
	}
}

// settle pushes events and waits until they were handled.
func (h *harness) settle(evs ...*uevent.Event) {
	h.t.Helper()
	h.src.push(evs...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.d.Settle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func withLoader(l ModuleLoader) option { return func(c *Config) { c.Loader = l } }
func coldplug(c *Config)               { c.Coldplug = true }
