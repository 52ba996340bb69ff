package execute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute/seccomp"
)

// beforeIDs is the part of the sandbox that needs the manager's
// privileges: it runs before the helper switches to the service's user.
func (sb *Sandbox) beforeIDs(uid, gid *uint32) error {
	if sb.OOMScoreAdjust != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*sb.OOMScoreAdjust)), 0); err != nil {
			return &exitError{ExitOOMAdjust, fmt.Errorf("OOMScoreAdjust=%d: %w", *sb.OOMScoreAdjust, err)}
		}
	}
	if sb.SchedPolicy != nil {
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: uint32(*sb.SchedPolicy), Priority: uint32(sb.SchedPriority)}
		if n, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil {
			attr.Nice = int32(20 - n) // the raw system call returns 20-nice
		}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			return &exitError{ExitSetScheduler, fmt.Errorf("CPUSchedulingPolicy: %w", err)}
		}
	}
	if sb.IOPriority != nil {
		const ioprioWhoProcess = 1
		if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(*sb.IOPriority)); e != 0 {
			return &exitError{ExitIOPrio, fmt.Errorf("IOSchedulingClass: %w", e)}
		}
	}
	for _, d := range sb.Dirs {
		if err := makeDir(d, uid, gid); err != nil {
			return &exitError{d.Exit, err}
		}
	}
	if sb.ProtectHostname {
		if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
			return &exitError{ExitNamespace, fmt.Errorf("ProtectHostname: %w", err)}
		}
	}
	if sb.PrivateNetwork {
		if err := privateNetwork(); err != nil {
			return &exitError{ExitNetwork, fmt.Errorf("PrivateNetwork: %w", err)}
		}
	}
	if sb.needsNamespace() {
		if err := sb.setupMounts(); err != nil {
			return &exitError{ExitNamespace, fmt.Errorf("mount namespace: %w", err)}
		}
	}
	if sb.SecureBits != 0 {
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(sb.SecureBits), 0, 0, 0); err != nil {
			return &exitError{ExitSecureBits, fmt.Errorf("SecureBits: %w", err)}
		}
	}
	if sb.OwnUserNS {
		// Root of its own namespace only to build it: the service gets
		// no capabilities from it.
		none := uint64(0)
		sb.BoundingSet, sb.BoundingImplied = &none, false
	}
	if sb.BoundingSet != nil && !(sb.BoundingImplied && !hasEffective(capSetpcap)) {
		for c := 0; c < 64; c++ {
			if *sb.BoundingSet&(1<<c) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				return &exitError{ExitCapabilities, fmt.Errorf("CapabilityBoundingSet: drop %d: %w", c, err)}
			}
		}
	}
	if sb.Ambient != 0 && uid != nil {
		// Keep the permitted set across setuid, so the ambient set can be
		// raised from it afterwards.
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return &exitError{ExitCapabilities, fmt.Errorf("AmbientCapabilities: keep caps: %w", err)}
		}
	}
	return nil
}

// afterIDs raises the ambient capabilities and loads the seccomp filter:
// the last steps before exec.
func (sb *Sandbox) afterIDs() error {
	if sb.Ambient != 0 {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return &exitError{ExitCapabilities, fmt.Errorf("capget: %w", err)}
		}
		data[0].Inheritable |= uint32(sb.Ambient)
		data[1].Inheritable |= uint32(sb.Ambient >> 32)
		data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return &exitError{ExitCapabilities, fmt.Errorf("AmbientCapabilities: capset: %w", err)}
		}
		for c := 0; c < 64; c++ {
			if sb.Ambient&(1<<c) == 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return &exitError{ExitCapabilities, fmt.Errorf("AmbientCapabilities: raise %d: %w", c, err)}
			}
		}
	}
	needNNP := sb.NoNewPrivileges
	var filter *seccomp.Filter
	if sb.Seccomp != nil {
		f, err := seccomp.Compile(*sb.Seccomp)
		if err != nil {
			return &exitError{ExitSeccomp, err}
		}
		filter = f
		// Without CAP_SYS_ADMIN the kernel only takes a filter under
		// no_new_privs, as systemd implies NoNewPrivileges= then.
		needNNP = needNNP || !hasEffective(21)
	}
	if needNNP {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return &exitError{ExitNoNewPrivileges, fmt.Errorf("NoNewPrivileges: %w", err)}
		}
	}
	if filter != nil {
		if err := filter.Load(); err != nil {
			return &exitError{ExitSeccomp, err}
		}
	}
	return nil
}

const capSetpcap = 8

// hasEffective reports whether capability c is in the effective set.
func hasEffective(c uint) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// makeDir creates one RuntimeDirectory= (or friend) with its parents, sets
// its mode and gives it to the service's user, as systemd does each start.
func makeDir(d Dir, uid, gid *uint32) error {
	if err := os.MkdirAll(filepath.Dir(d.Path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d.Path, err)
	}
	if err := os.Mkdir(d.Path, os.FileMode(d.Mode&0o777)); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", d.Path, err)
	}
	fi, err := os.Lstat(d.Path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", d.Path)
	}
	if err := unix.Chmod(d.Path, d.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	if d.Owned && (uid != nil || gid != nil) {
		u, g := -1, -1
		if uid != nil {
			u = int(*uid)
		}
		if gid != nil {
			g = int(*gid)
		}
		if err := os.Lchown(d.Path, u, g); err != nil {
			return fmt.Errorf("chown %s: %w", d.Path, err)
		}
	}
	return nil
}
