package devmaster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// runCtl runs devctl with the tree's roots and returns status and output.
func runCtl(t *testing.T, tr *tree, c *ctl, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if c == nil {
		c = &ctl{}
	}
	c.stdout, c.stderr = &stdout, &stderr
	argv := []string{"devctl"}
	if len(args) > 0 {
		argv = append(argv, args[0])
		if tr != nil {
			argv = append(argv, "--sys", tr.sys, "--dev", tr.dev, "--run", tr.run)
		}
		argv = append(argv, args[1:]...)
	}
	code := c.main(argv)
	t.Logf("devctl %s: %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func TestCtlUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"help"}, 0},
		{[]string{"info"}, 2},
		{[]string{"info", "a", "b"}, 2},
		{[]string{"settle", "extra"}, 2},
		{[]string{"settle", "--timeout", "-1s"}, 2},
		{[]string{"trigger", "--action", "explode"}, 2},
		{[]string{"test", "--action", "explode", "/devices/x"}, 2},
		{[]string{"monitor", "--bogus"}, 2},
		{[]string{"info", "-h"}, 0},
		{[]string{"ping", "--control", "/nonexistent/socket"}, 1},
	}
	for _, tt := range tests {
		if code, _, _ := runCtl(t, nil, nil, tt.args...); code != tt.code {
			t.Errorf("devctl %v = %d, want %d", tt.args, code, tt.code)
		}
	}
}

func TestCtlInfo(t *testing.T) {
	tr := newTree(t)
	tr.board()
	hs := newHost(tr.sys, tr.dev, tr.run)
	if err := os.MkdirAll(hs.db.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := record{Links: []string{"disk/by-label/root_fs"}, Env: map[string]string{"ID_FS_TYPE": "ext4"}, Initialized: 5000000}
	if err := hs.db.write("b254:1", rec); err != nil {
		t.Fatal(err)
	}
	if _, err := addLink(tr.dev, "disk/by-label/root_fs", filepath.Join(tr.dev, "vda1")); err != nil {
		t.Fatal(err)
	}
	const devpath = "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1"
	want := strings.Join([]string{
		"P: " + devpath,
		"N: vda1",
		"S: disk/by-label/root_fs",
		"E: DEVLINKS=/dev/disk/by-label/root_fs",
		"E: DEVNAME=/dev/vda1",
		"E: DEVPATH=" + devpath,
		"E: DEVTYPE=partition",
		"E: ID_FS_TYPE=ext4",
		"E: MAJOR=254",
		"E: MINOR=1",
		"E: PARTN=1",
		"E: SUBSYSTEM=block",
		"E: USEC_INITIALIZED=5000000",
	}, "\n") + "\n"
	for _, arg := range []string{devpath, tr.sys + devpath, tr.sys + "/class/block/vda1", "/dev/vda1", "vda1", "/dev/disk/by-label/root_fs", tr.dev + "/vda1"} {
		code, out, _ := runCtl(t, tr, nil, "info", arg)
		if code != 0 || out != want {
			t.Errorf("info %s = %d\n%s\nwant\n%s", arg, code, out, want)
		}
	}
	for _, arg := range []string{"/devices/nonexistent", "/dev/nonexistent", "../../etc/passwd", tr.sys + "/class"} {
		if code, _, _ := runCtl(t, tr, nil, "info", arg); code != 1 {
			t.Errorf("info %s = %d, want 1", arg, code)
		}
	}
	// A device without a node or database entry.
	code, out, _ := runCtl(t, tr, nil, "info", "/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0")
	if code != 0 || !strings.Contains(out, "E: INTERFACE=eth0\n") || strings.Contains(out, "N:") {
		t.Errorf("info eth0 = %d\n%s", code, out)
	}
}

// fakeReceiver replays events, then fails as a closed socket does.
type fakeReceiver struct {
	evs  []*uevent.Event
	errs []error
}

func (r *fakeReceiver) Receive() (*uevent.Event, error) {
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		return nil, err
	}
	if len(r.evs) == 0 {
		return nil, os.ErrClosed
	}
	ev := r.evs[0]
	r.evs = r.evs[1:]
	return ev, nil
}

func (r *fakeReceiver) Close() error { return nil }

func TestCtlMonitor(t *testing.T) {
	rcv := &fakeReceiver{
		errs: []error{uevent.ErrLibudev, uevent.ErrNotKernel},
		evs:  []*uevent.Event{recorded(t, "tty-ttyS1-add.txt"), recorded(t, "block-vda-add.txt")},
	}
	c := &ctl{listen: func() (receiver, error) { return rcv, nil }}
	code, out, errOut := runCtl(t, nil, c, "monitor", "--property", "--subsystem-match", "block")
	if code != 1 || !strings.Contains(errOut, "file already closed") {
		t.Errorf("monitor ended with %d, %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "KERNEL[") ||
		!strings.HasSuffix(lines[1], "] add      /devices/pci0000:00/0000:00:03.0/virtio1/block/vda (block)") {
		t.Fatalf("monitor printed\n%s", out)
	}
	if strings.Contains(out, "ttyS1") || !strings.Contains(out, "\nDEVNAME=vda\n") || !strings.Contains(out, "\nSEQNUM=1050\n") {
		t.Errorf("monitor printed\n%s", out)
	}
	c = &ctl{listen: func() (receiver, error) { return nil, errors.New("no netlink") }}
	if code, _, _ := runCtl(t, nil, c, "monitor"); code != 1 {
		t.Errorf("monitor without a socket = %d", code)
	}
}

func TestCtlDaemonCommands(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, true)
	h.ready()
	for _, args := range [][]string{
		{"ping"},
		{"settle", "--timeout", "5s"},
		{"trigger", "--subsystem-match", "tty", "--action", "change", "--settle"},
		{"reload"},
	} {
		if code, _, _ := runCtl(t, tr, nil, args...); code != 0 {
			t.Errorf("devctl %v = %d", args, code)
		}
	}
	if c, _ := h.mgr.find(tr.sys + "/devices/platform/serial8250/tty/ttyS1"); c.action != "change" {
		t.Errorf("trigger --action change: manager got %+v", c)
	}
	// --from-sysfs: handled the same, no uevent file written.
	writes := h.writes.Load()
	if code, _, _ := runCtl(t, tr, nil, "trigger", "--subsystem-match", "tty", "--action", "bind", "--from-sysfs", "--settle"); code != 0 {
		t.Errorf("devctl trigger --from-sysfs = %d", code)
	}
	if c, _ := h.mgr.find(tr.sys + "/devices/platform/serial8250/tty/ttyS1"); c.action != "bind" || h.writes.Load() != writes {
		t.Errorf("trigger --from-sysfs: manager got %+v, %d uevent files written", c, h.writes.Load()-writes)
	}
	if !h.log.contains("trigger: bind for 1 devices, from sysfs") {
		t.Error("trigger --from-sysfs not logged as such")
	}
}
