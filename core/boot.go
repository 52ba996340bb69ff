package core

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// Boot analysis: the manager keeps, per unit, the times of its last start
// on the kernel's CLOCK_MONOTONIC, and for the boot when pid 1 and the
// first manager started and when the target was reached. Both are part
// of the saved state, so a new manager process answers the same.

// unitTimes are a unit's times, on the kernel clock (see proto.UnitTimes).
type unitTimes struct {
	queued, activating, active, failed, inactive time.Duration
	ran                                          time.Duration
}

// bootRecord is STATE/boot.json.
type bootRecord struct {
	Kernel   time.Duration `json:"kernel_ns,omitempty"`
	Manager  time.Duration `json:"manager_ns"`
	Finished time.Duration `json:"finished_ns,omitempty"`
}

// kernelClock is where the manager's clock meets the kernel's: the
// instant base of m.now() was CLOCK_MONOTONIC mono.
type kernelClock struct {
	base time.Time
	mono time.Duration
}

// uptime is t on the kernel's clock. The pair is taken once; later
// instants follow the manager's clock from it, so a fake clock in tests
// moves the boot's times as it moves everything else.
func (m *Manager) uptime(t time.Time) time.Duration {
	if m.kclock.base.IsZero() {
		m.kclock = kernelClock{base: m.now(), mono: monotonic()}
	}
	return m.kclock.mono + t.Sub(m.kclock.base)
}

func (m *Manager) uptimeNow() time.Duration { return m.uptime(m.now()) }

// monotonic reads CLOCK_MONOTONIC.
func monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func (m *Manager) bootPath() string { return filepath.Join(m.cfg.StateDir, "boot.json") }

// startBoot reads the boot's record a previous manager process left, or
// begins one: pid 1's start as init handed it, and now.
func (m *Manager) startBoot() {
	if data, err := os.ReadFile(m.bootPath()); err == nil {
		var rec bootRecord
		if err := json.Unmarshal(data, &rec); err == nil && rec.Manager > 0 {
			m.boot = rec
			return
		}
		m.logf("boot record %s unreadable; starting a new one", m.bootPath())
	}
	m.boot = bootRecord{Manager: m.uptimeNow()}
	if v, ok := os.LookupEnv(proto.EnvKernelDone); ok {
		os.Unsetenv(proto.EnvKernelDone)
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns > 0 {
			m.boot.Kernel = time.Duration(ns)
		} else {
			m.logf("%s=%q is not a time in nanoseconds; the kernel's part is unknown", proto.EnvKernelDone, v)
		}
	}
	m.saveBoot()
}

func (m *Manager) saveBoot() {
	data, _ := json.Marshal(m.boot)
	tmp := m.bootPath() + ".new"
	err := os.MkdirAll(m.cfg.StateDir, 0o755)
	if err == nil {
		err = os.WriteFile(tmp, data, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, m.bootPath())
	}
	if err != nil {
		m.logf("saving the boot record: %v", err)
	}
}

// jobQueued notes that a start job of u was installed.
func (m *Manager) jobQueued(u *unit) {
	now := m.uptimeNow()
	if u.state == Inactive || u.state == Failed {
		u.times = unitTimes{}
	}
	u.times.queued = now
}

// timesChanged follows u's move from state old to s.
func (m *Manager) timesChanged(u *unit, old, s State) {
	now := m.uptimeNow()
	up := old == Activating || old == Active || old == Deactivating
	switch s {
	case Activating:
		if !up {
			u.times = unitTimes{queued: u.times.queued, activating: now}
		}
	case Active:
		if !up {
			u.times = unitTimes{queued: u.times.queued, activating: now}
		}
		u.times.active = now
		if u.name == m.cfg.Target && m.boot.Finished == 0 && m.boot.Manager > 0 {
			m.boot.Finished = now
			m.saveBoot()
		}
	case Failed:
		u.times.failed = now
		if up {
			u.times.inactive = now
		}
	case Inactive:
		if up {
			u.times.inactive = now
		}
	}
}

// processEnded adds the run of a process that started at at (on the
// kernel clock) to u's times.
func (m *Manager) processEnded(u *unit, at time.Duration) {
	if at > 0 {
		u.times.ran += m.uptimeNow() - at
	}
}

// clockTicks are the units of a process's start time in /proc (USER_HZ).
const clockTicks = 100

// processStart is when a process with start time start (clock ticks since
// boot, from /proc) began, on the kernel clock; an adopted process's run
// is counted from there.
func processStart(start uint64) time.Duration {
	return time.Duration(start) * (time.Second / clockTicks)
}

// bootAnswer is the answer to cmd "analyze".
func (m *Manager) bootAnswer() *proto.Boot {
	b := &proto.Boot{Kernel: m.boot.Kernel, Manager: m.boot.Manager, Finished: m.boot.Finished,
		Target: m.cfg.Target, Now: m.uptimeNow()}
	for _, n := range sortedNames(m.units) {
		u := m.units[n]
		t := u.times
		if t.activating == 0 && t.queued == 0 {
			continue
		}
		ran := t.ran
		if s, ok := u.k.(*service); ok {
			for _, at := range []time.Duration{s.mainAt, s.ctrlAt} {
				if at > 0 {
					ran += b.Now - at
				}
			}
		}
		after := append([]string(nil), m.g.after[n]...)
		sort.Strings(after)
		b.Units = append(b.Units, proto.UnitTimes{Name: n, Queued: t.queued, Activating: t.activating,
			Active: t.active, Failed: t.failed, Inactive: t.inactive, Ran: ran, After: after})
	}
	return b
}

// saveTimes and restoreTimes carry u's times in its state record.
func (u *unit) saveTimes(rec *savedUnit) {
	t := u.times
	rec.Queued, rec.Activating, rec.ActiveAt, rec.FailedAt, rec.InactiveAt, rec.Ran =
		int64(t.queued), int64(t.activating), int64(t.active), int64(t.failed), int64(t.inactive), int64(t.ran)
}

func (u *unit) restoreTimes(rec savedUnit) {
	u.times = unitTimes{queued: time.Duration(rec.Queued), activating: time.Duration(rec.Activating),
		active: time.Duration(rec.ActiveAt), failed: time.Duration(rec.FailedAt),
		inactive: time.Duration(rec.InactiveAt), ran: time.Duration(rec.Ran)}
}
