package core

import (
	"sort"
	"strings"
)

// graph holds the reverse edges of the unit dependencies, computed once
// per load, so propagation never scans every unit.
type graph struct {
	after       map[string][]string // unit -> units it is ordered after (After=, others' Before=, a target's deps)
	afterMe     map[string][]string // unit -> units ordered after it
	stopWith    map[string][]string // unit -> units that stop when it is stopped (Requires, BindsTo, PartOf)
	boundBy     map[string][]string // unit -> units that stop whenever it goes down (BindsTo)
	restartWith map[string][]string // unit -> units restarted with it (PartOf)
	reloadWith  map[string][]string // unit -> units reloaded with it (PropagatesReloadTo, others' ReloadPropagatedFrom)
	conflicts   map[string][]string // symmetric Conflicts=
	socketsOf   map[string][]string // service -> socket units activating it
	timersOf    map[string][]string // unit -> timer units starting it
	pathsOf     map[string][]string // unit -> path units starting it
}

func (m *Manager) buildGraph() {
	g := graph{
		after: map[string][]string{}, afterMe: map[string][]string{}, stopWith: map[string][]string{},
		boundBy: map[string][]string{}, restartWith: map[string][]string{}, reloadWith: map[string][]string{}, conflicts: map[string][]string{},
		socketsOf: map[string][]string{}, timersOf: map[string][]string{}, pathsOf: map[string][]string{},
	}
	add := g.add
	for _, n := range sortedNames(m.units) {
		u := m.units[n]
		if u.cfg == nil {
			continue
		}
		c := u.cfg
		for _, a := range c.Unit.After {
			add(g.after, n, a)
		}
		for _, b := range c.Unit.Before {
			add(g.after, b, n)
		}
		u.k.edges(m, &g)
		for _, d := range c.Unit.Requires {
			add(g.stopWith, d, n)
		}
		for _, d := range c.Unit.BindsTo {
			add(g.stopWith, d, n)
			add(g.boundBy, d, n)
		}
		for _, d := range c.Unit.PartOf {
			add(g.stopWith, d, n)
			add(g.restartWith, d, n)
		}
		for _, d := range c.Unit.PropagatesReloadTo {
			add(g.reloadWith, n, d)
		}
		for _, d := range c.Unit.ReloadPropagatedFrom {
			add(g.reloadWith, d, n)
		}
		for _, d := range c.Unit.Conflicts {
			add(g.conflicts, n, d)
			add(g.conflicts, d, n)
		}
	}
	for k, vs := range g.after {
		for _, v := range vs {
			add(g.afterMe, v, k)
		}
	}
	for _, mp := range []map[string][]string{g.after, g.afterMe, g.stopWith, g.boundBy, g.restartWith, g.reloadWith, g.conflicts, g.socketsOf, g.timersOf, g.pathsOf} {
		for k, v := range mp {
			mp[k] = dedup(v)
		}
	}
	m.g = g
	m.orderGen++
}

func (g *graph) add(mp map[string][]string, k, v string) { mp[k] = append(mp[k], v) }

func dedup(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// wantsOf lists what starting u pulls in.
func (m *Manager) wantsOf(u *unit) []string {
	var out []string
	if u.cfg != nil {
		c := u.cfg.Unit
		out = append(append(append(out, c.Wants...), c.Requires...), c.BindsTo...)
		for _, a := range c.After {
			if strings.HasSuffix(a, ".device") {
				out = append(out, a) // waiting for a device needs its start job
			}
		}
	}
	return out
}

// failedDependency returns the first hard dependency that keeps u from
// starting: a Requires/BindsTo unit that failed or is missing, or a
// Requisite unit that is not active.
func (m *Manager) failedDependency(u *unit) (string, bool) {
	for _, list := range [][]string{u.cfg.Unit.Requires, u.cfg.Unit.BindsTo} {
		for _, r := range list {
			d := m.units[r]
			if d == nil || d.cfg == nil || d.state == Failed || d.lastJobFailed {
				return r, true
			}
		}
	}
	for _, r := range u.cfg.Unit.Requisite {
		if d := m.units[r]; d == nil || d.state != Active {
			return r, true
		}
	}
	return "", false
}

// wentDown propagates the end of u: units bound to it stop, OnFailure=
// units start when it failed.
func (m *Manager) wentDown(u *unit, failed bool) {
	var stop []string
	for _, n := range m.g.boundBy[u.name] {
		if d := m.units[n]; d != nil && (d.state == Active || d.state == Activating) && (d.job == nil || !d.job.stopping()) {
			stop = append(stop, n)
		}
	}
	if len(stop) > 0 && !m.shuttingDown {
		m.logf("%s went down; stopping %v bound to it", u.name, stop)
		m.stopTransaction(stop)
	}
	if failed && u.cfg != nil && !m.shuttingDown {
		for _, n := range u.cfg.Unit.OnFailure {
			m.logf("%s failed; starting %s (OnFailure)", u.name, n)
			if err := m.startTransaction(n); err != nil {
				m.logf("OnFailure=%s: %v", n, err)
			}
		}
	}
}
