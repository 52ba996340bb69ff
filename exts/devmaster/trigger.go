package devmaster

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
	"golang.org/x/sys/unix"
)

// triggerBatch is how many made-up events are queued at once.
const triggerBatch = 32

// triggerRun is one trigger pass, waiting for the events it caused.
type triggerRun struct {
	uuid, action string
	// expect holds the devices whose event has not come back yet.
	expect map[string]struct{}
	// gone holds the devices the kernel reported removed (or moved away)
	// during the pass: an event made up from sysfs for one of them may
	// have been read before the removal and queued after it.
	gone map[string]struct{}
	done chan struct{}
}

// arrived crosses off the device of a returning event. Kernels before 4.13
// send no SYNTH_UUID; any event with the action then counts.
func (r *triggerRun) arrived(ev *uevent.Event) {
	if u, ok := ev.Env["SYNTH_UUID"]; u == r.uuid || !ok && ev.Action == r.action {
		delete(r.expect, ev.DevPath)
	}
	if ev.Seqnum == 0 || r.gone == nil {
		return
	}
	switch ev.Action {
	case "remove":
		r.gone[ev.DevPath] = struct{}{}
	case "move":
		if old := ev.Env["DEVPATH_OLD"]; old != "" {
			r.gone[old] = struct{}{}
		}
	}
}

// TriggerOptions says what a trigger pass does.
type TriggerOptions struct {
	// Action is the event: "add", "change", ...
	Action string
	// Subsystems limits the pass; empty means every device.
	Subsystems []string
	// FromSysfs makes the events up in devmaster from each device's
	// uevent file rather than asking the kernel to send them. That skips
	// the kernel building and broadcasting an event per device, and
	// devmaster receiving and parsing it, but only devmaster sees these
	// events: other listeners on the kernel's uevent socket do not.
	FromSysfs bool
}

// Trigger makes an event for every device of the subsystems (all when
// none) and returns for how many devices. done is closed once those events
// were handled, with any they caused (such as the devices a loaded driver
// created). Without FromSysfs the kernel is asked to send them, by writing
// the devices' uevent files; where those cannot be written (a fake tree,
// no permission) the events are made up from sysfs instead. The kernel's
// events keep coming through the source meanwhile in either case: the
// source listens from New on, before any device is read.
func (d *Daemon) Trigger(ctx context.Context, opt TriggerOptions) (n int, done <-chan struct{}, err error) {
	action := opt.Action
	if !validTriggerAction(action) {
		return 0, nil, fmt.Errorf("trigger: bad action %q", action)
	}
	devs, err := d.host.sys.Enumerate(opt.Subsystems)
	if err != nil {
		if len(devs) == 0 {
			return 0, nil, fmt.Errorf("trigger: %w", err)
		}
		d.logf("trigger: %v", err)
	}
	uuid, err := newUUID()
	if err != nil {
		return 0, nil, fmt.Errorf("trigger: %w", err)
	}
	d.mods.reset()
	if k, ok := d.mgr.(knownDevices); ok && k.Sync() == nil {
		// A manager that does not answer hears every report again.
		d.syncMu.Lock()
		if d.synced == nil {
			d.synced = map[string]bool{}
		}
		d.synced[uuid] = true
		d.syncMu.Unlock()
	}
	run := &triggerRun{uuid: uuid, action: action, expect: make(map[string]struct{}, len(devs)),
		gone: map[string]struct{}{}, done: make(chan struct{})}
	for _, dev := range devs {
		run.expect[dev.DevPath] = struct{}{}
	}
	if err := d.call(ctx, func() { d.runs = append(d.runs, run); d.writing++ }); err != nil {
		return 0, nil, err
	}
	var made []*uevent.Event
	var skipped []string
	// Made-up events go to the queue in batches, so workers start on them
	// while the rest are read.
	flush := func() error {
		batch := made
		made = nil
		return d.call(ctx, func() { d.queueMade(run, batch) })
	}
	warned := false
	buf := make([]byte, 0, 4096) // for every uevent file
	dirs := &devDirs{root: d.host.sys.Root}
	defer dirs.close()
	for _, dev := range devs {
		if !opt.FromSysfs {
			err := d.trigger(dirs, dev.DevPath, action, uuid)
			if errors.Is(err, unix.EINVAL) { // a kernel that takes no uuid
				err = d.trigger(dirs, dev.DevPath, action, "")
			}
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrNotExist) {
				d.logf("trigger %s: gone while triggering", dev.DevPath)
				skipped = append(skipped, dev.DevPath)
				continue
			}
			if !warned {
				d.logf("trigger: cannot write uevent files (%v): making up the events from sysfs", err)
				warned = true
			}
		}
		ev, err := d.scan(dev, action, buf, dirs)
		if err != nil {
			skipped = append(skipped, dev.DevPath)
			continue
		}
		ev.Env["SYNTH_UUID"] = uuid
		if made = append(made, ev); len(made) == triggerBatch {
			if err := flush(); err != nil {
				return 0, nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, nil, err
	}
	err = d.call(ctx, func() {
		for _, p := range skipped {
			delete(run.expect, p)
		}
		run.gone = nil
		d.writing--
	})
	if err != nil {
		return 0, nil, err
	}
	return len(devs), run.done, nil
}

// queueMade queues a trigger run's made-up events, on the loop goroutine.
// One for a device the kernel reported gone meanwhile is dropped: it may
// have been read before the removal, and if the device came back the
// kernel sent its add too.
func (d *Daemon) queueMade(run *triggerRun, batch []*uevent.Event) {
	for _, ev := range batch {
		if _, gone := run.gone[ev.DevPath]; gone {
			d.logf("trigger %s: removed while scanning, not handled", ev.DevPath)
			delete(run.expect, ev.DevPath)
			continue
		}
		d.enqueue(ev)
	}
}

// scan makes up a device's event from sysfs, logging the lines of its
// uevent file it left out, or why the device was skipped.
func (d *Daemon) scan(dev sysDevice, action string, buf []byte, dirs *devDirs) (*uevent.Event, error) {
	ev, skipped, err := d.host.sys.scan(dev, action, buf, dirs)
	for _, e := range skipped {
		d.logf("trigger %s: %v", dev.DevPath, e)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.logf("trigger %s: gone while scanning", dev.DevPath)
	case err != nil:
		d.logf("trigger %s: %v (skipped)", dev.DevPath, err)
	}
	return ev, err
}

// uniqueRandom fills b with random bytes without waiting for the kernel's
// pool: at boot the pool is ready only once a driver that coldplug loads
// (virtio-rng) feeds it, and a blocking getrandom here held coldplug up
// for more than a second. GRND_INSECURE (Linux 5.6) never blocks; older
// kernels lack it and get the blocking call.
func uniqueRandom(b []byte) error {
	_, err := unix.Getrandom(b, unix.GRND_INSECURE)
	if errors.Is(err, unix.EINVAL) {
		_, err = unix.Getrandom(b, 0)
	}
	if err != nil {
		return fmt.Errorf("getrandom: %w", err)
	}
	return nil
}

// validTriggerAction accepts what the kernel takes in a uevent file.
func validTriggerAction(a string) bool {
	switch a {
	case "add", "remove", "change", "move", "online", "offline", "bind", "unbind":
		return true
	}
	return false
}

// newUUID returns a random (version 4) UUID. It tells a trigger run's
// events from others', which needs uniqueness, not secrecy.
func newUUID() (string, error) {
	var b [16]byte
	if err := uniqueRandom(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
