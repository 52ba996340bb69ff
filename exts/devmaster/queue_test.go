package devmaster

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

func ev(action, devpath string) *uevent.Event {
	return &uevent.Event{Action: action, DevPath: devpath, Subsystem: "test",
		Env: map[string]string{"ACTION": action, "DEVPATH": devpath, "SUBSYSTEM": "test"}}
}

// drainReady pops every runnable event.
func drainReady(q *queue) []*item {
	var out []*item
	for it := q.next(); it != nil; it = q.next() {
		out = append(out, it)
	}
	return out
}

func paths(items []*item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ev.Action+" "+it.ev.DevPath)
	}
	return out
}

func TestQueueOrder(t *testing.T) {
	q := newQueue()
	q.push(ev("add", "/devices/pci/a"))        // 0: runs
	q.push(ev("add", "/devices/pci/b"))        // 1: runs, unrelated
	q.push(ev("change", "/devices/pci/a"))     // 2: waits for 0
	q.push(ev("add", "/devices/pci/a/child"))  // 3: waits for 0 and 2 (parent)
	q.push(ev("add", "/devices/pci/bb/child")) // 4: runs: not under /devices/pci/b
	q.push(ev("add", "/devices/pci"))          // 5: waits for all of them (children)
	q.push(ev("add", "/devices/pci-other"))    // 6: runs: a prefix of the string only
	first := drainReady(q)
	want := []string{"add /devices/pci/a", "add /devices/pci/b", "add /devices/pci/bb/child", "add /devices/pci-other"}
	if fmt.Sprint(paths(first)) != fmt.Sprint(want) {
		t.Fatalf("runnable %v, want %v", paths(first), want)
	}
	q.done(first[0]) // add a
	if got := paths(drainReady(q)); fmt.Sprint(got) != "[change /devices/pci/a]" {
		t.Fatalf("after add a: %v", got)
	}
	q.done(first[1])
	q.done(first[2])
	if got := drainReady(q); len(got) != 0 {
		t.Fatalf("child ran before change of its parent finished: %v", paths(got))
	}
}

// TestQueueRandom checks, against a direct pairwise definition, that no
// event starts while an earlier related one is unfinished, and that all
// events finish.
func TestQueueRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	devs := []string{"/devices/a", "/devices/a/b", "/devices/a/b/c", "/devices/a/d", "/devices/e", "/devices/e/f", "/devices/ab"}
	q := newQueue()
	type state struct {
		seq     int
		done    bool
		devpath string
	}
	var all []*state
	byItem := map[*item]*state{}
	byEvent := map[*uevent.Event]*state{}
	related := func(x, y string) bool {
		return x == y || len(x) < len(y) && y[:len(x)+1] == x+"/" || len(y) < len(x) && x[:len(y)+1] == y+"/"
	}
	var running []*item
	pushed := 0
	for pushed < 500 || len(running) > 0 || q.len() > 0 {
		switch {
		case pushed < 500 && r.IntN(2) == 0:
			e := ev(fmt.Sprint(pushed), devs[r.IntN(len(devs))])
			q.push(e)
			s := &state{seq: pushed, devpath: e.DevPath}
			all = append(all, s)
			byEvent[e] = s
			pushed++
		case len(running) > 0 && r.IntN(2) == 0:
			i := r.IntN(len(running))
			it := running[i]
			running = append(running[:i], running[i+1:]...)
			byItem[it].done = true
			q.done(it)
		default:
			it := q.next()
			if it == nil {
				if pushed == 500 && len(running) == 0 {
					t.Fatalf("stuck with %d unfinished events", q.len())
				}
				continue
			}
			s := byEvent[it.ev]
			for _, c := range all[:s.seq] {
				if !c.done && related(c.devpath, s.devpath) {
					t.Fatalf("event %d (%s) started while %d (%s) is unfinished", s.seq, s.devpath, c.seq, c.devpath)
				}
			}
			byItem[it] = s
			running = append(running, it)
		}
	}
	for _, s := range all {
		if !s.done {
			t.Fatalf("event %d never ran", s.seq)
		}
	}
	if len(q.last) != 0 || len(q.below) != 0 {
		t.Fatalf("indexes not empty: %d, %d", len(q.last), len(q.below))
	}
}

func BenchmarkQueueColdplug(b *testing.B) {
	var evs []*uevent.Event
	for i := range 2000 {
		evs = append(evs, ev("add", fmt.Sprintf("/devices/pci0000:00/0000:00:%02x.0/dev%d/sub", i%32, i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		q := newQueue()
		for _, e := range evs {
			q.push(e)
		}
		for q.len() > 0 {
			for _, it := range drainReady(q) {
				q.done(it)
			}
		}
	}
}
