package core

import (
	"reflect"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core/analyze"
	"github.com/sysmaster-go/sysmaster/core/proto"
)

var bootUnits = map[string]string{
	"setup.service":  "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/sleep 1\"\n",
	"daemon.service": "[Unit]\nAfter = [\"setup.service\"]\n" + longRunning,
	"slow.service":   "[Service]\nExecStartPre = \"/bin/sleep 0.5\"\nExecStart = \"/bin/sleep 1000\"\n",
	"broken.service": "[Service]\nExecStartPre = \"/bin/false\"\nExecStart = \"/bin/sleep 1000\"\n",
	"t.target": "[Unit]\nWants = [\"setup.service\", \"daemon.service\", \"slow.service\", \"broken.service\"]\n" +
		"After = [\"setup.service\", \"daemon.service\", \"slow.service\"]\n",
}

// bootOf boots t.target on the fake clock, pid 1 having started 1.5 s
// after the kernel.
func bootOf(t *testing.T) *harness {
	h := newHarness(t, bootUnits)
	t.Setenv(proto.EnvKernelDone, "1500000000")
	h.m.cfg.Target = "t.target"
	h.m.startBoot()
	h.advance(250 * time.Millisecond)
	if _, err := h.request(jobStart, modeReplace, "t.target"); err != nil {
		t.Fatal(err)
	}
	h.advance(3 * time.Second)
	if s := h.state("t.target"); s != "active (active)" {
		t.Fatalf("t.target %s", s)
	}
	return h
}

func unitTimesOf(b *proto.Boot, name string) proto.UnitTimes {
	for _, u := range b.Units {
		if u.Name == name {
			return u
		}
	}
	return proto.UnitTimes{}
}

func TestBootTimes(t *testing.T) {
	h := bootOf(t)
	b := h.m.bootAnswer()
	if b.Kernel != 1500*time.Millisecond {
		t.Errorf("kernel part %s, want 1.5s from %s", b.Kernel, proto.EnvKernelDone)
	}
	setup, daemon, slow, broken := unitTimesOf(b, "setup.service"), unitTimesOf(b, "daemon.service"), unitTimesOf(b, "slow.service"), unitTimesOf(b, "broken.service")
	target := unitTimesOf(b, "t.target")
	checks := []struct {
		what      string
		got, want time.Duration
	}{
		{"manager start to queue", setup.Queued - b.Manager, 250 * time.Millisecond},
		{"setup ran", setup.Ran, time.Second},
		{"setup activating to inactive", setup.Inactive - setup.Activating, time.Second},
		{"daemon starts after setup", daemon.Activating - setup.Inactive, 0},
		{"daemon active at once", daemon.Active - daemon.Activating, 0},
		{"slow activating", slow.Active - slow.Activating, 500 * time.Millisecond},
		{"target reached after setup", target.Active - setup.Inactive, 0},
		{"finished is the target's active", b.Finished - target.Active, 0},
		{"broken failed at once", broken.Failed - broken.Activating, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.what, c.got, c.want)
		}
	}
	if broken.Failed == 0 {
		t.Errorf("broken.service has no failure time: %+v", broken)
	}
	if daemon.Ran < 2*time.Second {
		t.Errorf("daemon ran %s, want the 2 s since it started (it still runs)", daemon.Ran)
	}
	chain, err := analyze.CriticalChain(b, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range chain {
		names = append(names, l.Unit)
	}
	if want := []string{"t.target", "daemon.service", "setup.service"}; !reflect.DeepEqual(names, want) {
		t.Errorf("critical chain %v, want %v", names, want)
	}
	blame := analyze.Blame(b)
	if len(blame) < 2 || blame[0].Unit != "setup.service" || blame[1].Unit != "slow.service" {
		t.Errorf("blame %+v, want setup.service then slow.service first", blame)
	}
}

// A new manager process reads the same times from the saved state.
func TestBootTimesSurviveRestart(t *testing.T) {
	h := bootOf(t)
	h.m.flushState()
	before := h.m.bootAnswer()

	h2 := newHarness(t, bootUnits)
	h2.m.cfg.StateDir, h2.m.cfg.Target = h.m.cfg.StateDir, "t.target"
	pf := readState(h.m.unitStateDir())
	for _, u := range h.m.units {
		if s, ok := u.k.(*service); ok && s.mainPID > 0 {
			h2.procs.running[s.mainPID] = h.procs.running[s.mainPID]
			pf.starts[s.mainPID] = uint64(s.mainPID)
		}
	}
	ch := make(chan *prefetched, 1)
	ch <- pf
	h2.m.prefetch = ch
	h2.m.restoreState()
	h2.m.startBoot()
	h2.settle()
	after := h2.m.bootAnswer()
	if before.Kernel != after.Kernel || before.Manager != after.Manager || before.Finished != after.Finished {
		t.Errorf("boot record %+v, want %+v", after, before)
	}
	if len(before.Units) != len(bootUnits) {
		t.Fatalf("times of %d units, want %d: %+v", len(before.Units), len(bootUnits), before.Units)
	}
	for _, u := range before.Units {
		a := unitTimesOf(after, u.Name)
		// A running process's run is counted from its start time in
		// /proc after a restart; the rest comes back as it was.
		if u.Name == "daemon.service" || u.Name == "slow.service" {
			a.Ran, u.Ran = 0, 0
		}
		if !reflect.DeepEqual(a, u) {
			t.Errorf("%s after restart %+v, want %+v", u.Name, a, u)
		}
	}
}
