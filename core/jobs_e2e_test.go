package core_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/core"
)

// sctl runs the sctl applet of the test build against m, as a user would.
func (m *manager) sctl(args ...string) (string, int) {
	m.t.Helper()
	cmd := exec.Command(smbox, append([]string{"sctl", "--socket", m.socket}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatal(err)
	}
	return string(out), code
}

// twoServices are a (whose stop takes a second) and b.
func twoServices() map[string]string {
	return map[string]string{
		"a.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\nExecStop = \"/bin/sleep 1\"\n" + enabled,
		"b.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
	}
}

// A request over several units answers once every one of its jobs is
// done, not only the last one's.
func TestStopSeveralWaitsForEach(t *testing.T) {
	m := newManager(t, twoServices())
	m.start()
	m.waitState("a.service", core.Active)
	m.waitState("b.service", core.Active)
	out, code := m.sctl("stop", "a.service", "b.service")
	if code != 0 {
		t.Fatalf("sctl stop a b: exit %d: %s", code, out)
	}
	for _, n := range []string{"a.service", "b.service"} {
		if st := m.status(n); st.Active != core.Inactive {
			t.Errorf("after sctl stop a b returned, %s is %s (%s)", n, st.Active, st.Sub)
		}
	}
	m.stop()
}

// A restart is a stop then a start of the same unit: the start is queued
// behind the stop, not swallowed by it.
func TestRestartSeveralStartsEach(t *testing.T) {
	m := newManager(t, twoServices())
	m.start()
	a := m.waitState("a.service", core.Active)
	b := m.waitState("b.service", core.Active)
	out, code := m.sctl("restart", "a.service", "b.service")
	if code != 0 {
		t.Fatalf("sctl restart a b: exit %d: %s", code, out)
	}
	for n, before := range map[string]core.UnitStatus{"a.service": a, "b.service": b} {
		st := m.status(n)
		if st.Active != core.Active || st.Sub != "running" {
			t.Errorf("after sctl restart a b returned, %s is %s (%s)", n, st.Active, st.Sub)
		}
		if st.MainPID == before.MainPID {
			t.Errorf("%s: main pid %d unchanged: not restarted", n, st.MainPID)
		}
	}
	if strings.Contains(out, "failed") {
		t.Errorf("sctl restart printed a failure: %s", out)
	}
	m.stop()
}

// The systemctl commands users reach for, through sctl.
func TestSctlJobAndUnitCommands(t *testing.T) {
	m := newManager(t, map[string]string{
		"a.service":    "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"t.timer":      "[Timer]\nOnActiveSec = \"1h\"\nUnit = \"a.service\"\n" + enabled,
		"slow.service": "[Service]\nExecStartPre = \"/bin/sleep 0.5\"\nExecStart = \"/bin/sleep 1000\"\n",
	})
	m.start()
	m.waitState("a.service", core.Active)
	m.waitState("t.timer", core.Active)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"list-timers"}, 0, "t.timer"},
		{[]string{"list-jobs"}, 0, "No jobs running."},
		{[]string{"kill", "--signal", "KILL", "a.service"}, 0, ""},
		{[]string{"is-failed", "a.service"}, 0, "failed"},
		{[]string{"reset-failed", "a.service"}, 0, ""},
		{[]string{"is-active", "a.service"}, 3, "inactive"},
		{[]string{"mask", "b.service"}, 0, "Created symlink"},
		{[]string{"start", "b.service"}, 1, "masked"},
		{[]string{"unmask", "b.service"}, 0, "Removed"},
		{[]string{"cancel", "42"}, 1, "job 42 not found"},
		{[]string{"start", "--no-block", "slow.service"}, 0, "start slow.service: pending"},
		{[]string{"list-jobs"}, 0, "slow.service"},
	}
	for _, s := range steps {
		if s.args[0] == "is-failed" {
			m.waitState("a.service", core.Failed)
		}
		out, code := m.sctl(s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Errorf("sctl %v: exit %d, output %q; want exit %d and %q", s.args, code, out, s.code, s.want)
		}
	}
	m.waitState("slow.service", core.Active)
	m.stop()
}
