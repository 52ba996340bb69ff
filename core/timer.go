package core

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/core/calendar"
)

// timer is a timer unit: it starts another unit on a schedule.
type timer struct {
	*unit
	noKindState
	tmr *schedule
}

type timerState uint8

const (
	timerDead timerState = iota
	timerWaiting
	timerRunning
	timerElapsed
	timerFailed
)

var timerStates = []stateInfo{timerDead: {"dead", Inactive}, timerWaiting: {"waiting", Active}, timerRunning: {"running", Active},
	timerElapsed: {"elapsed", Active}, timerFailed: {"failed", Failed}}

func (s timerState) String() string { return timerStates[s].name }
func (s timerState) active() State  { return timerStates[s].active }

func (u *timer) typeName() string  { return "timer" }
func (u *timer) initial() subState { return timerDead }
func (u *timer) parseSub(n string) (subState, bool) {
	return parseState[timerState](timerStates, n)
}

func (u *timer) edges(m *Manager, g *graph) {
	g.add(g.timersOf, timerTarget(u.unit), u.name)
}

func (u *timer) save(rec *savedUnit) {
	if u.tmr == nil {
		return
	}
	if !u.tmr.last.IsZero() {
		rec.LastTrigger = u.tmr.last.UnixNano()
	}
	rec.Activated = u.tmr.activated.UnixNano()
}

func (u *timer) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	if rec.LastTrigger != 0 || rec.Activated != 0 {
		u.tmr = &schedule{}
		if rec.LastTrigger != 0 {
			u.tmr.last = time.Unix(0, rec.LastTrigger)
		}
		if rec.Activated != 0 {
			u.tmr.activated = time.Unix(0, rec.Activated)
		}
	}
	return restoreSimple(u.unit, rec)
}

// resume arms an active timer again, from the schedule it had.
func (u *timer) resume(m *Manager) {
	if u.state != Active || u.cfg == nil {
		return
	}
	ts := &schedule{activated: m.now()}
	if u.tmr != nil {
		ts.last = u.tmr.last
		if !u.tmr.activated.IsZero() {
			ts.activated = u.tmr.activated
		}
	}
	u.tmr = ts
	for _, c := range u.cfg.Timer.OnCalendar {
		if spec, err := calendar.Parse(c); err == nil {
			u.tmr.cal = append(u.tmr.cal, spec)
		}
	}
	m.armTimer(u)
}

// schedule is an active timer's: when it fires next and what it fired
// last.
type schedule struct {
	t         timerHandle
	next      time.Time
	activated time.Time
	last      time.Time
	cal       []*calendar.Spec
	// delay is RandomizedDelaySec's share, drawn for the base it was
	// added to, so re-arming for the same base keeps it.
	delay     time.Duration
	delayBase time.Time
}

// timerTarget is the unit a timer starts.
func timerTarget(u *unit) string {
	if t := u.cfg.Timer.Unit; t != "" {
		return t
	}
	return strings.TrimSuffix(u.name, ".timer") + ".service"
}

func (u *timer) start(m *Manager) {
	ts := &schedule{activated: m.now()}
	if u.tmr != nil {
		ts.last = u.tmr.last
	}
	for _, c := range u.cfg.Timer.OnCalendar {
		spec, err := calendar.Parse(c)
		if err != nil {
			m.logf("%s: OnCalendar=%s: %v", u.name, c, err)
			u.result = resResources
			m.setState(u.unit, timerFailed)
			m.startEnded(u.unit, resultFailed)
			return
		}
		ts.cal = append(ts.cal, spec)
	}
	u.tmr = ts
	u.result = resSuccess
	m.setState(u.unit, timerWaiting)
	m.startEnded(u.unit, resultDone)
	m.armTimer(u)
}

func (u *timer) stop(m *Manager) {
	if u.tmr != nil && u.tmr.t != nil {
		u.tmr.t.Stop()
	}
	if u.tmr != nil {
		u.tmr.next = time.Time{}
	}
	u.lastStop = m.now()
	m.setState(u.unit, timerDead)
	m.stopEnded(u.unit)
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
func (m *Manager) nextElapse(u *timer, now time.Time) time.Time {
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
	if d := m.units[timerTarget(u.unit)]; d != nil {
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
func (m *Manager) armTimer(u *timer) {
	ts := u.tmr
	if ts == nil || u.state != Active {
		return
	}
	if ts.t != nil {
		ts.t.Stop()
	}
	now := m.now()
	ts.next = m.nextElapse(u, now)
	if ts.next.IsZero() {
		return
	}
	if !ts.next.Equal(ts.delayBase) {
		ts.delayBase, ts.delay = ts.next, m.randomDelay(u)
	}
	ts.next = ts.next.Add(ts.delay)
	d := max(ts.next.Sub(now), 0)
	ts.t = m.after(d, func() {
		if u.tmr != ts || u.state != Active {
			return
		}
		m.fireTimer(u)
	})
}

// randomDelay is the delay RandomizedDelaySec adds to a firing: random
// each time, or with FixedRandomDelay a hash of the machine id and the
// timer's name, as systemd's (its hash differs: the delays are not the
// same as systemd's on the same machine).
func (m *Manager) randomDelay(u *timer) time.Duration {
	c := u.cfg.Timer
	if c.RandomizedDelaySec <= 0 {
		return 0
	}
	if !c.FixedRandomDelay {
		return time.Duration(rand.Int64N(int64(c.RandomizedDelaySec)))
	}
	h := fnv.New64a()
	if m.cfg.MachineID != "" {
		// Before the identity applet has written it, there is none: the
		// name alone decides, until the next boot.
		id, _ := os.ReadFile(m.cfg.MachineID)
		h.Write(bytes.TrimSpace(id))
	}
	h.Write([]byte{0})
	h.Write([]byte(u.name))
	return time.Duration(h.Sum64() % uint64(c.RandomizedDelaySec))
}

func (m *Manager) fireTimer(u *timer) {
	ts := u.tmr
	target := timerTarget(u.unit)
	if d := m.units[target]; d != nil && (d.state == Active || d.state == Activating || d.job != nil) {
		// Still running from the last trigger: as systemd, no second
		// start, and the timer waits for the unit to change state
		// (rearmTimersFor) before it is armed again. Counting this as a
		// trigger would put an OnUnitActiveSec= base behind it for good.
		ts.next = time.Time{}
		return
	}
	ts.last = m.now()
	m.stateChanged = true
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
		if t, ok := m.units[n]; ok {
			if tu, ok := t.k.(*timer); ok {
				m.armTimer(tu)
			}
		}
	}
}
