package core

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// jobType is what a job does to its unit.
type jobType int

const (
	jobStart jobType = iota
	// jobVerifyActive checks that a Requisite= unit is active already.
	jobVerifyActive
	jobStop
	// jobRestart stops its unit, then starts it: one job, so a start is
	// never lost behind the stop that precedes it.
	jobRestart
)

var jobTypeNames = [...]string{jobStart: "start", jobVerifyActive: "verify-active", jobStop: "stop", jobRestart: "restart"}

func (t jobType) String() string { return jobTypeNames[t] }

// mergeJobTypes is systemd's merge table for the types built here: the
// one job that does the work of both, or false when no job can (a start
// and a stop of one unit).
func mergeJobTypes(a, b jobType) (jobType, bool) {
	if a == b {
		return a, true
	}
	if a > b {
		a, b = b, a
	}
	switch {
	case a == jobStart && b == jobVerifyActive:
		return jobStart, true
	case (a == jobStart || a == jobVerifyActive) && b == jobRestart:
		return jobRestart, true
	}
	return 0, false
}

// jobResult is how a job ended, with systemd's names.
type jobResult int

const (
	resultPending jobResult = iota
	resultDone
	resultCanceled
	resultFailed
	resultDependency // a unit it requires failed
	resultTimeout
	resultSkipped // a condition was not met
	resultAssert  // an assertion failed
)

var jobResultNames = [...]string{
	resultPending: "pending", resultDone: "done", resultCanceled: "canceled", resultFailed: "failed",
	resultDependency: "dependency", resultTimeout: "timeout", resultSkipped: "skipped", resultAssert: "assert",
}

func (r jobResult) String() string { return jobResultNames[r] }

// ok reports whether a request that asked for the job succeeded.
func (r jobResult) ok() bool { return r == resultDone || r == resultSkipped }

// jobMode says what a transaction does about jobs already queued that it
// cannot merge with (systemctl's --job-mode).
type jobMode int

const (
	// modeReplace cancels the conflicting jobs.
	modeReplace jobMode = iota
	// modeFail refuses the transaction.
	modeFail
	// modeIsolate is replace, and stops every unit the transaction does
	// not start.
	modeIsolate
)

var jobModeNames = [...]string{modeReplace: "replace", modeFail: "fail", modeIsolate: "isolate"}

func (m jobMode) String() string { return jobModeNames[m] }

func parseJobMode(s string) (jobMode, error) {
	switch s {
	case "", "replace":
		return modeReplace, nil
	case "fail":
		return modeFail, nil
	case "isolate":
		return modeIsolate, nil
	}
	return 0, fmt.Errorf("unknown job mode %q (replace, fail, isolate)", s)
}

// job is a queued or running state change of one unit; a unit has at
// most one. Its order against other jobs is decided when it could run
// (blocker), from the units' ordering and the jobs those units have then.
type job struct {
	id        int
	u         *unit
	typ       jobType
	restarted bool // a restart whose stop is done: it now starts
	running   bool
	result    jobResult
	failMsg   string // why the job failed, when the unit's state does not say
	waiters   []func(*job)
	// ignoreOrder are units whose ordering against this job was dropped
	// to break a cycle among stops, which must all run.
	ignoreOrder map[*unit]bool
	// blocker is the job this one was last found waiting for, at order
	// generation gen: while it lives, the walk need not be done again.
	blocker *job
	gen     int
}

func (j *job) done() bool { return j.result != resultPending }

// stopping reports whether the job takes its unit down: a stop, or a
// restart before its start.
func (j *job) stopping() bool {
	return j.typ == jobStop || j.typ == jobRestart && !j.restarted
}

func (m *Manager) jobReport(j *job) JobResult {
	r := JobResult{ID: j.id, Unit: j.u.name, Type: j.typ.String(), Result: j.result.String()}
	switch {
	case j.result.ok() || j.result == resultPending:
	case j.failMsg != "":
		r.Err = fmt.Sprintf("job for %s failed: %s", j.u.name, j.failMsg)
	case j.result == resultCanceled:
		r.Err = fmt.Sprintf("job for %s canceled", j.u.name)
	default:
		r.Err = fmt.Sprintf("job for %s failed: %s is %s", j.u.name, j.u.name, j.u.state)
		if j.u.result != resNone && j.u.result != resSuccess {
			r.Err += " (" + j.u.result.String() + ")"
		}
	}
	return r
}

// jobOf says which job a unit has, in the view being checked.
type jobOf func(*unit) *job

func installedJob(u *unit) *job { return u.job }

// eachBlocker calls f with every job that j must wait for, as systemd
// orders jobs: when A is ordered after B, a stop of A goes before B's
// job; otherwise B's job goes first. A start also waits for the stop of a
// unit it conflicts with. f returns false to end the walk.
func (m *Manager) eachBlocker(j *job, of jobOf, f func(*job) bool) {
	live := func(n string) *job {
		o := m.units[n]
		if o == nil || o == j.u || j.ignoreOrder[o] {
			return nil
		}
		if oj := of(o); oj != nil && !oj.done() && oj != j {
			return oj
		}
		return nil
	}
	for _, n := range m.g.after[j.u.name] { // j.u is ordered after n
		if oj := live(n); oj != nil && !j.stopping() && !f(oj) {
			return
		}
	}
	for _, n := range m.g.afterMe[j.u.name] { // n is ordered after j.u
		if oj := live(n); oj != nil && oj.stopping() && !f(oj) {
			return
		}
	}
	if !j.stopping() {
		for _, n := range m.g.conflicts[j.u.name] {
			if oj := live(n); oj != nil && oj.stopping() && !f(oj) {
				return
			}
		}
	}
}

// blocked reports whether j must wait: for another job, or for its unit
// to finish going down from a stop no job waits for any more.
func (m *Manager) blocked(j *job) bool {
	if j.u.state == Deactivating {
		return true
	}
	if b := j.blocker; b != nil && j.gen == m.orderGen && !b.done() && b.u.job == b {
		return true
	}
	j.blocker = nil
	m.eachBlocker(j, installedJob, func(b *job) bool { j.blocker, j.gen = b, m.orderGen; return false })
	return j.blocker != nil
}

// transaction is the set of jobs one request needs: the closure of its
// units' dependencies, merged to one job per unit, checked for ordering
// cycles and conflicts, then installed all at once or not at all.
type transaction struct {
	m        *Manager
	mode     jobMode
	jobs     map[*unit]*job
	order    []*unit        // in the order added, for reproducible logs
	anchors  []*job         // the jobs asked for
	roots    map[*unit]bool // the units asked for
	closure  map[*unit]bool // every unit the start jobs pull in, with a job or not
	required map[*unit]bool
	dropped  map[*unit]bool
}

func (m *Manager) newTransaction(mode jobMode) *transaction {
	return &transaction{m: m, mode: mode, jobs: map[*unit]*job{}, roots: map[*unit]bool{}, closure: map[*unit]bool{}, required: map[*unit]bool{}, dropped: map[*unit]bool{}}
}

// add puts a job of type t for u in the transaction, merged with the one
// it has. required says a hard dependency (or the request) asks for it;
// a merely wanted job that cannot merge is dropped instead.
func (tx *transaction) add(u *unit, t jobType, required bool) (*job, error) {
	if tx.dropped[u] {
		return nil, nil
	}
	if j := tx.jobs[u]; j != nil {
		merged, ok := mergeJobTypes(j.typ, t)
		if !ok {
			switch {
			case !required:
				return nil, nil // the wanted side gives way
			case !tx.required[u]:
				tx.m.logf("%s: its %s gives way to a %s the transaction requires", u.name, j.typ, t)
				j.typ = t
				tx.required[u] = true
				return j, nil
			}
			return nil, fmt.Errorf("transaction needs both a %s and a %s of %s: refused", j.typ, t, u.name)
		}
		j.typ = merged
		if required {
			tx.required[u] = true
		}
		return j, nil
	}
	j := &job{u: u, typ: t}
	tx.jobs[u] = j
	tx.order = append(tx.order, u)
	if required {
		tx.required[u] = true
	}
	return j, nil
}

// addStart adds a start (or restart) of u and of what it pulls in. A
// unit that is active already needs no job of its own unless the request
// names it, but what it pulls in may.
func (tx *transaction) addStart(u *unit, t jobType, required bool, seen map[*unit]bool) error {
	m := tx.m
	if tx.dropped[u] {
		return nil
	}
	if seen[u] {
		if required && tx.jobs[u] != nil {
			tx.required[u] = true
		}
		return nil
	}
	seen[u] = true
	tx.closure[u] = true
	if tx.roots[u] || u.state != Active || u.job != nil {
		if _, err := tx.add(u, t, required); err != nil {
			return err
		}
	}
	c := u.cfg.Unit
	pull := func(names []string, req bool) error {
		for _, n := range names {
			d := m.units[n]
			switch {
			case d == nil:
				m.logf("%s: wants %s, which does not exist", u.name, n)
			case d.cfg != nil:
				if err := tx.addStart(d, jobStart, req, seen); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var devs []string
	for _, a := range c.After {
		if strings.HasSuffix(a, ".device") {
			devs = append(devs, a) // waiting for a device needs its start job
		}
	}
	for _, p := range []struct {
		names    []string
		required bool
	}{{c.Wants, false}, {c.Requires, true}, {c.BindsTo, true}, {devs, false}} {
		if err := pull(p.names, p.required); err != nil {
			return err
		}
	}
	for _, n := range c.Requisite {
		if d := m.units[n]; d != nil && d.cfg != nil {
			if _, err := tx.add(d, jobVerifyActive, false); err != nil {
				return err
			}
		}
	}
	// What conflicts with a unit that starts is stopped; when the
	// transaction starts both, the unit asked for wins.
	for _, n := range m.g.conflicts[u.name] {
		d := m.units[n]
		if d == nil || tx.dropped[d] {
			continue
		}
		if dj := tx.jobs[d]; dj != nil && !dj.stopping() {
			switch {
			case tx.roots[d] && tx.roots[u]:
				return fmt.Errorf("%s and %s conflict: transaction refused", u.name, d.name)
			case tx.roots[d]:
				m.logf("%s conflicts with %s; not starting %s", u.name, d.name, u.name)
				tx.drop(u)
				return nil
			default:
				m.logf("%s conflicts with %s; not starting %s", d.name, u.name, d.name)
				tx.drop(d)
				continue
			}
		}
		if d.state != Inactive && d.state != Failed || d.job != nil {
			if err := tx.addStop(d, true, map[*unit]bool{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// addStop adds a stop of u and of the units that stop with it.
func (tx *transaction) addStop(u *unit, required bool, seen map[*unit]bool) error {
	if seen[u] {
		return nil
	}
	seen[u] = true
	if _, err := tx.add(u, jobStop, required); err != nil {
		return err
	}
	for _, n := range tx.m.g.stopWith[u.name] {
		if d := tx.m.units[n]; d != nil && (d.state != Inactive && d.state != Failed || d.job != nil) {
			if err := tx.addStop(d, true, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// drop takes u's job out of the transaction for good.
func (tx *transaction) drop(u *unit) {
	delete(tx.jobs, u)
	tx.order = removeUnit(tx.order, u)
	tx.dropped[u] = true
}

func removeUnit(us []*unit, u *unit) []*unit {
	for i, x := range us {
		if x == u {
			return append(us[:i], us[i+1:]...)
		}
	}
	return us
}

// anchor adds the job a request asks for: type t of u and its closure.
func (tx *transaction) anchor(u *unit, t jobType) error {
	switch {
	case errors.Is(u.loadErr, errMasked):
		return fmt.Errorf("unit %s is masked", u.name)
	case u.cfg == nil:
		return fmt.Errorf("unit %s failed to load: %v", u.name, u.loadErr)
	}
	tx.roots[u] = true
	var err error
	switch t {
	case jobStop:
		err = tx.addStop(u, true, map[*unit]bool{})
	default:
		err = tx.addStart(u, t, true, map[*unit]bool{})
		if err == nil && t == jobRestart {
			// Units that require or are part of it restart with it, when
			// they run (systemd's try-restart propagation).
			for _, n := range append(append([]string{}, tx.m.g.stopWith[u.name]...), tx.m.g.restartWith[u.name]...) {
				if d := tx.m.units[n]; d != nil && d.cfg != nil && (d.state == Active || d.state == Activating) {
					if _, err = tx.add(d, jobRestart, false); err != nil {
						break
					}
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if j := tx.jobs[u]; j != nil {
		tx.anchors = append(tx.anchors, j)
	}
	return nil
}

// isolate adds stops for every unit the transaction does not touch.
// Devices and mounts stay: they follow the hardware and the file system;
// so do units with IgnoreOnIsolate.
func (tx *transaction) isolate() error {
	for _, n := range sortedNames(tx.m.units) {
		u := tx.m.units[n]
		if tx.closure[u] || u.cfg == nil {
			continue
		}
		if !u.k.isolated() || u.cfg.Unit.IgnoreOnIsolate {
			continue
		}
		if u.state != Inactive && u.state != Failed || u.job != nil {
			if err := tx.addStop(u, false, map[*unit]bool{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// view is the job of each unit once the transaction is applied.
func (tx *transaction) view(u *unit) *job {
	if j, ok := tx.jobs[u]; ok {
		return j
	}
	return u.job
}

// checkOrder finds ordering cycles among the jobs the transaction would
// leave queued. A cycle of stops loses one ordering (they must all run);
// otherwise a job only wanted is dropped; a cycle of required jobs
// refuses the transaction.
func (tx *transaction) checkOrder() error {
	m := tx.m
	for {
		cycle := tx.findCycle()
		if cycle == nil {
			return nil
		}
		var names []string
		for _, j := range cycle {
			names = append(names, j.u.name)
		}
		names = append(names, cycle[0].u.name)
		desc := strings.Join(names, " -> ")
		allStops := true
		for _, j := range cycle {
			allStops = allStops && j.stopping()
		}
		if allStops {
			// cycle[i] waits for cycle[i+1]; the last waits for the first.
			first, last := cycle[len(cycle)-1], cycle[0]
			m.logf("ordering cycle: %s; dropping the ordering of %s after %s", desc, first.u.name, last.u.name)
			if first.ignoreOrder == nil {
				first.ignoreOrder = map[*unit]bool{}
			}
			first.ignoreOrder[last.u] = true
			continue
		}
		var victim *job
		for _, j := range cycle {
			if tx.jobs[j.u] == j && !tx.roots[j.u] && !tx.required[j.u] {
				victim = j
				break
			}
		}
		if victim == nil {
			err := fmt.Errorf("ordering cycle %s among required units: transaction refused", desc)
			m.logf("%v", err)
			return err
		}
		m.logf("ordering cycle: %s; not starting %s to break it", desc, victim.u.name)
		tx.drop(victim.u)
	}
}

// findCycle returns the jobs of one cycle of waits (each waits for the
// next), or nil.
func (tx *transaction) findCycle() []*job {
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
		found := false
		tx.m.eachBlocker(j, tx.view, func(d *job) bool {
			switch color[d] {
			case white:
				found = visit(d)
			case grey:
				for k := len(stack) - 1; k >= 0; k-- {
					cycle = append(cycle, stack[k])
					if stack[k] == d {
						break
					}
				}
				found = true
			}
			return !found
		})
		if found {
			return true
		}
		stack = stack[:len(stack)-1]
		color[j] = black
		return false
	}
	for _, u := range tx.order {
		if j := tx.jobs[u]; color[j] == white && visit(j) {
			// Reverse: cycle[i] then waits for cycle[i+1].
			for a, b := 0, len(cycle)-1; a < b; a, b = a+1, b-1 {
				cycle[a], cycle[b] = cycle[b], cycle[a]
			}
			return cycle
		}
	}
	return nil
}

// conflict says how a new job meets the job its unit has: merged into
// it, or replacing it.
func conflicting(installed, j *job) (merged jobType, mergeable bool) {
	t, ok := mergeJobTypes(installed.typ, j.typ)
	if !ok || installed.running && (t != installed.typ || installed.restarted) {
		return 0, false
	}
	return t, true
}

// apply checks the transaction and installs its jobs, or changes nothing
// and says why.
func (tx *transaction) apply() error {
	m := tx.m
	if tx.mode == modeIsolate {
		if err := tx.isolate(); err != nil {
			return err
		}
	}
	if tx.mode == modeFail {
		for _, u := range tx.order {
			j := tx.jobs[u]
			if in := u.job; in != nil && !in.done() {
				if _, ok := conflicting(in, j); !ok {
					return fmt.Errorf("%s has a %s job queued, which a %s conflicts with (job mode fail): transaction refused", u.name, in.typ, j.typ)
				}
			}
		}
	}
	if err := tx.checkOrder(); err != nil {
		return err
	}
	for _, u := range tx.order {
		j := tx.jobs[u]
		if in := u.job; in != nil && !in.done() {
			if t, ok := conflicting(in, j); ok {
				in.typ = t
				in.ignoreOrder = mergeIgnore(in.ignoreOrder, j.ignoreOrder)
				tx.replaceAnchor(j, in)
				tx.jobs[u] = in
				continue
			}
			m.logf("%s: %s job replaced by %s", u.name, in.typ, j.typ)
			m.finishJob(in, resultCanceled)
		}
		m.lastJobID++
		j.id = m.lastJobID
		u.job = j
		if j.typ == jobStart || j.typ == jobRestart {
			m.jobQueued(u)
		}
		m.pending[j] = struct{}{}
	}
	m.stateChanged = true // jobs in flight are part of the state
	m.jobsChanged = true
	m.orderGen++ // orderings may have been dropped to break cycles
	return nil
}

func mergeIgnore(a, b map[*unit]bool) map[*unit]bool {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[*unit]bool{}
	}
	for k := range b {
		a[k] = true
	}
	return a
}

func (tx *transaction) replaceAnchor(old, nu *job) {
	for i, a := range tx.anchors {
		if a == old {
			tx.anchors[i] = nu
		}
	}
}

// enqueue builds and applies one transaction of jobs of type t for the
// named units; whenDone, if set, is called once every job asked for has
// finished.
func (m *Manager) enqueue(t jobType, names []string, mode jobMode, whenDone func([]*job)) ([]*job, error) {
	tx := m.newTransaction(mode)
	for _, n := range names {
		u := m.units[n]
		if u == nil {
			return nil, fmt.Errorf("unit %s not found", n)
		}
		if err := tx.anchor(u, t); err != nil {
			return nil, err
		}
	}
	if err := tx.apply(); err != nil {
		return nil, err
	}
	anchors := dedupJobs(tx.anchors)
	if whenDone != nil {
		left := 0
		for _, j := range anchors {
			if !j.done() {
				left++
			}
		}
		if left == 0 {
			whenDone(anchors)
		}
		for _, j := range anchors {
			if j.done() {
				continue
			}
			j.waiters = append(j.waiters, func(*job) {
				if left--; left == 0 {
					whenDone(anchors)
				}
			})
		}
	}
	m.dispatch()
	return anchors, nil
}

func dedupJobs(js []*job) []*job {
	seen := map[*job]bool{}
	var out []*job
	for _, j := range js {
		if !seen[j] {
			seen[j] = true
			out = append(out, j)
		}
	}
	return out
}

// startTransaction starts name and what it pulls in, replacing
// conflicting jobs, for the manager's own needs (boot, timers, sockets).
func (m *Manager) startTransaction(name string) error {
	_, err := m.enqueue(jobStart, []string{name}, modeReplace, nil)
	return err
}

// stopTransaction stops the named units (every unit when names is empty)
// and what stops with them.
func (m *Manager) stopTransaction(names []string) {
	if len(names) == 0 {
		names = sortedNames(m.units)
	}
	var live []string
	for _, n := range names {
		if u := m.units[n]; u != nil && u.cfg != nil {
			live = append(live, n)
		}
	}
	if _, err := m.enqueue(jobStop, live, modeReplace, nil); err != nil {
		m.logf("stop %v: %v", names, err)
	}
}

// dispatch runs every queued job that need not wait.
func (m *Manager) dispatch() {
	for {
		var ready []*job
		for j := range m.pending {
			if j.done() || j.running || j.u.job != j {
				delete(m.pending, j)
				continue
			}
			if !m.blocked(j) {
				ready = append(ready, j)
			}
		}
		if len(ready) == 0 {
			return
		}
		// Run in name order, so runs are reproducible.
		sort.Slice(ready, func(a, b int) bool { return ready[a].u.name < ready[b].u.name })
		ran := false
		for _, j := range ready {
			if j.done() || j.running || j.u.job != j || m.blocked(j) {
				continue
			}
			delete(m.pending, j)
			ran = true
			m.run(j)
		}
		if !ran {
			return
		}
	}
}

// run starts the work of j on its unit.
func (m *Manager) run(j *job) {
	u := j.u
	j.running = true
	switch {
	case j.typ == jobVerifyActive:
		if u.state == Active {
			m.finishJob(j, resultDone)
		} else {
			j.failMsg = fmt.Sprintf("%s is not active", u.name)
			m.finishJob(j, resultDependency)
		}
	case j.stopping():
		if u.state == Inactive || u.state == Failed {
			m.stopEnded(u) // nothing to stop
			return
		}
		m.stopUnit(u)
	default:
		if u.state == Active && j.typ == jobStart {
			m.finishJob(j, resultDone)
			return
		}
		m.startUnit(u)
	}
}

// startEnded is called by a unit's kind when a start it ran has ended
// with res; the start job (or the start of a restart) finishes with it.
func (m *Manager) startEnded(u *unit, res jobResult) {
	if j := u.job; j != nil && j.running && !j.stopping() {
		m.finishJob(j, res)
	}
}

// stopEnded is called when u has gone down. A stop job is done; a restart
// goes on with its start; a start job that was running has failed.
func (m *Manager) stopEnded(u *unit) {
	j := u.job
	if j == nil || !j.running {
		return
	}
	switch {
	case j.typ == jobRestart && !j.restarted:
		j.restarted, j.running = true, false
		m.orderGen++ // it orders as a start now
		m.pending[j] = struct{}{}
		m.jobsChanged, m.stateChanged = true, true
	case j.stopping():
		m.finishJob(j, resultDone)
	default:
		m.finishJob(j, resultFailed)
	}
}

// finishJob ends j with res, tells whoever waits for it, and lets the
// jobs that waited for it run.
func (m *Manager) finishJob(j *job, res jobResult) {
	if j == nil || j.done() {
		return
	}
	j.result = res
	delete(m.pending, j)
	if j.u.job == j {
		j.u.job = nil
	}
	if !j.stopping() && j.typ != jobVerifyActive {
		j.u.lastJobFailed = !res.ok()
	}
	for _, w := range j.waiters {
		w(j)
	}
	j.waiters = nil
	if j.u.state == Inactive || j.u.state == Failed {
		// Its sockets waited for it to be done with its job.
		for _, s := range m.socketsFor(j.u.name) {
			m.watchSocket(s)
		}
	}
	m.jobsChanged = true
	m.stateChanged = true
}
