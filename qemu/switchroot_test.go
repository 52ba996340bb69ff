package qemu_test

import (
	"context"
	"errors"
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
	cache, err := qemu.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	kernel, kerr := qemu.KernelPath(cache, b)
	busybox, berr := qemu.BusyboxPath(cache, b.DebianArch)
	mods, merr := image.KernelModulesDir(cache, b)
	_, qerr := exec.LookPath(b.QEMU.Binary)
	if err := errors.Join(kerr, berr, merr, qerr); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the boot test cannot run: %v", err)
		}
		t.Skipf("cannot boot %s: %v (run scripts/setup)", boardName, err)
	}
	root, err := image.FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	opts := []image.Option{
		image.WithKernelModules(mods),
		image.WithCompression(image.Gzip),
		image.WithUnits(filepath.Join(root, "units")),
		image.WithBusybox(busybox),
	}
	for name, body := range testUnits {
		opts = append(opts, image.WithFile("/etc/sysmaster/units/"+name, []byte(body), 0o644))
	}
	dir := t.TempDir()
	initrd, sqfs := filepath.Join(dir, "initramfs.cpio.gz"), filepath.Join(dir, "root.squashfs")
	res, err := image.BuildRoot(context.Background(), b, initrd, sqfs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first stage %d bytes, root %d bytes", res.Initramfs.CompressedBytes, res.RootBytes)
	vm, err := qemu.Start(context.Background(), qemu.Options{
		Board: b, Kernel: kernel, Initrd: initrd, Cmdline: cmdline,
		Args:    []string{"-drive", "file=" + sqfs + ",if=none,format=raw,readonly=on,id=root0", "-device", "virtio-blk-pci,drive=root0"},
		Timeout: 5 * time.Minute,
		Log:     func(l string) { t.Log(l) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return &guest{t: t, vm: vm}
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
