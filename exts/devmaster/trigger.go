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
	done   chan struct{}
}

// arrived crosses off the device of a returning event. Kernels before 4.13
// send no SYNTH_UUID; any event with the action then counts.
func (r *triggerRun) arrived(ev *uevent.Event) {
	if u, ok := ev.Env["SYNTH_UUID"]; u == r.uuid || !ok && ev.Action == r.action {
		delete(r.expect, ev.DevPath)
	}
}

// Trigger makes the kernel send an action event ("add", "change", ...) for
// every device of the subsystems (all when none) and returns how many it
// asked for. done is closed once those events came back and were handled,
// with any they caused (such as the devices a loaded driver created).
// Where uevent files cannot be written (a fake tree, no permission) the
// events are made up from the devices' uevent files instead.
func (d *Daemon) Trigger(ctx context.Context, action string, subsystems []string) (n int, done <-chan struct{}, err error) {
	if !validTriggerAction(action) {
		return 0, nil, fmt.Errorf("trigger: bad action %q", action)
	}
	devs, err := d.host.sys.Enumerate(subsystems)
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
	run := &triggerRun{uuid: uuid, action: action, expect: make(map[string]struct{}, len(devs)), done: make(chan struct{})}
	for _, dev := range devs {
		run.expect[dev.DevPath] = struct{}{}
	}
	if err := d.call(ctx, func() { d.runs = append(d.runs, run); d.writing++ }); err != nil {
		return 0, nil, err
	}
	var made []*uevent.Event
	var gone []string
	// Made-up events go to the queue in batches, so workers start on them
	// while the rest are read.
	flush := func() error {
		batch := made
		made = nil
		return d.call(ctx, func() {
			for _, ev := range batch {
				d.enqueue(ev)
			}
		})
	}
	warned := false
	for _, dev := range devs {
		err := d.trigger(dev.DevPath, action, uuid)
		if errors.Is(err, unix.EINVAL) { // a kernel that takes no uuid
			err = d.trigger(dev.DevPath, action, "")
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			gone = append(gone, dev.DevPath)
			continue
		}
		if !warned {
			d.logf("trigger: cannot write uevent files (%v): making up the events from sysfs", err)
			warned = true
		}
		ev, err := d.host.sys.Event(dev.DevPath, action)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.logf("trigger %s: %v", dev.DevPath, err)
			}
			gone = append(gone, dev.DevPath)
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
		for _, p := range gone {
			delete(run.expect, p)
		}
		d.writing--
	})
	if err != nil {
		return 0, nil, err
	}
	return len(devs), run.done, nil
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
