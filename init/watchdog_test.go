package pid1

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
	"github.com/sysmaster-go/sysmaster/units/system"
)

// fakeWatchdog records what init does to the device.
type fakeWatchdog struct {
	round      time.Duration // the driver's granularity; 0: takes any
	refuse     error         // SetTimeout fails with it
	timeouts   []time.Duration
	keepalives int
	disarmed   bool
}

func (f *fakeWatchdog) SetTimeout(d time.Duration) (time.Duration, error) {
	if f.refuse != nil {
		return 0, f.refuse
	}
	f.timeouts = append(f.timeouts, d)
	if f.round > 0 {
		d = (d + f.round - 1) / f.round * f.round
	}
	return d, nil
}
func (f *fakeWatchdog) Keepalive() error { f.keepalives++; return nil }
func (f *fakeWatchdog) Disarm() error    { f.disarmed = true; return nil }
func (f *fakeWatchdog) Fd() int          { return -1 }

func testInit() (*pid1, *bytes.Buffer) {
	out := &bytes.Buffer{}
	return &pid1{out: out, timers: make(chan func(), 8), liveness: defaultLiveness}, out
}

func manager(timeout time.Duration) system.Manager {
	return system.Manager{RuntimeWatchdogSec: units.Duration(timeout)}
}

// runTimer runs the next function init's loop would, waiting up to d.
func runTimer(t *testing.T, p *pid1, d time.Duration) {
	t.Helper()
	select {
	case f := <-p.timers:
		f()
	case <-time.After(d):
		t.Fatal("no timer fired")
	}
}

func TestWatchdogStart(t *testing.T) {
	for _, c := range []struct {
		name     string
		dev      *fakeWatchdog
		openErr  error
		want     string // in init's output
		armed    bool
		disarmed bool
	}{
		{name: "armed", dev: &fakeWatchdog{}, want: "init: watchdog: /dev/watchdog0 armed, timeout 10s", armed: true},
		{name: "rounded", dev: &fakeWatchdog{round: 4 * time.Second}, want: "took a timeout of 12s instead of 10s", armed: true},
		{name: "refuses", dev: &fakeWatchdog{refuse: unix.EINVAL}, want: "/dev/watchdog0 refuses a timeout of 10s: invalid argument; running without a hardware watchdog", disarmed: true},
		{name: "no permission", openErr: os.ErrPermission, want: "/dev/watchdog0: permission denied; running without a hardware watchdog"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, out := testInit()
			p.startWatchdog(manager(10*time.Second), func(string) (wdDevice, error) {
				if c.openErr != nil {
					return nil, c.openErr
				}
				return c.dev, nil
			})
			if !strings.Contains(out.String(), c.want) {
				t.Errorf("output %q, want %q", out, c.want)
			}
			if got := p.wd != nil; got != c.armed {
				t.Fatalf("armed = %v, want %v", got, c.armed)
			}
			if c.dev != nil && c.dev.disarmed != c.disarmed {
				t.Errorf("disarmed = %v, want %v", c.dev.disarmed, c.disarmed)
			}
			if c.armed && c.dev.keepalives != 1 {
				t.Errorf("%d keepalives after arming, want 1", c.dev.keepalives)
			}
		})
	}
}

func TestWatchdogOff(t *testing.T) {
	p, out := testInit()
	p.startWatchdog(system.Manager{}, func(string) (wdDevice, error) {
		t.Fatal("opened a watchdog nobody asked for")
		return nil, nil
	})
	if p.wd != nil || out.Len() != 0 {
		t.Fatalf("wd %v, output %q", p.wd, out)
	}
}

// A device whose driver is loaded later is picked up when it appears.
func TestWatchdogDeviceAppears(t *testing.T) {
	p, out := testInit()
	dev := &fakeWatchdog{}
	tries := 0
	p.startWatchdog(manager(10*time.Second), func(string) (wdDevice, error) {
		if tries++; tries < 3 {
			return nil, os.ErrNotExist
		}
		return dev, nil
	})
	if !strings.Contains(out.String(), "/dev/watchdog0 does not exist yet; waiting up to 2m0s") {
		t.Fatalf("output %q", out)
	}
	runTimer(t, p, 3*time.Second)
	runTimer(t, p, 3*time.Second)
	if dev.keepalives != 1 || !strings.Contains(out.String(), "armed, timeout 10s") {
		t.Fatalf("after the device appeared: %d keepalives, output %q", dev.keepalives, out)
	}
	// The next tick pets again.
	runTimer(t, p, 5*time.Second)
	if dev.keepalives != 2 {
		t.Fatalf("%d keepalives, want 2", dev.keepalives)
	}
}

func TestWatchdogHealthy(t *testing.T) {
	now := time.Now()
	limit := livenessMisses*defaultLiveness + restartGrace
	for _, c := range []struct {
		name     string
		since    time.Duration
		shutdown string
		want     bool
	}{
		{"just answered", time.Second, "", true},
		{"at the limit", limit, "", true},
		{"silent too long", limit + time.Second, "", false},
		{"stopping units", 10 * limit, "poweroff", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := testInit()
			p.wd = &watchdog{alive: now.Add(-c.since)}
			p.shutdown = c.shutdown
			if got := p.healthy(now); got != c.want {
				t.Errorf("healthy = %v, want %v", got, c.want)
			}
		})
	}
}

func TestWatchdogGivesUp(t *testing.T) {
	t.Run("silent core", func(t *testing.T) {
		p, out := testInit()
		dev := &fakeWatchdog{}
		p.wd = &watchdog{cfg: manager(10 * time.Second), dev: dev, timeout: 10 * time.Second, alive: time.Now().Add(-time.Hour)}
		p.petWatchdog()
		if dev.keepalives != 0 || !strings.Contains(out.String(), "core has not been up and answering for 1h0m0s; no longer petting /dev/watchdog0, the board resets within 10s") {
			t.Fatalf("%d keepalives, output %q", dev.keepalives, out)
		}
		if len(p.timers) != 0 {
			t.Fatal("still ticking after giving up")
		}
	})
	t.Run("core cannot run", func(t *testing.T) {
		p, out := testInit()
		p.opts.OnFailure = "hang"
		dev := &fakeWatchdog{}
		p.wd = &watchdog{cfg: manager(10 * time.Second), dev: dev, timeout: 10 * time.Second, alive: time.Now()}
		p.coreFailed()
		p.petWatchdog()
		if dev.keepalives != 0 || strings.Count(out.String(), "core cannot be brought back; no longer petting") != 1 {
			t.Fatalf("%d keepalives, output %q", dev.keepalives, out)
		}
	})
}

func TestWatchdogFinal(t *testing.T) {
	for _, c := range []struct {
		reboot, want time.Duration
	}{
		{0, defaultRebootWatchdog},
		{time.Minute, time.Minute},
	} {
		p, out := testInit()
		dev := &fakeWatchdog{}
		cfg := manager(10 * time.Second)
		cfg.RebootWatchdogSec = units.Duration(c.reboot)
		p.wd = &watchdog{cfg: cfg, dev: dev, timeout: 10 * time.Second, alive: time.Now()}
		p.finalWatchdog()
		if len(dev.timeouts) != 1 || dev.timeouts[0] != c.want || dev.keepalives != 1 {
			t.Fatalf("reboot %s: timeouts %v, %d keepalives", c.reboot, dev.timeouts, dev.keepalives)
		}
		// No more petting: a shutdown that hangs resets.
		p.petWatchdog()
		if dev.keepalives != 1 || !strings.Contains(out.String(), "final shutdown within "+c.want.String()) {
			t.Fatalf("after the final step: %d keepalives, output %q", dev.keepalives, out)
		}
	}
}

func TestReadSystemConfig(t *testing.T) {
	dir := t.TempDir()
	p, out := testInit()
	if c := p.readSystemConfig(filepath.Join(dir, "missing.toml")); !c.Empty() || out.Len() != 0 {
		t.Fatalf("missing file: %+v, output %q", c, out)
	}
	bad := filepath.Join(dir, "system.toml")
	if err := os.WriteFile(bad, []byte("[Manager]\nRuntimeWatchdogSec = \"10s\"\nWatchdogDevise = \"/dev/watchdog1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := p.readSystemConfig(bad); !c.Empty() {
		t.Fatalf("bad file gave %+v", c)
	}
	if want := bad + ":3: Manager.WatchdogDevise: unknown key (did you mean WatchdogDevice?); using no settings from it"; !strings.Contains(out.String(), want) {
		t.Fatalf("output %q, want %q", out, want)
	}
}

func TestSaveRestoreWatchdog(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "wd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, _ := testInit()
	p.wd = &watchdog{cfg: manager(10 * time.Second), dev: &sysWatchdog{fd: int(f.Fd())}, timeout: 10 * time.Second, gaveUp: true}
	st, err := p.saveWatchdog()
	if err != nil {
		t.Fatal(err)
	}
	if flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
		t.Fatal("the descriptor would close on exec")
	}
	q, _ := testInit()
	q.restoreWatchdog(st)
	if q.wd == nil || q.wd.dev.Fd() != int(f.Fd()) || q.wd.timeout != 10*time.Second || !q.wd.gaveUp {
		t.Fatalf("restored %+v", q.wd)
	}
	if flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("the restored descriptor is not close-on-exec")
	}
	// A descriptor that did not survive is reported.
	r, out := testInit()
	r.restoreWatchdog(&watchdogState{FD: 999, Timeout: time.Second})
	if r.wd != nil || !strings.Contains(out.String(), "descriptor 999 from the previous init is gone") {
		t.Fatalf("wd %+v, output %q", r.wd, out)
	}
}
