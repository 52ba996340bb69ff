package core

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute"
)

// The engine in memory: unit files on disk, but a fake clock and fake
// processes. A fake process runs until the clock passes the seconds
// of its "sleep N" command, or until it gets SIGTERM or SIGKILL; any
// other command exits 0 at once ("false" exits 1).

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

type fakeClock struct {
	t      time.Time
	timers []*fakeTimer
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) afterFunc(d time.Duration, f func()) timerHandle {
	t := &fakeTimer{at: c.t.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

type fakeProc struct {
	pid   int
	argv  []string
	until time.Time // zero: exits at once
	code  int
}

type fakeProcs struct {
	h        *harness
	next     int
	running  map[int]*fakeProc
	started  []string // "unit directive argv0 arg…", in order
	mountErr chan error
}

func (p *fakeProcs) start(self string, spec *execute.Spec) (int, error) {
	p.next++
	pid := p.next
	unit := ""
	for _, e := range spec.Env {
		if v, ok := strings.CutPrefix(e, "SYSMASTER_UNIT="); ok {
			unit = v
		}
	}
	p.started = append(p.started, unit+" "+spec.Directive+" "+strings.Join(spec.Argv, " "))
	fp := &fakeProc{pid: pid, argv: spec.Argv}
	switch filepath.Base(spec.Argv[0]) {
	case "sleep":
		secs, _ := strconv.ParseFloat(spec.Argv[1], 64)
		fp.until = p.h.clock.t.Add(time.Duration(secs * float64(time.Second)))
	case "false":
		fp.code = 1
	}
	p.running[pid] = fp
	if fp.until.IsZero() {
		p.h.exitLater(fp, unix.WaitStatus(fp.code<<8))
	}
	return pid, nil
}

func (p *fakeProcs) kill(pid int, sig unix.Signal) error {
	if pid < 0 {
		pid = -pid
	}
	fp := p.running[pid]
	if fp == nil {
		return unix.ESRCH
	}
	if sig == unix.SIGTERM || sig == unix.SIGKILL || sig == unix.SIGABRT {
		p.h.exitLater(fp, unix.WaitStatus(sig))
	}
	return nil
}

func (p *fakeProcs) startTime(pid int) (uint64, error) {
	if p.running[pid] == nil {
		return 0, unix.ESRCH
	}
	return uint64(pid), nil
}

func (p *fakeProcs) reap(func(int, unix.WaitStatus)) {}

// mount blocks until the test says (p.mountErr), as a slow device would.
func (p *fakeProcs) mount(what, where, typ string, flags uintptr, data string) error {
	return <-p.mountErr
}
func (p *fakeProcs) unmount(string, int) error { return nil }

type harness struct {
	t     *testing.T
	m     *Manager
	clock *fakeClock
	procs *fakeProcs
	log   bytes.Buffer
}

// newHarness loads the units in files (NAME.KIND -> TOML) into a manager
// that runs on a fake clock and fake processes.
func newHarness(t *testing.T, files map[string]string) *harness {
	t.Helper()
	dir := t.TempDir()
	unitDir := filepath.Join(dir, "units")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, body := range files {
		if strings.HasSuffix(n, ".service") {
			if strings.Contains(body, "[Service]\n") {
				body = strings.Replace(body, "[Service]\n", "[Service]\nStandardOutput = \"null\"\n", 1)
			} else {
				body += "[Service]\nStandardOutput = \"null\"\n"
			}
		}
		if err := os.WriteFile(filepath.Join(unitDir, n+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{t: t, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}}
	h.procs = &fakeProcs{h: h, next: 1000, running: map[int]*fakeProc{}, mountErr: make(chan error)}
	m, err := New(Config{User: true, UnitDirs: []string{unitDir}, StateDir: filepath.Join(dir, "state"), Console: &h.log})
	if err != nil {
		t.Fatal(err)
	}
	m.clock, m.procs = h.clock, h.procs
	<-m.prefetch // nothing to restore
	m.prefetch = nil
	h.m = m
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", h.log.String())
		}
	})
	return h
}

// exitLater reports the end of fp the way the reaper would: as an event.
func (h *harness) exitLater(fp *fakeProc, ws unix.WaitStatus) {
	delete(h.procs.running, fp.pid)
	h.m.events <- func() { h.m.processExited(fp.pid, ws, true) }
}

// settle handles every event and runs every job that can run, as the
// manager's loop does between two waits.
func (h *harness) settle() {
	for {
		select {
		case f := <-h.m.events:
			f()
			continue
		default:
		}
		if !h.m.jobsChanged {
			return
		}
		h.m.jobsChanged = false
		h.m.dispatch()
	}
}

// advance moves the clock by d, ending sleeps and firing timers in order.
func (h *harness) advance(d time.Duration) {
	end := h.clock.t.Add(d)
	for {
		h.settle()
		next := end
		for _, fp := range h.procs.running {
			if !fp.until.IsZero() && fp.until.Before(next) {
				next = fp.until
			}
		}
		for _, t := range h.clock.timers {
			if !t.stopped && t.at.Before(next) {
				next = t.at
			}
		}
		h.clock.t = next
		var due []*fakeProc
		for _, fp := range h.procs.running {
			if !fp.until.IsZero() && !fp.until.After(next) {
				due = append(due, fp)
			}
		}
		sort.Slice(due, func(a, b int) bool { return due[a].pid < due[b].pid })
		for _, fp := range due {
			h.exitLater(fp, 0)
		}
		var fire []*fakeTimer
		for _, t := range h.clock.timers {
			if !t.stopped && !t.at.After(next) {
				t.stopped = true
				fire = append(fire, t)
			}
		}
		for _, t := range fire {
			t.f()
		}
		if !next.Before(end) {
			h.settle()
			return
		}
	}
}

// reply is the answer to a request, once done.
type reply struct {
	done bool
	Response
}

// request queues jobs as a control request would; the reply is filled in
// once every job has finished.
func (h *harness) request(t jobType, mode jobMode, names ...string) (*reply, error) {
	r := &reply{}
	_, err := h.m.enqueue(t, names, mode, func(js []*job) { r.Response, r.done = h.m.jobsAnswer(js), true })
	h.settle()
	return r, err
}

func (h *harness) state(name string) string {
	u := h.m.units[name]
	return string(u.state) + " (" + u.sub.String() + ")"
}

func (h *harness) mainPID(name string) int { return h.m.units[name].k.(*service).mainPID }

const longRunning = "[Service]\nExecStart = \"/bin/sleep 1000\"\n"

func TestMergeJobTypes(t *testing.T) {
	tests := []struct {
		a, b jobType
		want jobType
		ok   bool
	}{
		{jobStart, jobStart, jobStart, true},
		{jobStart, jobVerifyActive, jobStart, true},
		{jobVerifyActive, jobStart, jobStart, true},
		{jobStart, jobRestart, jobRestart, true},
		{jobVerifyActive, jobRestart, jobRestart, true},
		{jobStop, jobStop, jobStop, true},
		{jobStart, jobStop, 0, false},
		{jobStop, jobVerifyActive, 0, false},
		{jobRestart, jobStop, 0, false},
	}
	for _, tt := range tests {
		got, ok := mergeJobTypes(tt.a, tt.b)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("merge(%s, %s) = %s, %v; want %s, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

// The two bugs of multi-unit requests, in memory.
func TestRequestAnswersWhenEveryJobIsDone(t *testing.T) {
	files := map[string]string{
		"a.service": longRunning + "ExecStop = \"/bin/sleep 1\"\n",
		"b.service": longRunning,
	}
	for _, tc := range []struct {
		typ  jobType
		want string
	}{
		{jobStop, "inactive (dead)"},
		{jobRestart, "active (running)"},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			h := newHarness(t, files)
			if r, err := h.request(jobStart, modeReplace, "a.service", "b.service"); err != nil || !r.done || r.Code != 0 {
				t.Fatalf("start: %+v %v", r, err)
			}
			pidA := h.mainPID("a.service")
			var got *Response
			if _, err := h.m.enqueue(tc.typ, []string{"a.service", "b.service"}, modeReplace, func(js []*job) {
				r := h.m.jobsAnswer(js)
				got = &r
				// What the client is told must hold when it is told.
				for _, n := range []string{"a.service", "b.service"} {
					if s := h.state(n); s != tc.want {
						t.Errorf("answered while %s is %s, want %s", n, s, tc.want)
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			h.settle()
			if got != nil {
				t.Fatalf("answered before a's ExecStop ended: %+v", got)
			}
			h.advance(2 * time.Second)
			if got == nil || got.Code != 0 || len(got.Jobs) != 2 {
				t.Fatalf("answer: %+v", got)
			}
			for _, j := range got.Jobs {
				if j.Result != "done" || j.Type != tc.typ.String() {
					t.Errorf("job %+v, want %s done", j, tc.typ)
				}
			}
			if tc.typ == jobRestart && h.mainPID("a.service") == pidA {
				t.Errorf("a.service not restarted")
			}
		})
	}
}

// A start while a stop runs: replace cancels the stop job and queues the
// start behind the unit's stop; fail refuses.
func TestStartBehindRunningStop(t *testing.T) {
	for _, tc := range []struct {
		mode      jobMode
		wantErr   string
		wantState string
		stopJob   string
	}{
		{modeReplace, "", "active (running)", "canceled"},
		{modeFail, "job mode fail", "inactive (dead)", "done"},
	} {
		t.Run(fmt.Sprint(tc.mode), func(t *testing.T) {
			h := newHarness(t, map[string]string{"a.service": longRunning + "ExecStop = \"/bin/sleep 1\"\n"})
			h.request(jobStart, modeReplace, "a.service")
			var stop *Response
			h.m.enqueue(jobStop, []string{"a.service"}, modeReplace, func(js []*job) { r := h.m.jobsAnswer(js); stop = &r })
			h.settle()
			if s := h.state("a.service"); s != "deactivating (stop)" {
				t.Fatalf("a.service %s", s)
			}
			start, err := h.request(jobStart, tc.mode, "a.service")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("start: %v, want an error with %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			h.advance(2 * time.Second)
			if s := h.state("a.service"); s != tc.wantState {
				t.Errorf("a.service %s, want %s", s, tc.wantState)
			}
			if stop == nil || stop.Jobs[0].Result != tc.stopJob {
				t.Errorf("stop answer %+v, want its job %s", stop, tc.stopJob)
			}
			if tc.wantErr == "" && (!start.done || start.Code != 0) {
				t.Errorf("start answer %+v", start)
			}
		})
	}
}

func TestTransactionOrderAndConflicts(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		start   []string
		wantErr string
		// wantStarted are the ExecStart commands run, in order.
		wantStarted []string
		wantStates  map[string]string
	}{
		{
			name: "after orders starts",
			files: map[string]string{
				"x.service": "[Unit]\nAfter = [\"y.service\"]\nWants = [\"y.service\"]\n" + longRunning,
				"y.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/sleep 1\"\n",
			},
			start:       []string{"x.service"},
			wantStarted: []string{"y.service ExecStart /bin/sleep 1", "x.service ExecStart /bin/sleep 1000"},
		},
		{
			name: "wanted cycle loses a start",
			files: map[string]string{
				"x.service": "[Unit]\nAfter = [\"y.service\"]\nWants = [\"y.service\"]\n" + longRunning,
				"y.service": "[Unit]\nAfter = [\"x.service\"]\n" + longRunning,
			},
			start:       []string{"x.service"},
			wantStarted: []string{"x.service ExecStart /bin/sleep 1000"},
			wantStates:  map[string]string{"y.service": "inactive (dead)"},
		},
		{
			name: "required cycle refused",
			files: map[string]string{
				"x.service": "[Unit]\nAfter = [\"y.service\"]\nRequires = [\"y.service\"]\n" + longRunning,
				"y.service": "[Unit]\nAfter = [\"x.service\"]\nRequires = [\"x.service\"]\n" + longRunning,
			},
			start:   []string{"x.service"},
			wantErr: "ordering cycle",
		},
		{
			name: "conflicting requests refused",
			files: map[string]string{
				"a.service": "[Unit]\nConflicts = [\"b.service\"]\n" + longRunning,
				"b.service": longRunning,
			},
			start:   []string{"a.service", "b.service"},
			wantErr: "conflict",
		},
		{
			name: "wanted conflicting unit gives way",
			files: map[string]string{
				"a.service": "[Unit]\nWants = [\"b.service\"]\nConflicts = [\"b.service\"]\n" + longRunning,
				"b.service": longRunning,
			},
			start:       []string{"a.service"},
			wantStarted: []string{"a.service ExecStart /bin/sleep 1000"},
			wantStates:  map[string]string{"b.service": "inactive (dead)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.files)
			_, err := h.request(jobStart, modeReplace, tt.start...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if len(h.procs.started) != 0 {
					t.Fatalf("a refused transaction ran %v", h.procs.started)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h.advance(5 * time.Second)
			if got := strings.Join(h.procs.started, "; "); got != strings.Join(tt.wantStarted, "; ") {
				t.Errorf("started %q, want %q", got, strings.Join(tt.wantStarted, "; "))
			}
			for n, want := range tt.wantStates {
				if s := h.state(n); s != want {
					t.Errorf("%s %s, want %s", n, s, want)
				}
			}
		})
	}
}

// Stops go in reverse order: a unit ordered after another stops first.
func TestStopOrderAndConflictStop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"db.service":     longRunning + "ExecStop = \"/bin/sleep 1\"\n",
		"app.service":    "[Unit]\nAfter = [\"db.service\"]\nWants = [\"db.service\"]\n" + longRunning + "ExecStop = \"/bin/sleep 2\"\n",
		"rescue.service": "[Unit]\nConflicts = [\"app.service\", \"db.service\"]\n" + longRunning,
	})
	h.request(jobStart, modeReplace, "app.service")
	h.procs.started = nil
	r, err := h.request(jobStart, modeReplace, "rescue.service")
	if err != nil || r.done {
		t.Fatalf("start rescue: %+v %v", r, err)
	}
	h.advance(10 * time.Second)
	want := "app.service ExecStop /bin/sleep 2; db.service ExecStop /bin/sleep 1; rescue.service ExecStart /bin/sleep 1000"
	if got := strings.Join(h.procs.started, "; "); got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
}

func TestRestartLimit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"crashy.service": "[Service]\nExecStart = \"/bin/false\"\nRestart = \"always\"\nRestartSec = \"100ms\"\n",
	})
	h.request(jobStart, modeReplace, "crashy.service")
	h.advance(5 * time.Second)
	if n := len(h.procs.started); n != startLimitBurst {
		t.Errorf("started %d times, want %d", n, startLimitBurst)
	}
	u := h.m.units["crashy.service"]
	if s := h.state("crashy.service"); s != "failed (failed)" || u.result != resStartLimit {
		t.Errorf("crashy.service %s (%s), want failed with start-limit-hit", s, u.result)
	}
	// Past the interval it may start again.
	h.advance(startLimitInterval)
	h.request(jobStart, modeReplace, "crashy.service")
	if n := len(h.procs.started); n != startLimitBurst+1 {
		t.Errorf("after the interval: started %d times, want %d", n, startLimitBurst+1)
	}
}

func TestIsolate(t *testing.T) {
	h := newHarness(t, map[string]string{
		"a.service":     longRunning,
		"b.service":     longRunning,
		"rescue.target": "[Unit]\nWants = [\"b.service\"]\n",
	})
	h.request(jobStart, modeReplace, "a.service", "b.service")
	pidB := h.mainPID("b.service")
	r, err := h.request(jobStart, modeIsolate, "rescue.target")
	if err != nil || !r.done || r.Code != 0 {
		t.Fatalf("isolate: %+v %v", r, err)
	}
	h.advance(time.Second)
	for n, want := range map[string]string{"a.service": "inactive (dead)", "b.service": "active (running)", "rescue.target": "active (active)"} {
		if s := h.state(n); s != want {
			t.Errorf("%s %s, want %s", n, s, want)
		}
	}
	if h.mainPID("b.service") != pidB {
		t.Errorf("b.service was restarted by isolate")
	}
}

// The records of the previous format come back into each kind's state.
func TestRestoreVersion1Records(t *testing.T) {
	h := newHarness(t, map[string]string{
		"run.service":    longRunning,
		"bad.service":    "[Service]\nExecStart = \"/bin/false\"\n",
		"once.service":   "[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = \"/bin/true\"\n",
		"slow.service":   "[Service]\nExecStartPre = \"/bin/sleep 1000\"\nExecStart = \"/bin/sleep 1000\"\n",
		"tick.timer":     "[Timer]\nOnActiveSec = \"100ms\"\nOnUnitActiveSec = \"1h\"\n",
		"tick.service":   "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/true\"\n",
		"default.target": "[Unit]\nDescription = \"t\"\n",
	})
	pf := readState(filepath.Join("testdata", "state-v1", "units"))
	// run.service's main process still runs; slow.service's start-pre
	// command does not.
	pf.starts = map[int]uint64{13112: 21988}
	pf.pidfds = map[int]int{}
	ch := make(chan *prefetched, 1)
	ch <- pf
	h.m.prefetch = ch
	h.procs.running[13112] = &fakeProc{pid: 13112}
	h.m.restoreState()
	h.settle()
	for n, want := range map[string]string{
		"run.service":  "active (running)",
		"bad.service":  "failed (failed)",
		"once.service": "active (exited)",
		"tick.timer":   "active (waiting)",
	} {
		if s := h.state(n); s != want {
			t.Errorf("%s %s, want %s", n, s, want)
		}
	}
	if u := h.m.units["run.service"].k.(*service); u.mainPID != 13112 || !u.adopted {
		t.Errorf("run.service not adopted: main pid %d", u.mainPID)
	}
	if u := h.m.units["bad.service"]; u.result != resExitCode {
		t.Errorf("bad.service result %s, want exit-code", u.result)
	}
	if tm := h.m.units["tick.timer"].k.(*timer); tm.tmr == nil || tm.tmr.last.UnixNano() != 1796164018955876138 {
		t.Errorf("tick.timer lost its last trigger: %+v", tm.tmr)
	}
	// slow.service's start was in flight: it runs again from the top.
	if s := h.state("slow.service"); s != "activating (start-pre)" {
		t.Errorf("slow.service %s, want its start re-planned", s)
	}
}

// Isolate leaves a unit with IgnoreOnIsolate running.
func TestIsolateIgnored(t *testing.T) {
	h := newHarness(t, map[string]string{
		"a.service":     longRunning,
		"keep.service":  "[Unit]\nIgnoreOnIsolate = true\n" + longRunning,
		"rescue.target": "[Unit]\nDescription = \"rescue\"\n",
	})
	h.request(jobStart, modeReplace, "a.service", "keep.service")
	pid := h.mainPID("keep.service")
	if r, err := h.request(jobStart, modeIsolate, "rescue.target"); err != nil || !r.done || r.Code != 0 {
		t.Fatalf("isolate: %+v %v", r, err)
	}
	h.advance(time.Second)
	for n, want := range map[string]string{"a.service": "inactive (dead)", "keep.service": "active (running)"} {
		if s := h.state(n); s != want {
			t.Errorf("%s %s, want %s", n, s, want)
		}
	}
	if h.mainPID("keep.service") != pid {
		t.Errorf("keep.service was restarted by isolate")
	}
}

// A reload reaches the active units it propagates to, by either end of
// the edge and onwards, and nothing else.
func TestReloadPropagation(t *testing.T) {
	reloadable := func(extra string) string {
		return "[Unit]\n" + extra + "[Service]\nExecStart = \"/bin/sleep 1000\"\nExecReload = \"/bin/true\"\n"
	}
	h := newHarness(t, map[string]string{
		"pg.service":      reloadable("PropagatesReloadTo = [\"to.service\"]\n"),
		"to.service":      reloadable(""),
		"from.service":    reloadable("ReloadPropagatedFrom = [\"pg.service\"]\n"),
		"onward.service":  reloadable("ReloadPropagatedFrom = [\"from.service\"]\n"),
		"stopped.service": reloadable("ReloadPropagatedFrom = [\"pg.service\"]\n"),
		"other.service":   reloadable(""),
	})
	h.request(jobStart, modeReplace, "pg.service", "to.service", "from.service", "onward.service", "other.service")
	h.procs.started = nil
	ch := make(chan Response, 1)
	h.m.reloadUnits([]string{"pg.service"}, ch)
	h.advance(time.Second)
	if r := <-ch; r.Code != 0 {
		t.Fatalf("reload: %+v", r)
	}
	var got []string
	for _, s := range h.procs.started {
		got = append(got, strings.Fields(s)[0])
	}
	sort.Strings(got)
	want := []string{"from.service", "onward.service", "pg.service", "to.service"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reloaded %v, want %v", got, want)
	}
}

// A service that asks for its cgroup fails to start without cgroups,
// with the reason logged.
func TestDelegateWithoutCgroups(t *testing.T) {
	h := newHarness(t, map[string]string{
		"ctr.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\nDelegate = \"yes\"\n",
	})
	h.request(jobStart, modeReplace, "ctr.service")
	h.advance(time.Second)
	if s := h.state("ctr.service"); s != "failed (failed)" {
		t.Errorf("ctr.service %s, want failed", s)
	}
	if len(h.procs.started) != 0 {
		t.Errorf("started %v", h.procs.started)
	}
	if !strings.Contains(h.log.String(), "no cgroup2 tree to delegate from") {
		t.Errorf("reason not logged:\n%s", h.log.String())
	}
}
