package core

import (
	"time"

	"github.com/sysmaster-go/sysmaster/units"
)

// unit is what the manager knows of one unit whatever its kind: its
// configuration, dependencies' bookkeeping, job and restart counters.
// What differs by kind lives in k.
type unit struct {
	name    string
	cfg     *units.Unit // nil when the file failed to load
	loadErr error
	k       kind

	// state follows sub, through the kind's state table (setState).
	state  State
	sub    subState
	result unitResult

	job           *job
	lastJobFailed bool

	starts    []time.Time // recent starts, for the start limit
	restarts  int
	since     time.Time
	lastStart time.Time // when the unit last began to start (timers)
	lastStop  time.Time // when it last went down
	times     unitTimes // its last start, for boot analysis
}

// newUnit makes the runtime view of the unit called name.
func newUnit(name string, cfg *units.Unit, loadErr error) *unit {
	u := &unit{name: name, cfg: cfg, loadErr: loadErr}
	u.k = newKind(u)
	u.sub = u.k.initial()
	u.state = u.sub.active()
	return u
}

func (u *unit) kind() string { return u.k.typeName() }

func (u *unit) description() string {
	if u.cfg != nil && u.cfg.Unit.Description != "" {
		return u.cfg.Unit.Description
	}
	return u.name
}

// files lists the unit's file and its drop-ins.
func (u *unit) files() []string {
	if u.cfg == nil {
		return nil
	}
	return append([]string{u.cfg.Path}, u.cfg.DropIns...)
}

// Start limits: a unit started more often than this is a crash loop.
const (
	startLimitBurst    = 5
	startLimitInterval = 10 * time.Second
)

// setState moves u to sub, which decides its active state.
func (m *Manager) setState(u *unit, sub subState) {
	if u.sub == sub {
		return
	}
	old, s := u.state, sub.active()
	u.state, u.sub = s, sub
	u.since = m.now()
	if old != s && u.k.logged() {
		detail := ""
		if st := (UnitStatus{}); s == Active {
			if u.k.describe(m, &st); st.MainPID > 0 {
				detail = " (pid " + itoa(st.MainPID) + ")"
			}
		}
		m.logf("%s: %s -> %s%s", u.name, old, s, detail)
	}
	if old != s {
		m.timesChanged(u, old, s)
	}
	m.stateChanged = true
	if old == Deactivating && len(m.pending) > 0 {
		m.jobsChanged = true // a job may have waited for this unit to settle
	}
	if (old == Active || old == Deactivating || old == Activating) && (s == Inactive || s == Failed) {
		m.wentDown(u, s == Failed)
		for _, sock := range m.socketsFor(u.name) {
			m.watchSocket(sock)
		}
		m.pathTargetDown(u.name)
	}
	m.rearmTimersFor(u.name)
}

// startUnit runs a start of u: the checks every kind shares, then the
// kind's own start.
func (m *Manager) startUnit(u *unit) {
	if u.cfg == nil {
		m.startEnded(u, resultFailed)
		return
	}
	if u.k.checked() {
		if d, bad := m.failedDependency(u); bad {
			m.logf("%s: dependency %s failed or is not active; not starting", u.name, d)
			m.startEnded(u, resultDependency)
			return
		}
		if failed, ok := u.cfg.CheckConditions(m.host); !ok {
			m.logf("%s: condition %s not met; skipped", u.name, failed)
			m.startEnded(u, resultSkipped)
			return
		}
		if failed, ok := u.cfg.CheckAsserts(m.host); !ok {
			m.logf("%s: assertion %s failed", u.name, failed)
			u.result = resAssert
			m.startEnded(u, resultAssert)
			return
		}
		if !m.withinStartLimit(u) {
			return
		}
		u.lastStart = m.now()
	}
	u.k.start(m)
}

// stopUnit runs a stop of u.
func (m *Manager) stopUnit(u *unit) {
	if u.cfg == nil {
		u.lastStop = m.now()
		m.setState(u, u.k.initial())
		m.stopEnded(u)
		return
	}
	u.k.stop(m)
}

// withinStartLimit counts a start of u; a unit started more than
// StartLimitBurst times within StartLimitIntervalSec is a crash loop and
// fails instead (start-limit-hit).
func (m *Manager) withinStartLimit(u *unit) bool {
	burst, interval := startLimitBurst, startLimitInterval
	if u.cfg.Unit.StartLimitBurst > 0 {
		burst = u.cfg.Unit.StartLimitBurst
	}
	if u.cfg.Unit.StartLimitIntervalSec > 0 {
		interval = u.cfg.Unit.StartLimitIntervalSec.D()
	}
	now := m.now()
	var recent []time.Time
	for _, t := range u.starts {
		if now.Sub(t) < interval {
			recent = append(recent, t)
		}
	}
	u.starts = append(recent, now)
	if len(u.starts) <= burst {
		return true
	}
	u.result = resStartLimit
	m.logf("%s: started %d times within %s; giving up (start-limit-hit)", u.name, burst, interval)
	failed, ok := u.k.parseSub("failed")
	if !ok {
		failed = u.k.initial()
	}
	m.setState(u, failed)
	m.startEnded(u, resultFailed)
	return false
}
