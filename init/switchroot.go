package pid1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/blkid"
)

// A first-stage initramfs mounts the real root and hands over to its init.
const (
	sysroot = "/sysroot"
	// rootWait bounds how long init waits for the root device.
	rootWait = 30 * time.Second
	// defaultRootInit is the init of the new root when init= is not given.
	defaultRootInit = "/sbin/init"
	// rootModulesFile lists the modules the first stage loads before it
	// looks for the root device (virtio_blk, squashfs, …), one per line.
	rootModulesFile = "/etc/sysmaster/root-modules"
)

// movedMounts go over to the new root; what is mounted below them moves
// with them.
var movedMounts = proto.SwitchRootMounts

// RootSpec is root=, rootfstype=, rootflags= and init= from the kernel
// command line.
type RootSpec struct {
	Device, FSType, Flags, Init string
}

// switchRoot mounts the root the command line names and executes its init.
// It returns only on failure, with the reason; the initramfs is then left
// as it was and the boot goes on in it.
func (p *pid1) switchRoot(r RootSpec) error {
	if mods, err := os.ReadFile(rootModulesFile); err == nil {
		p.loadModules(strings.Fields(string(mods)))
	}
	dev, err := waitRootDevice(r.Device, rootWait)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(sysroot, 0o755); err != nil {
		return err
	}
	fstype := r.FSType
	if fstype == "" {
		if info, err := blkid.ProbeFile(dev); err == nil && info.Type != "" {
			fstype = info.Type
		}
	}
	flags := uintptr(0)
	if fstype == "squashfs" {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(dev, sysroot, fstype, flags, r.Flags); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", dev, fstype, sysroot, err)
	}
	init := r.Init
	if init == "" {
		init = defaultRootInit
	}
	if err := unix.Access(filepath.Join(sysroot, init), unix.X_OK); err != nil {
		_ = unix.Unmount(sysroot, 0)
		return fmt.Errorf("%s has no %s to run (%w)", dev, init, err)
	}
	for _, m := range movedMounts {
		if _, err := os.Stat(filepath.Join(sysroot, m)); err != nil {
			_ = unix.Unmount(sysroot, 0)
			return fmt.Errorf("%s has no %s to move %s to", dev, m, m)
		}
	}
	p.logf("switching root to %s (%s); executing %s", dev, fstype, init)
	return p.enterRoot(sysroot, init, dev)
}

// enterRoot moves /dev, /proc, /sys and /run to root, frees the initramfs,
// makes root / and executes init there, telling it where the root came
// from. It returns only on failure.
func (p *pid1) enterRoot(root, init, from string) error {
	for _, m := range movedMounts {
		if err := unix.Mount(m, filepath.Join(root, m), "", unix.MS_MOVE, ""); err != nil {
			// Past this point there is no way back: say so and try on.
			p.logf("warning: moving %s to the new root: %v", m, err)
		}
	}
	freeInitramfs()
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving %s to /: %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	_ = os.Chdir("/")
	env := append(os.Environ(), switchedEnv+"="+from)
	err := unix.Exec(init, []string{init}, env)
	return fmt.Errorf("exec %s: %w", init, err)
}

// switchTo is a switch of the root asked for at runtime, made once core
// has stopped every unit and exited.
type switchTo struct{ root, init string }

// requestSwitch takes core's SwitchRootMessage: init checks the request
// again and shuts down towards it.
func (p *pid1) requestSwitch(root, init string) {
	if p.user {
		p.logf("ignoring switch-root to %s: init --user has no root to switch", root)
		return
	}
	if p.shutdown != "" {
		p.logf("ignoring switch-root to %s: already shutting down for %s", root, p.shutdown)
		return
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err == nil {
		init, err = proto.CheckSwitchRoot(root, init, mi)
	}
	if err != nil {
		p.logf("refusing switch-root: %v", err)
		return
	}
	p.switching = &switchTo{root: root, init: init}
	p.beginShutdown("switch-root")
}

// finishSwitch ends what is left of the old root's processes and executes
// the new root's init. When that cannot be done, the system stays on the
// old root and core starts again.
func (p *pid1) finishSwitch() {
	s := p.switching
	p.logf("switch-root: sending SIGTERM to all processes")
	_ = unix.Kill(-1, unix.SIGTERM)
	if !p.waitAllGone(termGrace) {
		p.logf("switch-root: sending SIGKILL to all processes")
		_ = unix.Kill(-1, unix.SIGKILL)
		p.waitAllGone(termGrace)
	}
	unix.Sync()
	p.logf("switching root to %s; executing %s", s.root, s.init)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err == nil {
		_, err = proto.CheckSwitchRoot(s.root, s.init, mi)
	}
	if err == nil {
		if w := p.wd; w != nil && w.dev != nil && !w.gaveUp {
			// The descriptor closes at exec; the new init opens the
			// device again within one timeout.
			_ = w.dev.Keepalive()
		}
		err = p.enterRoot(s.root, s.init, s.root)
	}
	p.logf("switch-root to %s failed: %v; staying on this root", s.root, err)
	p.switching, p.shutdown = nil, ""
	p.startCore()
}

// switchedEnv tells the init of the new root that /dev, /proc, /sys and
// /run are mounted already.
const switchedEnv = "SYSMASTER_SWITCHED_ROOT"

func (p *pid1) loadModules(names []string) {
	if len(names) == 0 {
		return
	}
	pid, err := syscall.ForkExec("/sbin/modprobe", append([]string{"modprobe", "-a", "-q"}, names...), &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		p.logf("warning: loading the root's modules: %v", err)
		return
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err == nil && ws.ExitStatus() != 0 {
		p.logf("warning: modprobe -a %s: %s", strings.Join(names, " "), describe(ws))
	}
}

// waitRootDevice waits for a /dev path, or for a block device whose
// filesystem has the LABEL= or UUID= given.
func waitRootDevice(spec string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		dev, err := findDevice(spec)
		if err == nil {
			return dev, nil
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return "", fmt.Errorf("root device %s: %w (waited %s)", spec, err, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func findDevice(spec string) (string, error) {
	label, byLabel := strings.CutPrefix(spec, "LABEL=")
	uuid, byUUID := strings.CutPrefix(spec, "UUID=")
	if !byLabel && !byUUID {
		if !strings.HasPrefix(spec, "/dev/") {
			return "", fmt.Errorf("not a /dev path, LABEL= or UUID=")
		}
		_, err := os.Stat(spec)
		return spec, err
	}
	ents, _ := os.ReadDir("/sys/class/block")
	for _, e := range ents {
		dev := "/dev/" + e.Name()
		info, err := blkid.ProbeFile(dev)
		if err != nil {
			continue
		}
		if byLabel && info.Label == label || byUUID && strings.EqualFold(info.UUID, uuid) {
			return dev, nil
		}
	}
	return "", os.ErrNotExist
}

// freeInitramfs deletes the files of the initramfs (rootfs), whose memory
// is freed only that way, staying off other filesystems. A root that is
// not in memory (a runtime switch from a disk) is left alone.
func freeInitramfs() {
	var fs unix.Statfs_t
	if unix.Statfs("/", &fs) != nil || uint32(fs.Type) != unix.RAMFS_MAGIC && uint32(fs.Type) != unix.TMPFS_MAGIC {
		return
	}
	var root unix.Stat_t
	if unix.Lstat("/", &root) != nil {
		return
	}
	var walk func(dir string)
	walk = func(dir string) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || st.Dev != root.Dev {
				continue
			}
			if e.IsDir() {
				walk(p)
				_ = unix.Rmdir(p)
				continue
			}
			_ = unix.Unlink(p)
		}
	}
	walk("/")
}

// alreadyMounted splits the boot mount table into what still needs
// mounting and what a first-stage init mounted and moved here.
func alreadyMounted(table []Mount, mountinfo []byte) (todo []Mount, done []string) {
	have := map[string]bool{}
	for _, l := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			have[unescapeMountinfo(f[4])] = true
		}
	}
	for _, m := range table {
		if have[m.Target] {
			done = append(done, m.Target)
			continue
		}
		todo = append(todo, m)
	}
	return todo, done
}
