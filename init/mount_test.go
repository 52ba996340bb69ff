package pid1

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeMounter records calls and fails the targets it is told to.
type fakeMounter struct {
	calls []string
	fail  map[string]error
}

func (f *fakeMounter) MkdirAll(path string, perm os.FileMode) error {
	f.calls = append(f.calls, "mkdir "+path)
	return nil
}

func (f *fakeMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.calls = append(f.calls, fmt.Sprintf("mount %s %s", fstype, target))
	return f.fail[target]
}

func (f *fakeMounter) Unmount(target string, flags int) error {
	f.calls = append(f.calls, fmt.Sprintf("umount %s %d", target, flags))
	return f.fail["umount "+target]
}

func TestMountTableOrder(t *testing.T) {
	table := Mounts()
	index := map[string]int{}
	for i, m := range table {
		index[m.Target] = i
	}
	for _, want := range []string{"/dev", "/proc", "/sys", "/run", "/tmp", "/dev/pts", "/dev/shm", "/sys/fs/cgroup"} {
		if _, ok := index[want]; !ok {
			t.Errorf("mount table lacks %s", want)
		}
	}
	// A mount point inside another mount comes after it.
	for _, m := range table {
		for _, parent := range table {
			if parent.Target != m.Target && strings.HasPrefix(m.Target, parent.Target+"/") && index[parent.Target] > index[m.Target] {
				t.Errorf("%s is mounted before its parent %s", m.Target, parent.Target)
			}
		}
	}
	if table[index["/dev"]].FSType != "devtmpfs" || table[index["/sys/fs/cgroup"]].FSType != "cgroup2" {
		t.Errorf("wrong filesystem types: %+v", table)
	}
}

func TestMountAll(t *testing.T) {
	table := []Mount{
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs"},
		{Source: "proc", Target: "/proc", FSType: "proc"},
		{Source: "cgroup2", Target: "/sys/fs/cgroup", FSType: "cgroup2", Optional: true},
		{Source: "tmpfs", Target: "/run", FSType: "tmpfs"},
	}
	tests := []struct {
		name    string
		fail    map[string]error
		mounted []string
		warns   int
		err     string
	}{
		{"all good", nil, []string{"/dev", "/proc", "/sys/fs/cgroup", "/run"}, 0, ""},
		{"already mounted counts as done", map[string]error{"/dev": unix.EBUSY}, []string{"/proc", "/sys/fs/cgroup", "/run"}, 0, ""},
		{"optional failure warns", map[string]error{"/sys/fs/cgroup": unix.ENODEV}, []string{"/dev", "/proc", "/run"}, 1, ""},
		{"required failure is an error, the rest still mounts", map[string]error{"/proc": unix.EPERM}, []string{"/dev", "/sys/fs/cgroup", "/run"}, 0, "mount proc on /proc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMounter{fail: tt.fail}
			warns := 0
			got, err := MountAll(f, table, func(string) { warns++ })
			if !reflect.DeepEqual(got, tt.mounted) {
				t.Errorf("mounted %v, want %v", got, tt.mounted)
			}
			if warns != tt.warns {
				t.Errorf("%d warnings, want %d", warns, tt.warns)
			}
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestUnmountAllReverseAndLazy(t *testing.T) {
	f := &fakeMounter{fail: map[string]error{"umount /run": errors.New("busy")}}
	UnmountAll(f, []string{"/dev", "/proc", "/run"}, func(string) {})
	want := []string{
		"umount /run 0", fmt.Sprintf("umount /run %d", unix.MNT_DETACH),
		"umount /proc 0", "umount /dev 0",
	}
	if !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		cmdline   string
		onFailure string
		core      string
		warnings  int
	}{
		{"console=ttyS0 quiet", "poweroff", "/sbin/sysmaster", 0},
		{"sysmaster.on_failure=shell", "shell", "/sbin/sysmaster", 0},
		{"sysmaster.on_failure=hang sysmaster.core=/bin/core", "hang", "/bin/core", 0},
		{"sysmaster.on_failure=explode", "poweroff", "/sbin/sysmaster", 1},
		{"sysmaster.core=relative", "poweroff", "/sbin/sysmaster", 1},
	}
	for _, tt := range tests {
		o, w := ParseCmdline(tt.cmdline)
		if o.OnFailure != tt.onFailure || o.Core != tt.core || len(w) != tt.warnings {
			t.Errorf("ParseCmdline(%q) = %+v, %q", tt.cmdline, o, w)
		}
	}
}
