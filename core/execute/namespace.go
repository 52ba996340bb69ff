package execute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// mountKind is what one entry of the service's mount namespace does to its
// path. The order is the priority when two entries name the same path.
type mountKind int

const (
	mountReadWrite mountKind = iota
	mountReadOnly
	mountBind
	mountTmpfs
	mountDev
	mountProc
	mountExec
	mountNoExec
	mountInaccessible
)

type mountEntry struct {
	path     string
	kind     mountKind
	src      string // mountBind
	opts     string // mountTmpfs: mount data; mountProc: hidepid
	ro       bool   // mountBind, mountTmpfs
	rec      bool   // mountBind
	optional bool   // skip when path (or src) is missing
	implicit bool   // added by a Protect* setting: an explicit entry wins
}

// mountPlan lists the mounts the sandbox asks for, parents first.
func (sb *Sandbox) mountPlan() ([]mountEntry, error) {
	var es []mountEntry
	add := func(kind mountKind, implicit bool, paths ...string) {
		for _, p := range paths {
			e := mountEntry{kind: kind, implicit: implicit, optional: implicit}
			for len(p) > 0 && (p[0] == '-' || p[0] == '+') {
				if p[0] == '-' {
					e.optional = true
				}
				p = p[1:]
			}
			e.path = filepath.Clean(p)
			es = append(es, e)
		}
	}
	switch sb.ProtectSystem {
	case "yes":
		add(mountReadOnly, true, "/usr", "/boot", "/efi")
	case "full":
		add(mountReadOnly, true, "/usr", "/boot", "/efi", "/etc")
	case "strict":
		add(mountReadOnly, true, "/")
		add(mountReadWrite, true, "/dev", "/proc", "/sys")
		for _, d := range sb.Dirs {
			add(mountReadWrite, false, d.Path)
		}
	}
	switch sb.ProtectHome {
	case "yes":
		add(mountInaccessible, true, "/home", "/root", "/run/user")
	case "read-only":
		add(mountReadOnly, true, "/home", "/root", "/run/user")
	case "tmpfs":
		for _, p := range []string{"/home", "/root", "/run/user"} {
			es = append(es, mountEntry{path: p, kind: mountTmpfs, opts: "mode=0755", ro: true, optional: true, implicit: true})
		}
	}
	add(mountReadWrite, false, sb.ReadWrite...)
	add(mountReadOnly, false, sb.ReadOnly...)
	add(mountInaccessible, false, sb.Inaccessible...)
	for _, t := range sb.TempFS {
		p, opts, _ := strings.Cut(t, ":")
		e := mountEntry{path: filepath.Clean(p), kind: mountTmpfs, opts: "mode=0755"}
		var data []string
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "ro":
				e.ro = true
			case "rw":
				e.ro = false
			default:
				data = append(data, o)
			}
		}
		if len(data) > 0 {
			e.opts = strings.Join(data, ",")
			if !strings.Contains(e.opts, "mode=") {
				e.opts += ",mode=0755"
			}
		}
		es = append(es, e)
	}
	for _, b := range sb.Binds {
		es = append(es, mountEntry{path: filepath.Clean(b.Dst), kind: mountBind, src: b.Src, ro: b.ReadOnly, rec: b.Recursive, optional: b.Optional})
	}
	if sb.PrivateTmp != "" {
		es = append(es,
			mountEntry{path: "/tmp", kind: mountBind, src: filepath.Join(sb.PrivateTmp, "tmp"), rec: true},
			mountEntry{path: "/var/tmp", kind: mountBind, src: filepath.Join(sb.PrivateTmp, "var-tmp"), rec: true, optional: true})
	}
	if sb.PrivateDevices {
		es = append(es, mountEntry{path: "/dev", kind: mountDev})
	}
	if sb.KernelTunables {
		add(mountReadOnly, true, "/proc/sys", "/proc/sysrq-trigger", "/proc/latency_stats", "/proc/mtrr", "/proc/apm",
			"/proc/acpi", "/proc/timer_stats", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/sys")
		add(mountInaccessible, true, "/proc/kallsyms", "/proc/kcore")
	}
	if sb.KernelModules {
		add(mountInaccessible, true, "/usr/lib/modules", "/lib/modules")
	}
	if sb.KernelLogs {
		add(mountInaccessible, true, "/proc/kmsg", "/dev/kmsg")
	}
	if sb.ControlGroups {
		add(mountReadOnly, true, "/sys/fs/cgroup")
	}
	if sb.ProtectProc != "" || sb.ProcSubset != "" {
		var opts []string
		if sb.ProtectProc != "" {
			opts = append(opts, "hidepid="+sb.ProtectProc)
		}
		if sb.ProcSubset != "" {
			opts = append(opts, "subset="+sb.ProcSubset)
		}
		es = append(es, mountEntry{path: "/proc", kind: mountProc, opts: strings.Join(opts, ",")})
	}
	add(mountNoExec, false, sb.NoExecPaths...)
	add(mountExec, false, sb.ExecPaths...)
	for _, e := range es {
		if !filepath.IsAbs(e.path) {
			return nil, fmt.Errorf("%q is not an absolute path", e.path)
		}
	}
	// Parents first; at one path the explicit entry, then the strongest, wins.
	sort.SliceStable(es, func(i, j int) bool { return depth(es[i].path) < depth(es[j].path) })
	out := es[:0]
	for _, e := range es {
		dup := -1
		for i := range out {
			if out[i].path == e.path {
				dup = i
			}
		}
		switch {
		case dup < 0:
			out = append(out, e)
		case out[dup].implicit && !e.implicit, out[dup].implicit == e.implicit && e.kind > out[dup].kind:
			out[dup] = e
		}
	}
	return out, nil
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// setupMounts makes the helper's own mount namespace and applies the plan.
// It runs on the helper's locked thread: unshare(CLONE_NEWNS) acts on the
// calling thread, and execve keeps it.
func (sb *Sandbox) setupMounts() error {
	plan, err := sb.mountPlan()
	if err != nil {
		return err
	}
	if sb.PrivateTmp != "" {
		if err := privateTmpDirs(sb.PrivateTmp); err != nil {
			return err
		}
	}
	if err := stageNodes(sb.Stage); err != nil {
		return err
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Nothing mounted here may reach the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	for _, e := range plan {
		if err := sb.mountOne(e); err != nil {
			if e.optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("%s: %w", e.path, err)
		}
	}
	return nil
}

func (sb *Sandbox) mountOne(e mountEntry) error {
	fi, err := os.Stat(e.path)
	if err != nil {
		return err
	}
	switch e.kind {
	case mountReadOnly, mountReadWrite:
		if err := unix.Mount(e.path, e.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind onto itself: %w", err)
		}
		return setReadOnly(e.path, e.kind == mountReadOnly, true)
	case mountExec, mountNoExec:
		if err := unix.Mount(e.path, e.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind onto itself: %w", err)
		}
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOEXEC}
		if e.kind == mountExec {
			attr = &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_NOEXEC}
		}
		if err := unix.MountSetattr(unix.AT_FDCWD, e.path, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("set noexec: %w", err)
		}
		return nil
	case mountInaccessible:
		src := filepath.Join(sb.Stage, "inaccessible", "reg")
		if fi.IsDir() {
			src = filepath.Join(sb.Stage, "inaccessible", "dir")
		}
		if err := unix.Mount(src, e.path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("hide: %w", err)
		}
		return setReadOnly(e.path, true, false)
	case mountTmpfs:
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if e.ro {
			flags |= unix.MS_RDONLY
		}
		if err := unix.Mount("tmpfs", e.path, "tmpfs", flags, e.opts); err != nil {
			return fmt.Errorf("mount tmpfs (%s): %w", e.opts, err)
		}
		return nil
	case mountBind:
		if _, err := os.Stat(e.src); err != nil {
			return err
		}
		flags := uintptr(unix.MS_BIND)
		if e.rec {
			flags |= unix.MS_REC
		}
		if err := unix.Mount(e.src, e.path, "", flags, ""); err != nil {
			return fmt.Errorf("bind %s: %w", e.src, err)
		}
		return setReadOnly(e.path, e.ro, e.rec)
	case mountDev:
		return sb.privateDev()
	case mountProc:
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, e.opts); err != nil {
			return fmt.Errorf("mount proc (%s): %w", e.opts, err)
		}
		return nil
	}
	return fmt.Errorf("unknown mount kind %d", e.kind)
}

// setReadOnly sets or clears the read-only flag of the mount at path (and,
// with rec, of every mount below it).
func setReadOnly(path string, ro, rec bool) error {
	attr := &unix.MountAttr{}
	if ro {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	} else {
		attr.Attr_clr = unix.MOUNT_ATTR_RDONLY
	}
	flags := uint(0)
	if rec {
		flags = unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(unix.AT_FDCWD, path, flags, attr)
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.12: the top mount only.
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil {
			return err
		}
		keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
		f := unix.MS_BIND | unix.MS_REMOUNT | keep
		if ro {
			f |= unix.MS_RDONLY
		}
		err = unix.Mount("", path, "", f, "")
	}
	if err != nil {
		return fmt.Errorf("make mount read-only=%v: %w", ro, err)
	}
	return nil
}

// privateTmpDirs makes DIR/tmp and DIR/var-tmp, shared by all the unit's
// processes until it stops.
func privateTmpDirs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("PrivateTmp: %w", err)
	}
	for _, d := range []string{"tmp", "var-tmp"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o1777); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("PrivateTmp: %w", err)
		}
		if err := os.Chmod(p, 0o1777|os.ModeSticky); err != nil {
			return fmt.Errorf("PrivateTmp: %w", err)
		}
	}
	return nil
}

// stageNodes makes the nodes bound over inaccessible paths (an empty
// directory and an empty file, both mode 0) and the mount point where a
// private /dev is built.
func stageNodes(stage string) error {
	if stage == "" {
		return errors.New("no directory for the sandbox's nodes")
	}
	in := filepath.Join(stage, "inaccessible")
	if err := os.MkdirAll(filepath.Join(in, "dir"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(stage, "dev"), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(in, "reg"), os.O_CREATE|os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{filepath.Join(in, "dir"), filepath.Join(in, "reg")} {
		if err := os.Chmod(p, 0); err != nil {
			return err
		}
	}
	return nil
}

// privateDev builds a minimal /dev (null, zero, full, random, urandom,
// tty, a new devpts and shm) on a tmpfs and moves it over /dev.
func (sb *Sandbox) privateDev() error {
	stage := filepath.Join(sb.Stage, "dev")
	if err := unix.Mount("tmpfs", stage, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs for /dev: %w", err)
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		dst := filepath.Join(stage, n)
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+n, dst, "", unix.MS_BIND, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				os.Remove(dst)
				continue
			}
			return fmt.Errorf("bind /dev/%s: %w", n, err)
		}
		if err := setReadOnly(dst, false, false); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(stage, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(stage, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err == nil {
		if err := os.Symlink("pts/ptmx", filepath.Join(stage, "ptmx")); err != nil {
			return err
		}
	}
	if err := unix.Mount("tmpfs", filepath.Join(stage, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=01777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(stage, name)); err != nil {
			return err
		}
	}
	if err := unix.Mount(stage, "/dev", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move private /dev into place: %w", err)
	}
	return nil
}

// privateNetwork gives the helper a network namespace with only a
// loopback interface, and brings that up.
func privateNetwork() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
