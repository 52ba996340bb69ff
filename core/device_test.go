package core_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/sctl"
)

func TestUnitWaitsForDevice(t *testing.T) {
	sleep := "[Service]\nExecStart = \"/bin/sleep 1000\"\n"
	m := newManager(t, map[string]string{
		// Ordering after a device is enough to wait for it.
		"modem.service": "[Unit]\nAfter = [\"dev-ttyS1.device\"]\n" + sleep + enabled,
		"disk.service": "[Unit]\nBindsTo = [\"dev-disk-by\\\\x2duuid-1234.device\"]\n" +
			"After = [\"dev-disk-by\\\\x2duuid-1234.device\"]\n" + sleep + enabled,
	})
	m.start()
	m.waitState("modem.service", core.Inactive)
	if st := m.status("modem.service"); st.Active != core.Inactive {
		t.Fatalf("modem.service started before its device: %+v", st)
	}
	c := sctl.Client{Socket: m.socket}
	if err := c.ReportDevices(core.DeviceEvent{Action: "add", SysPath: "/sys/devices/platform/serial8250/tty/ttyS1", DevNode: "/dev/ttyS1"}); err != nil {
		t.Fatal(err)
	}
	m.waitState("modem.service", core.Active)
	for _, n := range []string{"dev-ttyS1.device", "sys-devices-platform-serial8250-tty-ttyS1.device"} {
		if st := m.status(n); st.Active != core.Active || st.Sub != "plugged" {
			t.Errorf("%s: %+v, want active (plugged)", n, st)
		}
	}
	if st := m.status("disk.service"); st.Active == core.Active {
		t.Fatalf("disk.service started without its disk: %+v", st)
	}

	// A link of a device counts as the device; BindsTo follows its removal.
	links := []string{"/dev/disk/by-uuid/1234", "/dev/disk/by-id/virtio-sn1"}
	vda := core.DeviceEvent{Action: "add", SysPath: "/sys/devices/pci0000:00/virtio2/block/vda", DevNode: "/dev/vda", Links: links}
	if err := c.ReportDevices(vda); err != nil {
		t.Fatal(err)
	}
	m.waitState("disk.service", core.Active)
	vda.Action, vda.Links = "remove", nil
	if err := c.ReportDevices(vda); err != nil {
		t.Fatal(err)
	}
	m.waitState("disk.service", core.Inactive)
	if st := m.status("dev-disk-by\\x2did-virtio\\x2dsn1.device"); st.Active != core.Inactive {
		t.Errorf("link unit still %s after the device went away", st.Active)
	}

	// The device state survives a crash of the manager.
	m.kill9()
	m.start()
	if st := m.status("dev-ttyS1.device"); st.Active != core.Active {
		t.Errorf("after a crash dev-ttyS1.device is %s", st.Active)
	}
	m.stop()
}

func TestBadDeviceReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *core.DeviceEvent
		want string
	}{
		{"none", nil, "no device"},
		{"action", &core.DeviceEvent{Action: "explode", SysPath: "/sys/devices/x"}, "unknown action"},
		{"syspath", &core.DeviceEvent{Action: "add", SysPath: "/etc/passwd"}, "not under /sys"},
		{"devnode", &core.DeviceEvent{Action: "add", SysPath: "/sys/devices/x", DevNode: "/tmp/x"}, "not under /dev"},
		{"newline", &core.DeviceEvent{Action: "add", SysPath: "/sys/devices/x\n"}, "bad path"},
		{"links", &core.DeviceEvent{Action: "add", SysPath: "/sys/devices/x", Links: make([]string, 300)}, "links"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := `{"cmd":"device"}`
			if tc.ev != nil {
				line = `{"cmd":"device","devices":[` + mustJSON(t, tc.ev) + `]}`
			}
			_, err := core.DecodeRequest([]byte(line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeRequest = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeviceEpoch: the epoch the manager answers device reports with
// stays while its devices stay plugged, and changes when a device unit is
// unplugged or stopped (a device unit stays plugged through a stop job:
// devices follow the hardware), or the manager starts again.
func TestDeviceEpoch(t *testing.T) {
	m := newManager(t, map[string]string{})
	m.start()
	epoch := func() string {
		t.Helper()
		resp, err := sctl.Call(m.socket, core.Request{Cmd: "device-epoch"})
		if err != nil || resp.DeviceEpoch == "" {
			t.Fatalf("device-epoch: %+v, %v", resp, err)
		}
		return resp.DeviceEpoch
	}
	c := sctl.Client{Socket: m.socket}
	report := func(ev core.DeviceEvent) {
		t.Helper()
		if err := c.ReportDevices(ev); err != nil {
			t.Fatal(err)
		}
	}
	e0 := epoch()
	tty := core.DeviceEvent{Action: "add", SysPath: "/sys/devices/platform/serial8250/tty/ttyS1", DevNode: "/dev/ttyS1"}
	report(tty)
	vda := core.DeviceEvent{Action: "add", SysPath: "/sys/devices/pci0000:00/virtio2/block/vda", DevNode: "/dev/vda", Links: []string{"/dev/disk/by-id/a"}}
	report(vda)
	report(tty)
	if e := epoch(); e != e0 {
		t.Fatalf("epoch %s after plugging devices, was %s", e, e0)
	}
	vda.Links = nil // the link's unit is unplugged
	report(vda)
	e1 := epoch()
	if e1 == e0 {
		t.Fatal("epoch unchanged after a link went away")
	}
	if out, err := sctl.Call(m.socket, core.Request{Cmd: "stop", Units: []string{"dev-ttyS1.device"}}); err != nil || out.Code != 0 {
		t.Fatalf("stop: %+v, %v", out, err)
	}
	e2 := epoch()
	if e2 == e1 {
		t.Fatal("epoch unchanged after a device unit was stopped")
	}
	report(tty) // plugs it again, as before
	m.waitState("dev-ttyS1.device", core.Active)
	m.kill9()
	m.start()
	if e := epoch(); e == e2 {
		t.Fatal("epoch unchanged after a restart of the manager")
	}
	m.stop()
}
