package core

import (
	"fmt"
	"sort"
	"strings"
)

type jobKind int

const (
	jobStart jobKind = iota
	jobStop
)

func (k jobKind) String() string {
	if k == jobStart {
		return "start"
	}
	return "stop"
}

// job is a pending or running state change of one unit. It runs once every
// job it is ordered after has finished.
type job struct {
	u       *unit
	kind    jobKind
	after   []*job
	running bool
	done    bool
	failed  bool
	failMsg string // why the job failed, when the unit's state does not say
	waiters []chan<- response
}

// startTransaction adds start jobs for name and everything it pulls in,
// orders them and breaks ordering cycles, then runs what can run.
func (m *Manager) startTransaction(name string, waiter chan<- response) error {
	root, ok := m.units[name]
	if !ok {
		return fmt.Errorf("unit %s not found", name)
	}
	if root.cfg == nil {
		return fmt.Errorf("unit %s failed to load: %v", name, root.loadErr)
	}
	var added []*job
	seen := map[string]bool{}
	var visit func(u *unit)
	visit = func(u *unit) {
		if seen[u.name] {
			return
		}
		seen[u.name] = true
		if u.job == nil && (u.state != Active || u == root) {
			u.job = &job{u: u, kind: jobStart}
			added = append(added, u.job)
			m.pending[u.job] = struct{}{}
		}
		for _, w := range m.wantsOf(u) {
			if d, ok := m.units[w]; ok && d.cfg != nil {
				visit(d)
			} else if !ok {
				m.logf("%s: wants %s, which does not exist", u.name, w)
			}
		}
	}
	visit(root)
	m.stateChanged = true // jobs in flight are part of the state
	if root.job != nil && waiter != nil {
		root.job.waiters = append(root.job.waiters, waiter)
	} else if waiter != nil {
		waiter <- response{Out: root.name + " is already " + string(root.state) + "\n"}
	}
	// Units that conflict with what starts are stopped first; when the
	// transaction itself pulls in both sides, the unit asked for wins.
	var stops []string
	for _, j := range added {
		for _, c := range m.g.conflicts[j.u.name] {
			d := m.units[c]
			if d == nil {
				continue
			}
			if d.job != nil && d.job.kind == jobStart {
				if d == root {
					m.logf("%s conflicts with %s; not starting %s", j.u.name, root.name, j.u.name)
					m.finishJob(j, true)
					continue
				}
				m.logf("%s conflicts with %s; not starting %s", d.name, j.u.name, d.name)
				m.finishJob(d.job, true)
				continue
			}
			if d.state != Inactive && d.state != Failed {
				stops = append(stops, c)
			}
		}
	}
	if len(stops) > 0 {
		m.stopTransaction(stops, nil)
	}
	for _, j := range added {
		if j.done {
			continue
		}
		for _, a := range m.orderedAfter(j.u) {
			if d, ok := m.units[a]; ok && d.job != nil && d.job.kind == jobStart && d.job != j {
				j.after = append(j.after, d.job)
			}
		}
		// A start waits for the stop of a unit it conflicts with.
		for _, c := range m.g.conflicts[j.u.name] {
			if d := m.units[c]; d != nil && d.job != nil && d.job.kind == jobStop {
				j.after = append(j.after, d.job)
			}
		}
	}
	if err := m.resolveCycles(root, added); err != nil {
		m.dispatch()
		return nil // the root job carries the error to its waiter
	}
	m.dispatch()
	return nil
}

// findCycle returns the jobs of one ordering cycle among jobs, or nil.
func findCycle(jobs []*job) []*job {
	const (
		white = iota
		grey
		black
	)
	color := map[*job]int{}
	var stack, cycle []*job
	var visit func(j *job) bool
	visit = func(j *job) bool {
		color[j] = grey
		stack = append(stack, j)
		for _, d := range j.after {
			if d.done {
				continue
			}
			switch color[d] {
			case white:
				if visit(d) {
					return true
				}
			case grey:
				for k := len(stack) - 1; k >= 0; k-- {
					cycle = append(cycle, stack[k])
					if stack[k] == d {
						break
					}
				}
				return true
			}
		}
		stack = stack[:len(stack)-1]
		color[j] = black
		return false
	}
	for _, j := range jobs {
		if color[j] == white && !j.done && visit(j) {
			return cycle
		}
	}
	return nil
}

// resolveCycles breaks ordering cycles among the start jobs of a
// transaction as systemd does: the start of a unit that nothing in the
// transaction requires (only wanted) is dropped; a cycle of required units
// refuses the whole transaction.
func (m *Manager) resolveCycles(root *unit, added []*job) error {
	for {
		cycle := findCycle(added)
		if cycle == nil {
			return nil
		}
		var names []string
		for _, j := range cycle {
			names = append(names, j.u.name)
		}
		names = append(names, cycle[0].u.name)
		desc := strings.Join(names, " -> ")
		var victim *job
		for _, j := range cycle {
			if j.u != root && !m.requiredIn(j.u.name, added) {
				victim = j
				break
			}
		}
		if victim == nil {
			err := fmt.Errorf("ordering cycle %s among required units: transaction refused", desc)
			m.logf("%v", err)
			for _, j := range added {
				j.failMsg = err.Error()
				m.finishJob(j, true)
			}
			return err
		}
		m.logf("ordering cycle: %s; not starting %s to break it", desc, victim.u.name)
		victim.failMsg = "dropped to break ordering cycle " + desc
		m.finishJob(victim, true)
	}
}

// requiredIn reports whether a unit with a job in jobs requires name.
func (m *Manager) requiredIn(name string, jobs []*job) bool {
	for _, j := range jobs {
		if j.done || j.u.cfg == nil {
			continue
		}
		for _, r := range append(append([]string{}, j.u.cfg.Unit.Requires...), j.u.cfg.Unit.BindsTo...) {
			if r == name {
				return true
			}
		}
	}
	return false
}

// stopTransaction adds stop jobs for the named units (all active ones when
// names is empty), ordered in reverse of their start order.
func (m *Manager) stopTransaction(names []string, waiter chan<- response) {
	var added []*job
	if len(names) == 0 {
		for _, u := range m.units {
			names = append(names, u.name)
		}
		sort.Strings(names)
	}
	// Units that require, are bound to or are part of a stopping unit stop
	// with it.
	seen := map[string]bool{}
	for i := 0; i < len(names); i++ {
		if seen[names[i]] {
			names = append(names[:i], names[i+1:]...)
			i--
			continue
		}
		seen[names[i]] = true
		names = append(names, m.g.stopWith[names[i]]...)
	}
	for _, n := range names {
		u := m.units[n]
		if u == nil || (u.state == Inactive || u.state == Failed) && u.phase != phaseAutoRestart && u.job == nil {
			continue
		}
		if u.job != nil && u.job.kind == jobStop {
			continue
		}
		if u.job != nil { // a pending start is replaced by the stop
			m.finishJob(u.job, true)
		}
		u.job = &job{u: u, kind: jobStop}
		added = append(added, u.job)
		m.pending[u.job] = struct{}{}
	}
	if waiter != nil {
		if len(added) == 0 {
			waiter <- response{}
		} else {
			added[len(added)-1].waiters = append(added[len(added)-1].waiters, waiter)
		}
	}
	m.stateChanged = true
	// u stops only after every unit that was ordered after u has stopped.
	for _, j := range added {
		for _, other := range added {
			for _, a := range m.orderedAfter(other.u) {
				if a == j.u.name && other != j {
					j.after = append(j.after, other)
				}
			}
		}
	}
	m.breakCycles(added)
	m.dispatch()
}

// breakCycles breaks ordering cycles among stop jobs, which must all run:
// each cycle is reported and the edge that closes it dropped.
func (m *Manager) breakCycles(jobs []*job) {
	for cycle := findCycle(jobs); cycle != nil; cycle = findCycle(jobs) {
		var names []string
		for _, j := range cycle {
			names = append(names, j.u.name)
		}
		// Each job waits for the one before it, and cycle[0] for the last.
		first, last := cycle[0], cycle[len(cycle)-1]
		m.logf("ordering cycle: %s -> %s; dropping the ordering of %s after %s",
			strings.Join(names, " -> "), first.u.name, first.u.name, last.u.name)
		for i, d := range first.after {
			if d == last {
				first.after = append(first.after[:i], first.after[i+1:]...)
				break
			}
		}
	}
}

// dispatch starts every pending job whose predecessors are done.
func (m *Manager) dispatch() {
	for {
		var ready []*job
		for j := range m.pending {
			if j.done || j.running {
				delete(m.pending, j)
				continue
			}
			ok := true
			for _, a := range j.after {
				if !a.done {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, j)
			}
		}
		if len(ready) == 0 {
			return
		}
		// Start in name order, so runs are reproducible.
		sort.Slice(ready, func(a, b int) bool { return ready[a].u.name < ready[b].u.name })
		for _, j := range ready {
			if j.done || j.running || j.u.job != j {
				delete(m.pending, j)
				continue
			}
			j.running = true
			delete(m.pending, j)
			if j.kind == jobStart {
				m.startUnit(j.u)
			} else {
				m.stopUnit(j.u)
			}
		}
	}
}

// finishJob marks j done, answers whoever waits for it, and lets jobs
// ordered after it run.
func (m *Manager) finishJob(j *job, failed bool) {
	if j == nil || j.done {
		return
	}
	j.done, j.failed = true, failed
	if j.u.job == j {
		j.u.job = nil
	}
	if j.kind == jobStart {
		j.u.lastJobFailed = failed
	}
	for _, w := range j.waiters {
		r := response{}
		if failed {
			r.Code = 1
			r.Err = fmt.Sprintf("job for %s failed: %s is %s", j.u.name, j.u.name, j.u.state)
			if j.u.result != "" && j.u.result != "success" {
				r.Err += " (" + j.u.result + ")"
			}
			if j.failMsg != "" {
				r.Err = fmt.Sprintf("job for %s failed: %s", j.u.name, j.failMsg)
			}
		}
		w <- r
	}
	j.waiters = nil
	m.jobsChanged = true
	m.stateChanged = true
}
