package core

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
)

func TestResetFailed(t *testing.T) {
	h := newHarness(t, map[string]string{"bad.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/false\"\n"})
	if r, _ := h.request(jobStart, modeReplace, "bad.service"); !r.done || r.Code == 0 {
		t.Fatalf("start of a failing unit: %+v", r)
	}
	h.advance(time.Second)
	if s := h.state("bad.service"); s != "failed (failed)" {
		t.Fatalf("bad.service %s", s)
	}
	h.m.resetFailed(nil)
	if s, u := h.state("bad.service"), h.m.units["bad.service"]; s != "inactive (dead)" || u.result != resNone || len(u.starts) != 0 {
		t.Fatalf("after reset-failed: %s, result %q, %d starts counted", s, u.result, len(u.starts))
	}
}

func TestKill(t *testing.T) {
	h := newHarness(t, map[string]string{"a.service": longRunning, "t.target": ""})
	h.request(jobStart, modeReplace, "a.service")
	pid := h.mainPID("a.service")
	tests := []struct {
		req     Request
		wantErr string
	}{
		{Request{Units: []string{"t.target"}}, "no processes"},
		{Request{Units: []string{"a.service"}, Signal: "BOGUS"}, "unknown signal"},
		{Request{Units: []string{"a.service"}, Whom: "control"}, "no control process"},
		{Request{Units: []string{"a.service"}, Signal: "SIGKILL", Whom: "main"}, ""},
	}
	for _, tt := range tests {
		r := h.m.kill(tt.req)
		if tt.wantErr == "" && r.Code != 0 || tt.wantErr != "" && !strings.Contains(r.Err, tt.wantErr) {
			t.Errorf("kill %+v: %+v, want error %q", tt.req, r, tt.wantErr)
		}
	}
	h.settle()
	if s := h.state("a.service"); s != "failed (failed)" || h.procs.running[pid] != nil {
		t.Fatalf("after SIGKILL: a.service %s", s)
	}
	if sig, err := parseSignal("9"); err != nil || sig != unix.SIGKILL {
		t.Errorf("parseSignal(9) = %v, %v", sig, err)
	}
}

func TestListAndCancelJobs(t *testing.T) {
	h := newHarness(t, map[string]string{
		"slow.service": "[Service]\nExecStartPre = \"/bin/sleep 5\"\n" + strings.TrimPrefix(longRunning, "[Service]\n"),
		"app.service":  "[Unit]\nAfter = [\"slow.service\"]\nWants = [\"slow.service\"]\n" + longRunning,
	})
	r, _ := h.request(jobStart, modeReplace, "app.service")
	jobs := h.m.listJobs().JobList
	if len(jobs) != 2 || jobs[0].ID > jobs[1].ID {
		t.Fatalf("list-jobs, by id: %+v", jobs)
	}
	states := map[string]string{jobs[0].Unit: jobs[0].State, jobs[1].Unit: jobs[1].State}
	if states["slow.service"] != "running" || states["app.service"] != "waiting" {
		t.Errorf("list-jobs: %+v", jobs)
	}
	appJob := h.m.units["app.service"].job.id
	if c := h.m.cancel([]int{appJob, 999}); c.Code == 0 || !strings.Contains(c.Err, "job 999 not found") {
		t.Errorf("cancel of a missing job: %+v", c)
	}
	h.advance(10 * time.Second)
	if !r.done || r.Jobs[0].Result != "canceled" {
		t.Errorf("answer to the canceled start: %+v", r)
	}
	if s := h.state("app.service"); s != "inactive (dead)" {
		t.Errorf("app.service %s after its start was canceled", s)
	}
	if s := h.state("slow.service"); s != "active (running)" {
		t.Errorf("slow.service %s: its own job was not canceled", s)
	}
	if jobs := h.m.listJobs().JobList; len(jobs) != 0 {
		t.Errorf("list-jobs: %+v", jobs)
	}
}

func TestListTimers(t *testing.T) {
	h := newHarness(t, map[string]string{
		"a.timer":   "[Timer]\nOnActiveSec = \"1h\"\nUnit = \"x.service\"\n",
		"b.timer":   "[Timer]\nOnActiveSec = \"10m\"\nUnit = \"x.service\"\n",
		"x.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/true\"\n",
	})
	h.request(jobStart, modeReplace, "a.timer", "b.timer")
	ts := h.m.listTimers().Timers
	if len(ts) != 2 || ts[0].Unit != "b.timer" || ts[1].Unit != "a.timer" || ts[0].Activates != "x.service" {
		t.Fatalf("list-timers, soonest first: %+v", ts)
	}
	if next, err := time.Parse(time.RFC3339Nano, ts[0].Next); err != nil || next.Sub(h.clock.t) != 10*time.Minute {
		t.Errorf("b.timer next %q, want 10 min from now", ts[0].Next)
	}
}

func TestMaskUnmask(t *testing.T) {
	h := newHarness(t, map[string]string{"b.service": longRunning})
	// b's file is in the only unit directory: masking must refuse.
	if r := h.m.setMasked([]string{"b.service"}, true); r.Code == 0 || !strings.Contains(r.Err, "exists") {
		t.Fatalf("mask over a unit file: %+v", r)
	}
	if r := h.m.setMasked([]string{"c.service"}, true); r.Code != 0 {
		t.Fatalf("mask c.service: %+v", r)
	}
	if _, err := h.request(jobStart, modeReplace, "c.service"); err == nil || !strings.Contains(err.Error(), "masked") {
		t.Fatalf("start of a masked unit: %v", err)
	}
	if st := h.m.unitStatus(h.m.units["c.service"]); st.Load != "masked" {
		t.Errorf("load state %q, want masked", st.Load)
	}
	if strings.Contains(h.log.String(), "bad unit") {
		t.Errorf("a masked unit is reported as bad:\n%s", h.log.String())
	}
	if r := h.m.setMasked([]string{"c.service"}, false); r.Code != 0 {
		t.Fatalf("unmask: %+v", r)
	}
	if h.m.units["c.service"] != nil {
		t.Errorf("c.service has no file: it should be gone once unmasked")
	}
}

// A timer that elapses while its unit still runs from the last trigger
// starts it again once it is down, not never.
func TestTimerElapsingWhileItsUnitRuns(t *testing.T) {
	h := newHarness(t, map[string]string{
		"tick.timer":   "[Timer]\nOnActiveSec = \"100ms\"\nOnUnitActiveSec = \"200ms\"\n",
		"tick.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/sleep 0.3\"\n",
	})
	h.request(jobStart, modeReplace, "tick.timer")
	h.advance(2 * time.Second)
	// Starts at 0.1 s, then each 0.3 s run is followed by one at once.
	if n := len(h.procs.started); n < 5 {
		t.Fatalf("tick.service started %d times in 2 s, want at least 5: %v", n, h.procs.started)
	}
}

// mount(2) runs off the loop: a mount that hangs fails its job after
// TimeoutSec= while the manager goes on, and its late answer is ignored.
func TestMountTimeout(t *testing.T) {
	where := filepath.Join(t.TempDir(), "mnt")
	slow := units.UnitNameFromPath(where, "mount")
	h := newHarness(t, map[string]string{
		slow:        "[Mount]\nWhat = \"/dev/slow\"\nWhere = \"" + where + "\"\nType = \"ext4\"\nTimeoutSec = \"5s\"\n",
		"a.service": longRunning,
	})
	u := h.m.units[slow]
	if u == nil || u.cfg == nil {
		t.Fatalf("%s did not load: %v", slow, u.loadErr)
	}
	r, err := h.request(jobStart, modeReplace, slow)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.state(slow); s != "activating (mounting)" {
		t.Fatalf("%s %s while mount(2) runs", slow, s)
	}
	// The loop still serves other jobs meanwhile.
	if other, _ := h.request(jobStart, modeReplace, "a.service"); !other.done || other.Code != 0 {
		t.Fatalf("a.service while a mount hangs: %+v", other)
	}
	h.advance(6 * time.Second)
	if !r.done || r.Code == 0 || h.state(slow) != "failed (failed)" || u.result != resTimeout {
		t.Fatalf("after TimeoutSec: %+v, %s, result %s", r, h.state(slow), u.result)
	}
	h.procs.mountErr <- nil // the hung call returns at last
	h.settle()
	if s := h.state(slow); s != "failed (failed)" {
		t.Errorf("a late answer changed %s to %s", slow, s)
	}
}
