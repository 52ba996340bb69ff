package qemu_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// bootSplit builds the test image as a squashfs root and a first-stage
// initramfs, and boots them with the root on a virtio disk.
func bootSplit(t *testing.T, boardName, cmdline string) *guest {
	t.Helper()
	b, kernel, initrd, sqfs := buildSplit(t, boardName, nil)
	vm, err := qemu.Start(context.Background(), qemu.Options{
		Board: b, Kernel: kernel, Initrd: initrd, Cmdline: cmdline,
		Args:    rootDiskArgs(sqfs),
		Timeout: 5 * time.Minute,
		Log:     func(l string) { t.Log(l) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return &guest{t: t, vm: vm}
}

// rootDiskArgs attach a squashfs root as the first virtio disk.
func rootDiskArgs(sqfs string) []string {
	return []string{"-drive", "file=" + sqfs + ",if=none,format=raw,readonly=on,id=root0", "-device", "virtio-blk-pci,drive=root0"}
}

// buildSplit builds the test image, with files added, as a first stage
// and a squashfs root.
func buildSplit(t *testing.T, boardName string, files map[string]string) (b *board.Board, kernel, initrd, sqfs string) {
	t.Helper()
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and mksquashfs is missing: %v", err)
		}
		t.Skipf("mksquashfs: %v (run scripts/setup)", err)
	}
	b, err := board.Load(boardName)
	if err != nil {
		t.Fatal(err)
	}
	in := bootInputs(t, b)
	kernel = in.kernel
	opts := []image.Option{
		image.WithKernelModules(in.modules),
		image.WithCompression(image.Gzip),
		image.WithUnits(filepath.Join(in.root, "units")),
		image.WithBusybox(in.busybox),
	}
	for name, body := range testUnits {
		opts = append(opts, image.WithFile("/etc/sysmaster/units/"+name, []byte(body), 0o644))
	}
	for p, body := range files {
		opts = append(opts, image.WithFile(p, []byte(body), 0o644))
	}
	dir := t.TempDir()
	initrd, sqfs = filepath.Join(dir, "initramfs.cpio.gz"), filepath.Join(dir, "root.squashfs")
	res, err := image.BuildRoot(context.Background(), b, initrd, sqfs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first stage %d bytes, root %d bytes", res.Initramfs.CompressedBytes, res.RootBytes)
	return b, kernel, initrd, sqfs
}

// TestSwitchRoot boots a first-stage initramfs that mounts a squashfs root
// from a virtio disk and executes its init; the services of the new root
// run. A root without the init asked for leaves the boot in the
// initramfs, with the reason and without a kernel panic.
func TestSwitchRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Run("squashfs", func(t *testing.T) {
		t.Parallel()
		g := bootSplit(t, "qemu-aarch64", "root=/dev/vda rootfstype=squashfs")
		g.booted()
		seen(t, g, "init: switching root to /dev/vda (squashfs); executing /sbin/init", time.Minute)
		seen(t, g, "init: running on the root from /dev/vda", time.Minute)
		g.run("grep -q '^/dev/vda / squashfs ro' /proc/mounts && [ ! -e /sysroot ] && [ $(cat /proc/1/cmdline | tr '\\0' ' ') = /sbin/init ] && echo NEW-ROOT-$((4+5))")
		g.expect("NEW-ROOT-9", time.Minute)
		// The read-only root gets a machine id all the same.
		g.run("until sctl is-active default.target >/dev/null; do sleep 0.2; done; sctl is-active identity.service && [ $(wc -c < /etc/machine-id) = 33 ] && echo MACHINE-ID-$((5+5))")
		g.expect("MACHINE-ID-10", time.Minute)
		g.poweroff("poweroff")
	})
	t.Run("no-init", func(t *testing.T) {
		t.Parallel()
		g := bootSplit(t, "qemu-aarch64", "root=/dev/vda init=/sbin/missing")
		g.expectRE(`init: cannot switch to the root on /dev/vda: /dev/vda has no /sbin/missing to run \(.*\); staying in the initramfs`, 3*time.Minute)
		// The first stage has no core: init says so and powers off.
		g.expect("core cannot run; sysmaster.on_failure=poweroff", time.Minute)
		g.expect("reboot: Power down", time.Minute)
		if err := g.vm.Wait(time.Minute); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSwitchRootAtRuntime boots the standard image from its initramfs,
// mounts a squashfs root by hand and switches to it with sctl switch-root:
// requests that cannot succeed are refused before anything stops; a good
// one stops every unit, and the new root's init and services run.
func TestSwitchRootAtRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	// A unit only the new root has.
	_, _, _, sqfs := buildSplit(t, "qemu-aarch64", map[string]string{
		"/etc/sysmaster/units/newroot.service.toml": `[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'echo NEWROOT-$((50+5))'"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
	})
	g := boot(t, "qemu-aarch64", image.Gzip, bootConfig{
		modules: []string{"virtio_pci", "virtio_blk", "squashfs"},
		args:    rootDiskArgs(sqfs),
	})
	g.booted()
	g.run("modprobe -a virtio_pci virtio_blk squashfs; until [ -b /dev/vda ]; do sleep 0.2; done; " +
		"mkdir -p /newroot /notmounted && mount -t squashfs -o ro /dev/vda /newroot && echo MOUNTED-$((3+4))")
	g.expect("MOUNTED-7", time.Minute)

	// Refused, with the reason, and nothing stops.
	g.run("sctl switch-root /notmounted; echo RC-$?")
	g.expect("sctl: switch-root: new root /notmounted is not a mount point", time.Minute)
	g.expect("RC-1", time.Minute)
	g.run("sctl switch-root /newroot /sbin/missing; echo RC-$?")
	g.expectRE(`sctl: switch-root: new root /newroot: init /sbin/missing: .*no such file or directory`, time.Minute)
	g.expect("RC-1", time.Minute)
	g.run("sctl is-active sleeper.service default.target >/dev/null && [ ! -e /etc/sysmaster/units/newroot.service.toml ] && echo STILL-UP-$((2*3))")
	g.expect("STILL-UP-6", time.Minute)

	// The shell's sctl is stopped with the shell: its answer may not show.
	g.run("sctl switch-root /newroot")
	g.expect("sysmaster: stopping all units for switch-root", time.Minute)
	g.expect("SLEEPER-STOPPED", time.Minute)
	g.expect("init: switching root to /newroot; executing /sbin/init", time.Minute)
	g.expect("init: running on the root from /newroot", time.Minute)
	g.expect("sysmaster: core started", time.Minute)
	g.run("echo SHELL-$((40+3))")
	g.expect("SHELL-43", time.Minute)
	g.run("until sctl is-active default.target >/dev/null; do sleep 0.2; done; " +
		"sctl log newroot.service | grep -q NEWROOT-55 && grep -q '^/dev/vda / squashfs ro' /proc/mounts && [ ! -e /newroot ] && " +
		"sctl is-active sleeper.service >/dev/null && echo SWITCHED-$((4+5))")
	g.expect("SWITCHED-9", time.Minute)
	g.poweroff("poweroff")
}
