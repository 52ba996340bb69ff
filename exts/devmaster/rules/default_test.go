package rules

import (
	"io/fs"
	"slices"
	"testing"
)

func TestDefault(t *testing.T) {
	rules, err := Parse(DefaultName, Default())
	if err != nil {
		t.Fatalf("default rules: %v", err)
	}
	s := NewSet(rules...)

	tests := []struct {
		name     string
		dev      Device
		group    string
		mode     fs.FileMode // 0: not set
		symlinks []string
		env      map[string]string
	}{
		{"virtio disk",
			Device{Subsystem: "block", Kernel: "vda", DevNode: "/dev/vda",
				Env: map[string]string{"DEVTYPE": "disk"}, Attr: attrs(map[string]string{"serial": "rootdisk"}, nil)},
			"disk", 0o660, []string{"disk/by-id/virtio-rootdisk"}, nil},
		{"virtio disk without serial",
			Device{Subsystem: "block", Kernel: "vdb", Env: map[string]string{"DEVTYPE": "disk"}, Attr: attrs(nil, nil)},
			"disk", 0o660, nil, nil},
		{"virtio partition with ext4",
			Device{Subsystem: "block", Kernel: "vda2", DevNode: "/dev/vda2", Env: map[string]string{
				"DEVTYPE": "partition", "ID_SERIAL": "rootdisk", "ID_FS_TYPE": "ext4",
				"ID_FS_UUID": "3e6be9de-8139-4e2f-9c32-8b2a1e4c5d6f", "ID_FS_LABEL": "my root",
				"PARTUUID": "0fc63daf-8483-4772-8e79-3d69d8477de4", "PARTNAME": "root"}},
			"disk", 0o660, []string{
				"disk/by-id/virtio-rootdisk-part2",
				"disk/by-uuid/3e6be9de-8139-4e2f-9c32-8b2a1e4c5d6f",
				`disk/by-label/my\x20root`,
				"disk/by-partuuid/0fc63daf-8483-4772-8e79-3d69d8477de4",
				"disk/by-partlabel/root",
			}, nil},
		{"vfat without label",
			Device{Subsystem: "block", Kernel: "sda1", Env: map[string]string{
				"DEVTYPE": "partition", "ID_FS_TYPE": "vfat", "ID_FS_UUID": "ABCD-1234"}},
			"disk", 0o660, []string{"disk/by-uuid/ABCD-1234"}, nil},
		{"sd card: no by-id",
			Device{Subsystem: "block", Kernel: "mmcblk0", Env: map[string]string{"DEVTYPE": "disk", "ID_SERIAL": "0x1234abcd"},
				Attr: attrs(map[string]string{"device/name": "SL16G", "device/serial": "0x1234abcd"}, nil)},
			"disk", 0o660, nil, nil},
		{"serial port",
			Device{Subsystem: "tty", Kernel: "ttyS0", DevNode: "/dev/ttyS0"},
			"dialout", 0o660, nil, nil},
		{"PL011 serial port",
			Device{Subsystem: "tty", Kernel: "ttyAMA0"},
			"dialout", 0o660, nil, nil},
		{"virtual console",
			Device{Subsystem: "tty", Kernel: "tty1"},
			"tty", 0o620, nil, nil},
		{"serial port",
			Device{Subsystem: "tty", Kernel: "ttyS1"},
			"dialout", 0o660, nil, nil},
		{"controlling tty",
			Device{Subsystem: "tty", Kernel: "tty"},
			"", 0o666, nil, nil},
		{"ptmx",
			Device{Subsystem: "tty", Kernel: "ptmx"},
			"", 0o666, nil, nil},
		{"null", Device{Subsystem: "mem", Kernel: "null"}, "", 0o666, nil, nil},
		{"urandom", Device{Subsystem: "mem", Kernel: "urandom"}, "", 0o666, nil, nil},
		{"mem itself", Device{Subsystem: "mem", Kernel: "mem"}, "", 0, nil, nil},
		{"hwrng", Device{Subsystem: "misc", Kernel: "hw_random", DevNode: "/dev/hwrng"}, "", 0o600, nil, nil},
		{"named virtio port",
			Device{Subsystem: "virtio-ports", Kernel: "vport1p1",
				Attr: attrs(map[string]string{"name": "org.qemu.guest_agent.0"}, nil)},
			"", 0, []string{"virtio-ports/org.qemu.guest_agent.0"}, nil},
		{"unnamed virtio port",
			Device{Subsystem: "virtio-ports", Kernel: "vport1p2", Attr: attrs(map[string]string{"name": ""}, nil)},
			"", 0, nil, nil},
		{"system rtc",
			Device{Subsystem: "rtc", Kernel: "rtc0", Attr: attrs(map[string]string{"hctosys": "1"}, nil)},
			"", 0, []string{"rtc"}, nil},
		{"other rtc",
			Device{Subsystem: "rtc", Kernel: "rtc1", Attr: attrs(map[string]string{"hctosys": "0"}, nil)},
			"", 0, nil, nil},
		{"network interface", Device{Subsystem: "net", Kernel: "eth0"}, "", 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.dev.Action = "add"
			res := s.Apply(&tt.dev)
			delete(res.Env, "SYSMASTER_DEVICE") // see TestDefaultManagerDevices
			if res.Group != tt.group || res.Owner != "" {
				t.Errorf("owner:group = %q:%q, want :%q", res.Owner, res.Group, tt.group)
			}
			if res.ModeSet != (tt.mode != 0) || res.Mode != tt.mode {
				t.Errorf("mode = %v (set %v), want %v", res.Mode, res.ModeSet, tt.mode)
			}
			if !slices.Equal(res.Symlinks, tt.symlinks) {
				t.Errorf("Symlinks = %q, want %q", res.Symlinks, tt.symlinks)
			}
			if len(res.Env) != len(tt.env) {
				t.Errorf("Env = %q, want %q", res.Env, tt.env)
			}
			for k, v := range tt.env {
				if res.Env[k] != v {
					t.Errorf("Env[%s] = %q, want %q", k, res.Env[k], v)
				}
			}
			if len(res.Warnings) > 0 || len(res.Run) > 0 || len(res.Units) > 0 {
				t.Errorf("unexpected Warnings %q, Run %q, Units %q", res.Warnings, res.Run, res.Units)
			}
		})
	}
}

func TestDefaultCopies(t *testing.T) {
	a := Default()
	a[0] = 'X'
	if Default()[0] == 'X' {
		t.Error("Default returns shared bytes")
	}
}

// TestDefaultManagerDevices: the default rules mark the devices units can
// wait for, and leave out the many that nothing waits for.
func TestDefaultManagerDevices(t *testing.T) {
	rs, err := Parse(DefaultName, Default())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet(rs...)
	for _, tt := range []struct {
		dev  Device
		want bool
	}{
		{Device{Subsystem: "block", Kernel: "vda"}, true},
		{Device{Subsystem: "net", Kernel: "eth0"}, true},
		{Device{Subsystem: "tty", Kernel: "ttyS1"}, true},
		{Device{Subsystem: "tty", Kernel: "ttyAMA0"}, true},
		{Device{Subsystem: "tty", Kernel: "tty1"}, false},
		{Device{Subsystem: "misc", Kernel: "hw_random"}, true},
		{Device{Subsystem: "pci", Kernel: "0000:00:02.0"}, false},
		{Device{Subsystem: "vc", Kernel: "vcs1"}, false},
	} {
		tt.dev.Action = "add"
		if got := s.Apply(&tt.dev).Env["SYSMASTER_DEVICE"] == "1"; got != tt.want {
			t.Errorf("%s %s: marked %v, want %v", tt.dev.Subsystem, tt.dev.Kernel, got, tt.want)
		}
	}
}
