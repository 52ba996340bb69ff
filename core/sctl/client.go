package sctl

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// Client speaks to the manager at Socket on behalf of another daemon.
type Client struct {
	Socket string
}

// StartUnit queues the start of a unit and returns without waiting for it.
func (c Client) StartUnit(name string) error {
	return c.call(proto.Request{Cmd: "start", Units: []string{name}, NoBlock: true})
}

// ReportDevices tells the manager about devices and waits for it to take
// them in.
func (c Client) ReportDevices(evs ...proto.DeviceEvent) error {
	_, err := c.report(evs)
	return err
}

// report is ReportDevices returning the manager's device epoch.
func (c Client) report(evs []proto.DeviceEvent) (epoch string, err error) {
	resp, err := c.answer(proto.Request{Cmd: "device", Devices: evs})
	return resp.DeviceEpoch, err
}

func (c Client) call(req proto.Request) error {
	_, err := c.answer(req)
	return err
}

func (c Client) answer(req proto.Request) (proto.Response, error) {
	resp, err := Call(c.Socket, req)
	if err != nil {
		return resp, err
	}
	if resp.Code != 0 {
		return resp, fmt.Errorf("%s: %s", req.Cmd, strings.TrimSpace(resp.Err))
	}
	return resp, nil
}

// DeviceReporter tells the manager about devices, for the device manager.
// Reports are queued and sent in batches from one goroutine, so handling
// a device never waits for the manager; while the manager is away (a
// restart), they wait and go out later. Only the last report of each
// device is kept meanwhile: it is what the device is now.
type DeviceReporter struct {
	Client
	logf func(format string, args ...any)

	mu    sync.Mutex
	queue []proto.DeviceEvent
	index map[string]int // syspath -> its report in queue
	// acked holds the last report of each device that the manager took
	// in during epoch, its device epoch (proto.Response.DeviceEpoch);
	// "" when none is known, and then nothing is left out.
	acked map[string]proto.DeviceEvent
	epoch string
	// dropped holds the reports left out since the manager last
	// answered: if its next answer names another epoch, something was
	// unplugged meanwhile (a link another device took over, say), and
	// they go out after all.
	dropped map[string]proto.DeviceEvent
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

// NewDeviceReporter starts a reporter for the manager at socket; logf
// receives failures.
func NewDeviceReporter(socket string, logf func(format string, args ...any)) *DeviceReporter {
	r := &DeviceReporter{
		Client: Client{Socket: socket}, logf: logf,
		index: map[string]int{}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), stopped: make(chan struct{}),
	}
	go r.run()
	return r
}

// DeviceChanged queues a report and returns at once.
func (r *DeviceReporter) DeviceChanged(action, syspath, devnode string, links []string) error {
	r.queueReport(proto.DeviceEvent{Action: action, SysPath: syspath, DevNode: devnode, Links: links}, false)
	return nil
}

// DeviceSeen is DeviceChanged for a device handled again by a trigger
// pass that began with Sync: a report equal to the last one the manager
// took in, in the epoch it still has, is left out, since the manager
// would change nothing for it.
func (r *DeviceReporter) DeviceSeen(action, syspath, devnode string, links []string) error {
	r.queueReport(proto.DeviceEvent{Action: action, SysPath: syspath, DevNode: devnode, Links: links}, true)
	return nil
}

// Sync asks the manager for its device epoch, so that DeviceSeen leaves
// out only what the manager still holds: after a restart of the manager,
// or a device unit unplugged since, every report goes out again. It fails
// when the manager does not answer, and nothing is left out then.
func (r *DeviceReporter) Sync() error {
	resp, err := r.answer(proto.Request{Cmd: "device-epoch"})
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.setEpoch("")
		return err
	}
	r.setEpoch(resp.DeviceEpoch)
	if len(r.queue) > 0 {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// setEpoch forgets what was acknowledged in another epoch, and queues
// again what was left out meanwhile. The caller holds mu.
func (r *DeviceReporter) setEpoch(e string) {
	if e == "" || e != r.epoch {
		r.acked = map[string]proto.DeviceEvent{}
		for p, ev := range r.dropped {
			if _, queued := r.index[p]; !queued {
				r.index[p] = len(r.queue)
				r.queue = append(r.queue, ev)
			}
		}
	}
	r.dropped = nil
	r.epoch = e
}

func (r *DeviceReporter) queueReport(ev proto.DeviceEvent, seen bool) {
	syspath := ev.SysPath
	r.mu.Lock()
	if _, queued := r.index[syspath]; seen && !queued && r.epoch != "" {
		if old, ok := r.acked[syspath]; ok && samePresence(old, ev) {
			if r.dropped == nil {
				r.dropped = map[string]proto.DeviceEvent{}
			}
			r.dropped[syspath] = ev
			r.mu.Unlock()
			return
		}
	}
	if i, ok := r.index[syspath]; ok {
		r.queue[i] = ev
	} else {
		r.index[syspath] = len(r.queue)
		r.queue = append(r.queue, ev)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Close sends what is queued (waiting at most timeout) and stops.
func (r *DeviceReporter) Close(timeout time.Duration) {
	close(r.done)
	select {
	case <-r.stopped:
	case <-time.After(timeout):
	}
}

// maxBatch keeps a request within what the manager accepts.
const maxBatch = 256

func (r *DeviceReporter) run() {
	defer close(r.stopped)
	retry := time.Duration(0)
	for {
		if retry > 0 {
			select {
			case <-time.After(retry):
			case <-r.done:
				return
			}
		}
		r.mu.Lock()
		n := min(len(r.queue), maxBatch)
		batch := append([]proto.DeviceEvent(nil), r.queue[:n]...)
		r.mu.Unlock()
		if n == 0 {
			select {
			case <-r.wake:
				continue
			case <-r.done:
				return
			}
		}
		epoch, err := r.report(batch)
		if err != nil {
			r.logf("telling the manager about %d devices: %v (retrying)", n, err)
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
			continue
		}
		retry = 0
		r.mu.Lock()
		// The epoch is the manager's after it took this batch in.
		r.setEpoch(epoch)
		for _, ev := range batch {
			if ev.Action == "remove" {
				delete(r.acked, ev.SysPath)
			} else {
				r.acked[ev.SysPath] = ev
			}
		}
		// Reports that replaced a sent one while it was on its way stay.
		sent := r.queue[:n]
		rest := r.queue[n:]
		r.queue = nil
		r.index = map[string]int{}
		for i, ev := range sent {
			if !sameEvent(ev, batch[i]) {
				r.index[ev.SysPath] = len(r.queue)
				r.queue = append(r.queue, ev)
			}
		}
		for _, ev := range rest {
			r.index[ev.SysPath] = len(r.queue)
			r.queue = append(r.queue, ev)
		}
		r.mu.Unlock()
	}
}

// samePresence reports whether two reports of a present device say the
// same: the manager treats "add" and "change" alike.
func samePresence(a, b proto.DeviceEvent) bool {
	return a.Action != "remove" && b.Action != "remove" && a.SysPath == b.SysPath &&
		a.DevNode == b.DevNode && slices.Equal(a.Links, b.Links)
}

func sameEvent(a, b proto.DeviceEvent) bool {
	return a.Action == b.Action && a.SysPath == b.SysPath && a.DevNode == b.DevNode && slices.Equal(a.Links, b.Links)
}
