package core

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What systemctl users reach for beyond start and stop: reset-failed,
// kill, list-jobs, cancel, list-timers, mask and unmask.

// resetFailed forgets that units failed: they become inactive, and their
// start limit counts from zero again. Without names, every failed unit.
func (m *Manager) resetFailed(names []string) Response {
	if len(names) == 0 {
		names = sortedNames(m.units)
	}
	for _, n := range names {
		u := m.units[n]
		if u == nil {
			continue
		}
		u.starts = nil
		if u.state == Failed {
			u.result = resNone
			m.setState(u, u.k.initial())
		}
	}
	m.stateChanged = true
	return Response{}
}

// signaller is a kind whose processes can be signalled.
type signaller interface {
	// signal sends sig to the unit's processes: "main", "control" or
	// "all" of them; false when there was none.
	signal(m *Manager, sig unix.Signal, whom string) bool
}

func (u *service) signal(m *Manager, sig unix.Signal, whom string) bool {
	sent := false
	if (whom == "main" || whom == "all") && u.mainPID > 0 {
		sent = m.procs.kill(u.mainPID, sig) == nil
	}
	if (whom == "control" || whom == "all") && u.ctrlPID > 0 {
		sent = m.procs.kill(u.ctrlPID, sig) == nil || sent
	}
	if whom == "all" && sent {
		// The rest of the service: its cgroup, or its process groups.
		if m.cg != nil && u.cgroup != "" {
			_ = m.cg.Kill(u.cgroup, sig)
		} else {
			m.signalGroup(u.mainPID, sig)
			m.signalGroup(u.ctrlPID, sig)
		}
	}
	return sent
}

// parseSignal reads a signal given as a name (TERM, SIGTERM) or a number.
func parseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// kill signals the processes of units (sctl kill --signal SIG --kill-whom WHOM).
func (m *Manager) kill(req Request) Response {
	sig, err := parseSignal(req.Signal)
	if err != nil {
		return Response{Code: 1, Err: err.Error()}
	}
	whom := req.Whom
	switch whom {
	case "":
		whom = "all"
	case "main", "control", "all":
	default:
		return Response{Code: 1, Err: fmt.Sprintf("kill-whom %q: one of main, control, all", req.Whom)}
	}
	var errs []string
	for _, n := range req.Units {
		s, ok := m.units[n].k.(signaller)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s has no processes to signal", n))
			continue
		}
		if !s.signal(m, sig, whom) {
			errs = append(errs, fmt.Sprintf("%s: no %s process to signal", n, whom))
		}
	}
	if len(errs) > 0 {
		return Response{Code: 1, Err: strings.Join(errs, "\n")}
	}
	return Response{}
}

// jobs lists the jobs queued or running, by id.
func (m *Manager) jobs() []*job {
	var out []*job
	for _, u := range m.units {
		if u.job != nil && !u.job.done() {
			out = append(out, u.job)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].id < out[b].id })
	return out
}

func (m *Manager) listJobs() Response {
	r := Response{JobList: []JobInfo{}}
	for _, j := range m.jobs() {
		st := "waiting"
		if j.running {
			st = "running"
		}
		r.JobList = append(r.JobList, JobInfo{ID: j.id, Unit: j.u.name, Type: j.typ.String(), State: st})
	}
	return r
}

// cancel ends the jobs with the given ids (every job when none is given);
// a unit already on its way keeps going, as with systemctl.
func (m *Manager) cancel(ids []int) Response {
	byID := map[int]*job{}
	for _, j := range m.jobs() {
		byID[j.id] = j
	}
	if len(ids) == 0 {
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Ints(ids)
	}
	var errs []string
	for _, id := range ids {
		j := byID[id]
		if j == nil {
			errs = append(errs, fmt.Sprintf("job %d not found", id))
			continue
		}
		m.logf("%s: %s job %d canceled", j.u.name, j.typ, j.id)
		m.finishJob(j, resultCanceled)
	}
	if len(errs) > 0 {
		return Response{Code: 1, Err: strings.Join(errs, "\n")}
	}
	return Response{}
}

// listTimers answers the active timers, the soonest first; timers that
// never fire again come last.
func (m *Manager) listTimers() Response {
	type row struct {
		info TimerInfo
		next time.Time
	}
	var rows []row
	for _, n := range sortedNames(m.units) {
		t, ok := m.units[n].k.(*timer)
		if !ok || t.cfg == nil || t.state != Active || t.tmr == nil {
			continue
		}
		r := row{info: TimerInfo{Unit: n, Activates: timerTarget(t.unit)}, next: t.tmr.next}
		if !r.next.IsZero() {
			r.info.Next = r.next.Format(time.RFC3339Nano)
		}
		if !t.tmr.last.IsZero() {
			r.info.Last = t.tmr.last.Format(time.RFC3339Nano)
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(a, b int) bool {
		if rows[a].next.IsZero() != rows[b].next.IsZero() {
			return !rows[a].next.IsZero()
		}
		return rows[a].next.Before(rows[b].next)
	})
	out := Response{Timers: []TimerInfo{}}
	for _, r := range rows {
		out.Timers = append(out.Timers, r.info)
	}
	return out
}

// maskedUnits finds the units masked by a link to /dev/null, as systemd
// masks them. The first directory that has an entry for a name decides.
func maskedUnits(dirs []string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]bool{}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".toml")
			if !ok || seen[name] {
				continue
			}
			seen[name] = true
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && t == os.DevNull {
				out[name] = true
			}
		}
	}
	return out
}

// errMasked is the load error of a masked unit.
var errMasked = errors.New("masked")

// setMasked masks units (a link to /dev/null in the first unit directory,
// which wins over the others) or unmasks them, then reloads. A masked
// unit that runs keeps running; it cannot be started.
func (m *Manager) setMasked(names []string, mask bool) Response {
	dir := m.cfg.UnitDirs[0]
	var out strings.Builder
	var errs []error
	for _, n := range names {
		p := filepath.Join(dir, n+".toml")
		t, lerr := os.Readlink(p)
		isMask := lerr == nil && t == os.DevNull
		switch {
		case mask && isMask:
		case mask:
			if _, err := os.Lstat(p); err == nil {
				errs = append(errs, fmt.Errorf("%s: %s exists: move it away to mask the unit", n, p))
				continue
			}
			if err := os.Symlink(os.DevNull, p); err != nil {
				errs = append(errs, fmt.Errorf("mask %s: %w", n, err))
				continue
			}
			fmt.Fprintf(&out, "Created symlink %s -> %s.\n", p, os.DevNull)
		case isMask:
			if err := os.Remove(p); err != nil {
				errs = append(errs, fmt.Errorf("unmask %s: %w", n, err))
				continue
			}
			fmt.Fprintf(&out, "Removed %s.\n", p)
		}
	}
	if err := m.reload(); err != nil {
		errs = append(errs, err)
	}
	r := Response{Out: out.String()}
	if err := errors.Join(errs...); err != nil {
		r.Code, r.Err = 1, err.Error()
	}
	return r
}
