package board

import (
	"strings"
	"testing"
)

func TestData(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Data
		dev  string
		err  string
	}{
		{name: "none", d: Data{}},
		{name: "label", d: Data{Device: "LABEL=data", Type: "ext4"}, dev: "/dev/disk/by-label/data"},
		{name: "uuid", d: Data{Device: "UUID=5EC73A01-1234-4567-89AB-CDEF01234567", Type: "ext4"}, dev: "/dev/disk/by-uuid/5ec73a01-1234-4567-89ab-cdef01234567"},
		{name: "path", d: Data{Device: "/dev/mmcblk0p3", Type: "vfat", Where: "/data"}, dev: "/dev/mmcblk0p3"},
		{name: "no device", d: Data{Type: "ext4"}, err: "data.device: missing"},
		{name: "bad label", d: Data{Device: "LABEL=my data", Type: "ext4"}, err: `data.device: label "my data"`},
		{name: "relative", d: Data{Device: "vda", Type: "ext4"}, err: `data.device: "vda" is not LABEL=, UUID= or a /dev path`},
		{name: "no type", d: Data{Device: "LABEL=data"}, err: "data.type: missing"},
		{name: "btrfs", d: Data{Device: "LABEL=data", Type: "btrfs"}, err: `data.type: "btrfs"`},
		{name: "root", d: Data{Device: "LABEL=data", Type: "ext4", Where: "/"}, err: "data.where"},
		{name: "quote in options", d: Data{Device: "LABEL=data", Type: "ext4", Options: "x'y"}, err: "data.options"},
		{name: "bad unit", d: Data{Device: "LABEL=data", Type: "ext4", RequiredBy: []string{"writer"}}, err: `data.required_by[0]: "writer"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.d.validate()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.dev != "" && c.d.DevicePath() != c.dev {
				t.Errorf("DevicePath = %q, want %q", c.d.DevicePath(), c.dev)
			}
		})
	}
	if d := (Data{Device: "LABEL=x", Type: "ext4"}); d.MountPoint() != "/var" || len(d.Users()) != 2 {
		t.Fatalf("defaults: %q %v", d.MountPoint(), d.Users())
	}
}
