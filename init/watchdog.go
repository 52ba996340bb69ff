package pid1

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units/system"
)

// The hardware watchdog resets the board unless init pets it. Init pets it
// only while the system is healthy: core is up and answered its liveness
// check lately, or is being restarted and comes back within restartGrace.
const (
	// deviceWait is how long init waits for the device node to appear
	// (devmaster may load the driver after init has started).
	deviceWait = 2 * time.Minute
	// restartGrace is how long core may be gone (or silent beyond what the
	// liveness check tolerates) before init stops petting.
	restartGrace = 30 * time.Second
	// defaultRebootWatchdog is the timeout of the final shutdown steps when
	// RebootWatchdogSec is not set, as systemd's default.
	defaultRebootWatchdog = 10 * time.Minute
)

// wdDevice is an open watchdog.
type wdDevice interface {
	// SetTimeout asks for a timeout and returns the one the driver took.
	SetTimeout(d time.Duration) (time.Duration, error)
	Keepalive() error
	// Disarm stops the timer on purpose (disable ioctl and magic close).
	Disarm() error
	// Fd is the descriptor, kept open across a re-exec of init.
	Fd() int
}

// watchdog is init's view of the hardware watchdog.
type watchdog struct {
	cfg     system.Manager
	dev     wdDevice
	timeout time.Duration // what the driver took
	// alive is when the system was last known healthy: core reported it
	// was up, or answered a liveness check.
	alive time.Time
	// gaveUp is set once init has stopped petting for good.
	gaveUp bool
	// final is set when the reboot timeout applies.
	final bool
}

// sysWatchdog is a watchdog device node driven through its ioctls.
type sysWatchdog struct{ fd int }

func openWatchdog(path string) (wdDevice, error) {
	// Write-only, as watchdog daemons open it; init never writes to it, so
	// no magic close can happen by accident.
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &sysWatchdog{fd: fd}, nil
}

func (w *sysWatchdog) SetTimeout(d time.Duration) (time.Duration, error) {
	if err := unix.IoctlSetPointerInt(w.fd, unix.WDIOC_SETTIMEOUT, int(d/time.Second)); err != nil {
		return 0, err
	}
	// Drivers round to what the hardware can count.
	got, err := unix.IoctlGetInt(w.fd, unix.WDIOC_GETTIMEOUT)
	if err != nil {
		return d, nil
	}
	return time.Duration(got) * time.Second, nil
}

func (w *sysWatchdog) Keepalive() error { return unix.IoctlWatchdogKeepalive(w.fd) }

func (w *sysWatchdog) Disarm() error {
	err := unix.IoctlSetPointerInt(w.fd, unix.WDIOC_SETOPTIONS, unix.WDIOS_DISABLECARD)
	if _, werr := unix.Write(w.fd, []byte("V")); err == nil {
		err = werr
	}
	if cerr := unix.Close(w.fd); err == nil {
		err = cerr
	}
	return err
}

func (w *sysWatchdog) Fd() int { return w.fd }

// readSystemConfig reads /etc/sysmaster/system.toml; a missing file is an
// empty one, a bad one is reported and ignored.
func (p *pid1) readSystemConfig(path string) system.Config {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return system.Config{}
	}
	if err == nil {
		var c system.Config
		if c, err = system.Parse(path, data); err == nil {
			return c
		}
	}
	p.logf("warning: %v; using no settings from it", err)
	return system.Config{}
}

// startWatchdog opens the watchdog when system.toml asks for one; a device
// that is not there yet is looked for again each second.
func (p *pid1) startWatchdog(cfg system.Manager, open func(string) (wdDevice, error)) {
	if cfg.RuntimeWatchdogSec == 0 {
		return
	}
	w := &watchdog{cfg: cfg, alive: time.Now()}
	p.wd = w
	deadline := time.Now().Add(deviceWait)
	var try func()
	try = func() {
		dev, err := open(cfg.Device())
		switch {
		case err == nil:
			p.armWatchdog(w, dev)
		case errors.Is(err, os.ErrNotExist) && time.Now().Before(deadline):
			p.later(time.Second, try)
		default:
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("did not appear within %s", deviceWait)
			}
			p.logf("watchdog: %s: %v; running without a hardware watchdog", cfg.Device(), err)
			p.wd = nil
		}
	}
	dev, err := open(cfg.Device())
	if errors.Is(err, os.ErrNotExist) {
		p.logf("watchdog: %s does not exist yet; waiting up to %s for its driver", cfg.Device(), deviceWait)
		p.later(time.Second, try)
		return
	}
	if err != nil {
		p.logf("watchdog: %s: %v; running without a hardware watchdog", cfg.Device(), err)
		p.wd = nil
		return
	}
	p.armWatchdog(w, dev)
}

func (p *pid1) armWatchdog(w *watchdog, dev wdDevice) {
	want := w.cfg.RuntimeWatchdogSec.D()
	got, err := dev.SetTimeout(want)
	if err != nil {
		// Opening it started the timer: stop it on purpose, or the
		// board would reset with a timeout nobody chose.
		if derr := dev.Disarm(); derr != nil {
			p.logf("watchdog: %s refuses a timeout of %s (%v) and cannot be stopped (%v); it will reset the board", w.cfg.Device(), want, err, derr)
		} else {
			p.logf("watchdog: %s refuses a timeout of %s: %v; running without a hardware watchdog", w.cfg.Device(), want, err)
		}
		p.wd = nil
		return
	}
	w.dev, w.timeout = dev, got
	if got != want {
		p.logf("watchdog: %s took a timeout of %s instead of %s", w.cfg.Device(), got, want)
	}
	p.logf("watchdog: %s armed, timeout %s", w.cfg.Device(), got)
	p.petWatchdog()
}

// petInterval is how often init pets: three times per timeout, so that one
// late tick on a loaded system does not reset the board.
func (w *watchdog) petInterval() time.Duration {
	return max(w.timeout/3, 500*time.Millisecond)
}

// healthy says whether the system counts as healthy at now: core up and
// heard from within what the liveness check tolerates, plus the time a
// restart may take.
func (p *pid1) healthy(now time.Time) bool {
	if p.shutdown != "" {
		// Core stopping units is bounded by init's own stop timeout.
		return true
	}
	limit := time.Duration(livenessMisses)*p.liveness + restartGrace
	return now.Sub(p.wd.alive) <= limit
}

// coreAlive records that core showed it works.
func (p *pid1) coreAlive() {
	if p.wd != nil {
		p.wd.alive = time.Now()
	}
}

// petWatchdog runs on init's loop every petInterval while it is armed.
func (p *pid1) petWatchdog() {
	w := p.wd
	if w == nil || w.dev == nil || w.gaveUp || w.final {
		return
	}
	if !p.healthy(time.Now()) {
		p.giveUpWatchdog(fmt.Sprintf("core has not been up and answering for %s", time.Since(w.alive).Round(time.Second)))
		return
	}
	if err := w.dev.Keepalive(); err != nil {
		p.logf("watchdog: keepalive: %v", err)
	}
	p.later(w.petInterval(), p.petWatchdog)
}

// giveUpWatchdog stops petting for good: the board resets within the
// timeout. This is the one line that says why.
func (p *pid1) giveUpWatchdog(why string) {
	w := p.wd
	if w == nil || w.dev == nil || w.gaveUp {
		return
	}
	w.gaveUp = true
	p.logf("watchdog: %s; no longer petting %s, the board resets within %s", why, w.cfg.Device(), w.timeout)
}

// finalWatchdog switches to the reboot timeout for the last steps of a
// shutdown and pets once: a shutdown that hangs past it still resets.
func (p *pid1) finalWatchdog() {
	w := p.wd
	if w == nil || w.dev == nil || w.gaveUp || w.final {
		return
	}
	w.final = true
	d := w.cfg.RebootWatchdogSec.D()
	if d == 0 {
		d = defaultRebootWatchdog
	}
	got, err := w.dev.SetTimeout(d)
	if err != nil {
		p.logf("watchdog: cannot set the reboot timeout %s: %v; keeping %s", d, err, w.timeout)
		got = w.timeout
	}
	_ = w.dev.Keepalive()
	p.logf("watchdog: final shutdown within %s or the board resets", got)
}

// watchdogState is what a re-executed init needs to carry on petting.
type watchdogState struct {
	FD      int            `json:"fd"`
	Timeout time.Duration  `json:"timeout"`
	GaveUp  bool           `json:"gave_up,omitempty"`
	Config  system.Manager `json:"config"`
}

// saveWatchdog keeps the descriptor open across exec.
func (p *pid1) saveWatchdog() (*watchdogState, error) {
	w := p.wd
	if w == nil || w.dev == nil {
		return nil, nil
	}
	if _, err := unix.FcntlInt(uintptr(w.dev.Fd()), unix.F_SETFD, 0); err != nil {
		return nil, fmt.Errorf("keeping the watchdog open across exec: %w", err)
	}
	return &watchdogState{FD: w.dev.Fd(), Timeout: w.timeout, GaveUp: w.gaveUp, Config: w.cfg}, nil
}

// restoreWatchdog takes the descriptor over after a re-exec and resumes.
func (p *pid1) restoreWatchdog(st *watchdogState) {
	if st == nil {
		return
	}
	if _, err := unix.FcntlInt(uintptr(st.FD), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		p.logf("watchdog: descriptor %d from the previous init is gone (%v); the board may reset", st.FD, err)
		return
	}
	p.wd = &watchdog{cfg: st.Config, dev: &sysWatchdog{fd: st.FD}, timeout: st.Timeout, gaveUp: st.GaveUp, alive: time.Now()}
	if !st.GaveUp {
		p.petWatchdog()
	}
}
