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
	return c.call(proto.Request{Cmd: "device", Devices: evs})
}

func (c Client) call(req proto.Request) error {
	resp, err := Call(c.Socket, req)
	if err != nil {
		return err
	}
	if resp.Code != 0 {
		return fmt.Errorf("%s: %s", req.Cmd, strings.TrimSpace(resp.Err))
	}
	return nil
}

// DeviceReporter tells the manager about devices, for the device manager.
// Reports are queued and sent in batches from one goroutine, so handling
// a device never waits for the manager; while the manager is away (a
// restart), they wait and go out later. Only the last report of each
// device is kept meanwhile: it is what the device is now.
type DeviceReporter struct {
	Client
	logf func(format string, args ...any)

	mu      sync.Mutex
	queue   []proto.DeviceEvent
	index   map[string]int // syspath -> its report in queue
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
	ev := proto.DeviceEvent{Action: action, SysPath: syspath, DevNode: devnode, Links: links}
	r.mu.Lock()
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
	return nil
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
		if err := r.ReportDevices(batch...); err != nil {
			r.logf("telling the manager about %d devices: %v (retrying)", n, err)
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
			continue
		}
		retry = 0
		r.mu.Lock()
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

func sameEvent(a, b proto.DeviceEvent) bool {
	return a.Action == b.Action && a.SysPath == b.SysPath && a.DevNode == b.DevNode && slices.Equal(a.Links, b.Links)
}
