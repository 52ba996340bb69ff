package core

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixedDelay starts name (a timer firing 1s after it starts, with a fixed
// random delay of up to 1h) on a manager whose machine id is id, and
// returns how long after its start the timer is armed to fire.
func fixedDelay(t *testing.T, id, name string) time.Duration {
	t.Helper()
	h := newHarness(t, map[string]string{
		name:          "[Timer]\nOnActiveSec = \"1s\"\nRandomizedDelaySec = \"1h\"\nFixedRandomDelay = true\nUnit = \"job.service\"\n",
		"job.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/true\"\n",
	})
	h.m.cfg.MachineID = filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(h.m.cfg.MachineID, []byte(id+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	start := h.clock.t
	if r, err := h.request(jobStart, modeReplace, name); err != nil || r.Code != 0 {
		t.Fatalf("start %s: %+v %v", name, r, err)
	}
	d := h.m.units[name].k.(*timer).tmr.next.Sub(start)
	// The service starts at that moment, not before.
	h.advance(d - time.Millisecond)
	if len(h.procs.started) != 0 {
		t.Fatalf("%s fired %v early: %v", name, time.Millisecond, h.procs.started)
	}
	h.advance(2 * time.Millisecond)
	if len(h.procs.started) != 1 {
		t.Fatalf("%s did not fire at %v: %v", name, d, h.procs.started)
	}
	return d
}

func TestFixedRandomDelay(t *testing.T) {
	const a, b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	d := fixedDelay(t, a, "pg.timer")
	if d < time.Second || d >= time.Second+time.Hour {
		t.Fatalf("fires %v after start, want 1s plus less than 1h", d)
	}
	if again := fixedDelay(t, a, "pg.timer"); again != d {
		t.Errorf("same machine and timer: %v then %v", d, again)
	}
	// Another machine or another timer draws another delay (for these
	// two, a 1 in 3.6e12 chance of the same).
	if other := fixedDelay(t, b, "pg.timer"); other == d {
		t.Errorf("another machine id gives the same delay %v", d)
	}
	if other := fixedDelay(t, a, "dump.timer"); other == d {
		t.Errorf("another timer gives the same delay %v", d)
	}
}

// Without FixedRandomDelay the delay is drawn afresh, within the bound.
func TestRandomizedDelay(t *testing.T) {
	h := newHarness(t, map[string]string{
		"r.timer":   "[Timer]\nOnActiveSec = \"1s\"\nRandomizedDelaySec = \"10min\"\n",
		"r.service": "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/true\"\n",
	})
	seen := map[time.Duration]bool{}
	for range 5 {
		start := h.clock.t
		h.request(jobStart, modeReplace, "r.timer")
		d := h.m.units["r.timer"].k.(*timer).tmr.next.Sub(start)
		if d < time.Second || d >= time.Second+10*time.Minute {
			t.Fatalf("fires %v after start, want 1s plus less than 10min", d)
		}
		seen[d] = true
		h.request(jobStop, modeReplace, "r.timer")
	}
	if len(seen) < 2 {
		t.Errorf("five starts drew the same delay: %v", seen)
	}
}
