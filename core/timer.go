package core

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/core/calendar"
)

// timerState is an active timer unit: when it fires next and what it
// fired last.
type timerState struct {
	t         *time.Timer
	next      time.Time
	activated time.Time
	last      time.Time
	cal       []*calendar.Spec
}

// timerTarget is the unit a timer starts.
func timerTarget(u *unit) string {
	if t := u.cfg.Timer.Unit; t != "" {
		return t
	}
	return strings.TrimSuffix(u.name, ".timer") + ".service"
}

func (m *Manager) startTimer(u *unit) {
	ts := &timerState{activated: time.Now()}
	if u.tmr != nil {
		ts.last = u.tmr.last
	}
	for _, c := range u.cfg.Timer.OnCalendar {
		spec, err := calendar.Parse(c)
		if err != nil {
			m.logf("%s: OnCalendar=%s: %v", u.name, c, err)
			u.result = "resources"
			m.setState(u, Failed, "failed")
			m.startEnded(u, resultFailed)
			return
		}
		ts.cal = append(ts.cal, spec)
	}
	u.tmr = ts
	u.result = "success"
	m.setState(u, Active, "waiting")
	m.startEnded(u, resultDone)
	m.armTimer(u)
}

func (m *Manager) stopTimer(u *unit) {
	if u.tmr != nil && u.tmr.t != nil {
		u.tmr.t.Stop()
	}
	if u.tmr != nil {
		u.tmr.next = time.Time{}
	}
}

// bootTime is when the kernel started, from /proc/uptime.
func bootTime() time.Time {
	b, err := os.ReadFile("/proc/uptime")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if s, err := strconv.ParseFloat(f[0], 64); err == nil {
				return time.Now().Add(-time.Duration(s * float64(time.Second)))
			}
		}
	}
	return time.Now()
}

// nextElapse computes when the timer fires next, or zero for never.
func (m *Manager) nextElapse(u *unit, now time.Time) time.Time {
	c := u.cfg.Timer
	ts := u.tmr
	var next time.Time
	consider := func(t time.Time) {
		if t.IsZero() || !t.After(ts.last) {
			return // each base fires once per trigger
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if c.OnBootSec > 0 {
		consider(bootTime().Add(c.OnBootSec.D()))
	}
	if c.OnStartupSec > 0 {
		consider(m.started.Add(c.OnStartupSec.D()))
	}
	if c.OnActiveSec > 0 {
		consider(ts.activated.Add(c.OnActiveSec.D()))
	}
	if d := m.units[timerTarget(u)]; d != nil {
		if c.OnUnitActiveSec > 0 && !d.lastStart.IsZero() {
			consider(d.lastStart.Add(c.OnUnitActiveSec.D()))
		}
		if c.OnUnitInactiveSec > 0 && !d.lastStop.IsZero() && d.state != Active && d.state != Activating {
			consider(d.lastStop.Add(c.OnUnitInactiveSec.D()))
		}
	}
	for _, spec := range ts.cal {
		from := now
		if ts.last.After(from) {
			from = ts.last
		}
		if t, ok := spec.Next(from); ok {
			consider(t)
		}
	}
	return next
}

// armTimer schedules u's next elapse; timers whose bases all lie in the
// past fire at once, as systemd's do after boot.
func (m *Manager) armTimer(u *unit) {
	ts := u.tmr
	if ts == nil || u.state != Active {
		return
	}
	if ts.t != nil {
		ts.t.Stop()
	}
	now := time.Now()
	ts.next = m.nextElapse(u, now)
	if ts.next.IsZero() {
		return
	}
	d := max(ts.next.Sub(now), 0)
	ts.t = m.after(d, func() {
		if u.tmr != ts || u.state != Active {
			return
		}
		m.fireTimer(u)
	})
}

func (m *Manager) fireTimer(u *unit) {
	ts := u.tmr
	ts.last = time.Now()
	target := timerTarget(u)
	m.stateChanged = true
	if d := m.units[target]; d != nil && (d.state == Active || d.state == Activating || d.job != nil) {
		// Still running from the last trigger: systemd does not queue a
		// second start.
		m.armTimer(u)
		return
	}
	m.logf("%s: elapsed; starting %s", u.name, target)
	if err := m.startTransaction(target); err != nil {
		m.logf("%s: %v", u.name, err)
	}
	m.armTimer(u)
}

// rearmTimersFor re-evaluates the timers that start svc, whose
// OnUnitActiveSec/OnUnitInactiveSec bases just moved.
func (m *Manager) rearmTimersFor(svc string) {
	for _, n := range m.g.timersOf[svc] {
		if t := m.units[n]; t != nil {
			m.armTimer(t)
		}
	}
}
