package devmaster

import (
	"context"
	"errors"
	"os"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// loop owns the queue: it takes events from the source, hands runnable
// ones to the workers, and notices when everything is handled.
func (d *Daemon) loop(ctx context.Context) error {
	defer close(d.stopped)
	wake := make(chan error, 1)
	ack := make(chan struct{}, 1)
	go func() {
		for {
			err := d.src.Wait()
			select {
			case wake <- err:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			// Wait reports data until the loop has read it.
			select {
			case <-ack:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-wake:
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := d.drain(); err != nil {
				return err
			}
			ack <- struct{}{}
		case <-d.kick:
		case f := <-d.calls:
			f()
		}
		d.dispatch()
		if err := d.checkIdle(); err != nil {
			return err
		}
	}
}

// drain moves the source's pending events into the queue.
func (d *Daemon) drain() error {
	return d.src.Drain(d.enqueue, func(err error) {
		if !errors.Is(err, uevent.ErrLibudev) && !errors.Is(err, uevent.ErrNotKernel) {
			d.logf("%v", err)
		}
	})
}

func (d *Daemon) enqueue(ev *uevent.Event) {
	if d.cfg.Debug { // the arguments alone cost allocations, on every event
		d.debugf("%s %s (%s) #%d", ev.Action, ev.DevPath, ev.Subsystem, ev.Seqnum)
	}
	for _, r := range d.runs {
		r.arrived(ev)
	}
	d.qmu.Lock()
	d.q.push(ev)
	d.qmu.Unlock()
}

// dispatch hands runnable events to idle workers.
func (d *Daemon) dispatch() {
	d.qmu.Lock()
	defer d.qmu.Unlock()
	for d.running < d.cfg.Workers {
		it := d.q.next()
		if it == nil {
			return
		}
		d.running++
		d.work <- it // never blocks: the channel holds Workers items
	}
}

// finish marks an event a worker handled as done and gives that worker
// the next runnable one, if any, so that a burst of events (a trigger)
// does not cost a round trip through the loop, two goroutine switches,
// per event. The loop is woken only when it has work: runnable events
// for an idle worker, or an empty queue for checkIdle. Once the loop has
// stopped, workers take nothing more, as they got nothing more from it.
func (d *Daemon) finish(it *item) *item {
	stopping := false
	select {
	case <-d.stopped:
		stopping = true
	default:
	}
	d.qmu.Lock()
	d.q.done(it)
	var next *item
	if !stopping {
		next = d.q.next()
	}
	if next == nil {
		d.running--
	}
	wake := d.q.len() == 0 || d.q.runnable() && d.running < d.cfg.Workers
	d.qmu.Unlock()
	if wake {
		select {
		case d.kick <- struct{}{}:
		default: // the loop has a wake-up pending already
		}
	}
	return next
}

// queued counts the events queued or being handled.
func (d *Daemon) queued() int {
	d.qmu.Lock()
	defer d.qmu.Unlock()
	return d.q.len()
}

// checkIdle finishes trigger runs and answers settle requests once nothing
// is queued, being handled, being triggered, or pending in the source.
// Reading the source here matters: events that module loading caused are
// already in the socket when the queue runs empty.
func (d *Daemon) checkIdle() error {
	if d.writing > 0 || (len(d.runs) == 0 && len(d.settled) == 0) || d.queued() > 0 {
		return nil
	}
	if err := d.drain(); err != nil {
		return err
	}
	if d.queued() > 0 {
		d.dispatch()
		return nil
	}
	// The kernel sends a triggered event before the write returns, so a
	// missing one was lost to a receive buffer overrun: make it up.
	lost := 0
	for _, r := range d.runs {
		for p := range r.expect {
			ev, err := d.host.sys.Event(p, r.action)
			if err == nil {
				ev.Env["SYNTH_UUID"] = r.uuid
				d.qmu.Lock()
				d.q.push(ev)
				d.qmu.Unlock()
				lost++
			} else if !errors.Is(err, os.ErrNotExist) {
				d.logf("trigger %s: %v", p, err)
			}
			delete(r.expect, p)
		}
	}
	if lost > 0 {
		d.logf("trigger: %d events lost, made up from sysfs", lost)
		d.dispatch()
		return nil
	}
	d.syncMu.Lock()
	for _, r := range d.runs {
		close(r.done)
		delete(d.synced, r.uuid)
	}
	d.syncMu.Unlock()
	d.runs = d.runs[:0]
	for _, ch := range d.settled {
		close(ch)
	}
	d.settled = d.settled[:0]
	return nil
}
