package sctl

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// fakeManager answers device reports and device-epoch requests with its
// epoch and keeps the reports it got.
type fakeManager struct {
	mu      sync.Mutex
	epoch   string
	reports []proto.DeviceEvent
}

func (f *fakeManager) serve(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "m.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var req proto.Request
			line, _ := bufio.NewReader(c).ReadBytes('\n')
			resp := proto.Response{}
			if err := json.Unmarshal(line, &req); err != nil {
				resp.Code = 1
			}
			f.mu.Lock()
			f.reports = append(f.reports, req.Devices...)
			resp.DeviceEpoch = f.epoch
			f.mu.Unlock()
			b, _ := json.Marshal(resp)
			c.Write(append(b, '\n'))
			c.Close()
		}
	}()
	return sock
}

func (f *fakeManager) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reports {
		out = append(out, r.Action+" "+r.SysPath)
	}
	return out
}

func (f *fakeManager) setEpoch(e string) {
	f.mu.Lock()
	f.epoch = e
	f.mu.Unlock()
}

// waitFor waits until the manager got n reports.
func (f *fakeManager) waitFor(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(f.got()) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the manager got %v, want %d reports", f.got(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReporterLeavesOutKnown: after Sync, DeviceSeen leaves out a report
// equal to the last one the manager took in, in the same epoch; a new
// epoch, a changed device, a report still queued or DeviceChanged sends.
func TestReporterLeavesOutKnown(t *testing.T) {
	f := &fakeManager{epoch: "a.0"}
	r := NewDeviceReporter(f.serve(t), t.Logf)
	defer r.Close(time.Second)
	const tty, vda = "/sys/devices/tty/ttyS1", "/sys/devices/vda"
	links := []string{"/dev/disk/by-id/x"}
	r.DeviceChanged("add", tty, "/dev/ttyS1", nil)
	r.DeviceChanged("add", vda, "/dev/vda", links)
	f.waitFor(t, 2)

	// The same again, in the same epoch: nothing to send.
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.DeviceSeen("change", tty, "/dev/ttyS1", nil)
	r.DeviceSeen("add", vda, "/dev/vda", slices.Clone(links))
	// A changed device is sent, and so is a plain DeviceChanged.
	r.DeviceSeen("add", vda, "/dev/vda", nil)
	r.DeviceChanged("change", tty, "/dev/ttyS1", nil)
	f.waitFor(t, 4)
	time.Sleep(50 * time.Millisecond)
	want := []string{"add " + tty, "add " + vda, "add " + vda, "change " + tty}
	if got := f.got(); !slices.Equal(got, want) {
		t.Fatalf("the manager got %v, want %v", got, want)
	}

	// Left out, then the manager's next answer names another epoch (a
	// report on its way unplugged a link): what was left out goes too.
	r.DeviceSeen("add", tty, "/dev/ttyS1", nil)
	f.setEpoch("a.0b")
	r.DeviceChanged("remove", "/sys/devices/other", "", nil)
	f.waitFor(t, 6)
	if got := f.got(); got[4] != "remove /sys/devices/other" || got[5] != "add "+tty {
		t.Fatalf("the manager got %v, want the remove, then ttyS1 again", got[4:])
	}
	f.setEpoch("a.0")

	// A new epoch (a restart, a unit unplugged): everything goes out again.
	f.setEpoch("a.1")
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.DeviceSeen("add", tty, "/dev/ttyS1", nil)
	f.waitFor(t, 7)

	// A manager that names no epoch (an older one) hears every report.
	f.setEpoch("")
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.DeviceSeen("add", tty, "/dev/ttyS1", nil)
	f.waitFor(t, 8)
	r.DeviceSeen("add", tty, "/dev/ttyS1", nil)
	f.waitFor(t, 9)

	// No manager: Sync fails and nothing is left out afterwards.
	r2 := NewDeviceReporter(filepath.Join(t.TempDir(), "none.sock"), func(string, ...any) {})
	defer r2.Close(0)
	if err := r2.Sync(); err == nil {
		t.Error("Sync without a manager succeeded")
	}
	if r2.epoch != "" {
		t.Errorf("epoch %q without a manager", r2.epoch)
	}
}
