package devmaster

import (
	"strings"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// item is one event in the queue.
type item struct {
	ev       *uevent.Event
	blockers int     // earlier unfinished events it waits for
	waiters  []*item // later events waiting for this one
}

// queue orders events as udev does: an event waits while an earlier event
// for the same device, one of its parents or one of its children is queued
// or being handled; unrelated events run in parallel. Dependencies are
// found through path indexes at arrival, so a burst of n events costs
// O(n·depth) rather than comparing every pair. Not safe for concurrent
// use: the daemon's loop owns it.
type queue struct {
	unfinished int
	// last is the latest unfinished event of each device path; it waits
	// for the earlier ones, so a later event needs to wait only for it.
	last map[string]*item
	// below holds the unfinished events under each ancestor path; an
	// empty set may stay while the queue is not empty.
	below map[string]map[*item]struct{}
	ready []*item // runnable, in the order they became so
	head  int
}

func newQueue() *queue {
	return &queue{last: map[string]*item{}, below: map[string]map[*item]struct{}{}}
}

// len counts the events queued or being handled.
func (q *queue) len() int { return q.unfinished }

// push adds an event behind every related unfinished one.
func (q *queue) push(ev *uevent.Event) {
	it := &item{ev: ev}
	p := ev.DevPath
	wait := func(on *item) {
		on.waiters = append(on.waiters, it)
		it.blockers++
	}
	if prev := q.last[p]; prev != nil {
		wait(prev)
	}
	// A move also waits for the events of the device's old path.
	if old := ev.Env["DEVPATH_OLD"]; old != "" && old != p {
		if prev := q.last[old]; prev != nil {
			wait(prev)
		}
	}
	for on := range q.below[p] {
		wait(on)
	}
	forAncestors(p, func(a string) {
		if prev := q.last[a]; prev != nil {
			wait(prev)
		}
		set := q.below[a]
		if set == nil {
			set = map[*item]struct{}{}
			q.below[a] = set
		}
		set[it] = struct{}{}
	})
	q.last[p] = it
	q.unfinished++
	if it.blockers == 0 {
		q.ready = append(q.ready, it)
	}
}

// runnable reports whether an event can be handled now.
func (q *queue) runnable() bool { return q.head < len(q.ready) }

// next returns a runnable event, nil when none is.
func (q *queue) next() *item {
	if q.head == len(q.ready) {
		return nil
	}
	it := q.ready[q.head]
	q.ready[q.head] = nil
	q.head++
	if q.head == len(q.ready) {
		q.ready, q.head = q.ready[:0], 0
	}
	return it
}

// done marks a handled event finished and releases those waiting for it.
func (q *queue) done(it *item) {
	p := it.ev.DevPath
	if q.last[p] == it {
		delete(q.last, p)
	}
	// A set run empty stays until the queue does: in a burst (a
	// trigger) the next events under the same parents fill it again,
	// and making and growing it anew per event was most of the queue's
	// cost.
	forAncestors(p, func(a string) { delete(q.below[a], it) })
	for _, w := range it.waiters {
		if w.blockers--; w.blockers == 0 {
			q.ready = append(q.ready, w)
		}
	}
	it.waiters = nil
	if q.unfinished--; q.unfinished == 0 {
		clear(q.below)
	}
}

// forAncestors calls fn with every proper ancestor of the device path p,
// "/devices" first.
func forAncestors(p string, fn func(string)) {
	for i := 1; i < len(p); i++ {
		if j := strings.IndexByte(p[i:], '/'); j >= 0 {
			i += j
			fn(p[:i])
		} else {
			return
		}
	}
}
