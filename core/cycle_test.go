package core

import (
	"io"
	"testing"
)

func TestBreakCyclesStop(t *testing.T) {
	m := &Manager{cfg: Config{Console: io.Discard}}
	a, b, c := &job{u: &unit{name: "a"}}, &job{u: &unit{name: "b"}}, &job{u: &unit{name: "c"}}
	a.after, b.after, c.after = []*job{b}, []*job{c}, []*job{a}
	m.breakCycles([]*job{a, b, c})
	if findCycle([]*job{a, b, c}) != nil {
		t.Fatal("cycle left")
	}
	if n := len(a.after) + len(b.after) + len(c.after); n != 2 {
		t.Fatalf("%d edges left, want 2", n)
	}
}
