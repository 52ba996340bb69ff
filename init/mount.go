package pid1

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Mount is one entry of the boot mount table.
type Mount struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	// Optional mounts may fail (a kernel without the filesystem) without
	// stopping the boot.
	Optional bool
}

// Mounts is the table init mounts at boot, in order: parents first.
// Debian kernels do not mount devtmpfs by themselves.
func Mounts() []Mount {
	const nsn = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	return []Mount{
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755"},
		{Source: "proc", Target: "/proc", FSType: "proc", Flags: nsn},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: nsn},
		{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755"},
		{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
		{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "mode=0620,ptmxmode=0666"},
		{Source: "tmpfs", Target: "/dev/shm", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
		{Source: "cgroup2", Target: "/sys/fs/cgroup", FSType: "cgroup2", Flags: nsn, Optional: true},
	}
}

// Mounter does the system calls of mounting, so tests can record them.
type Mounter interface {
	MkdirAll(path string, perm os.FileMode) error
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
}

// SysMounter mounts for real.
type SysMounter struct{}

// MkdirAll creates the mount point.
func (SysMounter) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// Mount calls mount(2).
func (SysMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

// Unmount calls umount2(2).
func (SysMounter) Unmount(target string, flags int) error { return unix.Unmount(target, flags) }

// MountAll mounts the table in order and returns the targets it mounted.
// A failed required mount is an error; a failed optional one is reported
// through warn. A target that is already mounted (EBUSY) counts as done.
func MountAll(mt Mounter, table []Mount, warn func(string)) ([]string, error) {
	var done []string
	var errs []error
	for _, m := range table {
		if err := mt.MkdirAll(m.Target, 0o755); err != nil {
			err = fmt.Errorf("mkdir %s: %w", m.Target, err)
			if m.Optional {
				warn(err.Error())
				continue
			}
			errs = append(errs, err)
			continue
		}
		err := mt.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data)
		switch {
		case err == nil:
			done = append(done, m.Target)
		case errors.Is(err, unix.EBUSY):
		case m.Optional:
			warn(fmt.Sprintf("mount %s on %s: %v", m.FSType, m.Target, err))
		default:
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.FSType, m.Target, err))
		}
	}
	return done, errors.Join(errs...)
}

// UnmountAll unmounts targets in reverse order; a busy filesystem is
// detached lazily so the final reboot is never held up.
func UnmountAll(mt Mounter, targets []string, warn func(string)) {
	for i := len(targets) - 1; i >= 0; i-- {
		if err := mt.Unmount(targets[i], 0); err != nil {
			if err := mt.Unmount(targets[i], unix.MNT_DETACH); err != nil {
				warn(fmt.Sprintf("unmount %s: %v", targets[i], err))
			}
		}
	}
}
