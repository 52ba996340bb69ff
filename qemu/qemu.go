// Package qemu boots a kernel and initramfs for a board under qemu-system,
// reads the serial console and asserts on it, expect style.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
)

var (
	// ErrNoKernel means the board's kernel has not been fetched into the cache.
	ErrNoKernel = errors.New("kernel not found")
	// ErrNoBusybox means busybox for an architecture has not been fetched.
	ErrNoBusybox = errors.New("busybox not found")
	// ErrPanic means the console showed a kernel panic.
	ErrPanic = errors.New("kernel panic")
	// ErrTimeout means the console did not show what was expected in time,
	// or QEMU did not exit in time.
	ErrTimeout = errors.New("timeout")
	// ErrExited means QEMU exited before the console showed what was expected.
	ErrExited = errors.New("qemu exited")
)

// CacheDir returns $SYSMASTER_CACHE, or .cache in the module root: the
// nearest folder above the working directory that holds go.mod.
func CacheDir() (string, error) {
	if dir := os.Getenv("SYSMASTER_CACHE"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("cache dir %q: %w", dir, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("cache dir: no go.mod above %s (set SYSMASTER_CACHE)", wd)
		}
	}
}

// KernelPath finds the kernel that scripts/fetch-kernel unpacked for b:
// cacheDir/kernel/NAME/boot/<b.Kernel.File>. When the pattern matches more
// than one file the highest version wins.
func KernelPath(cacheDir string, b *board.Board) (string, error) {
	file := b.Kernel.File
	if file == "" {
		file = "vmlinuz-*"
	}
	dir := filepath.Join(cacheDir, "kernel", b.Name, "boot")
	p, err := newest(filepath.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("kernel for board %s: %w", b.Name, err)
	}
	if p == "" {
		return "", fmt.Errorf("kernel for board %s not found in %s: run scripts/fetch-kernel %s: %w",
			b.Name, dir, b.FetchRef(), ErrNoKernel)
	}
	return p, nil
}

// BusyboxPath finds the static busybox that scripts/fetch-busybox unpacked
// for a Debian architecture: cacheDir/busybox/ARCH/busybox.
func BusyboxPath(cacheDir, debianArch string) (string, error) {
	p := filepath.Join(cacheDir, "busybox", debianArch, "busybox")
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("busybox for %s not found in %s: run scripts/fetch-busybox %s: %w",
			debianArch, filepath.Dir(p), debianArch, ErrNoBusybox)
	case err != nil:
		return "", fmt.Errorf("busybox for %s: %w", debianArch, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("busybox for %s: %s is not a regular file: %w", debianArch, p, ErrNoBusybox)
	}
	return p, nil
}

// newest returns the match of pattern with the highest version, or "".
func newest(pattern string) (string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", fmt.Errorf("pattern %q: %w", pattern, err)
	}
	if len(matches) == 0 {
		return "", nil
	}
	sort.Slice(matches, func(i, j int) bool { return versionLess(matches[i], matches[j]) })
	return matches[len(matches)-1], nil
}

// versionLess compares strings with runs of digits taken as numbers, so that
// vmlinuz-6.1.0-9 sorts before vmlinuz-6.1.0-56.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// Args returns the qemu-system arguments that boot kernel and initrd on b
// with the serial console on stdio. extraCmdline is appended to the board's
// kernel command line. Emulation is TCG unless SYSMASTER_KVM=1: /dev/kvm may
// exist where it cannot run a stock kernel, so KVM is never picked on its own.
func Args(b *board.Board, kernel, initrd, extraCmdline string) []string {
	return args(b, kernel, initrd, extraCmdline, "stdio")
}

func args(b *board.Board, kernel, initrd, extraCmdline, serial string) []string {
	a := append(machineArgs(b, serial), "-kernel", kernel)
	if initrd != "" {
		a = append(a, "-initrd", initrd)
	}
	cmdline := strings.TrimSpace(strings.Join([]string{b.Cmdline, extraCmdline}, " "))
	if cmdline != "" {
		a = append(a, "-append", cmdline)
	}
	return append(a, b.QEMU.Args...)
}

// machineArgs are the arguments for b's machine, CPU and memory, with the
// serial console on serial (a QEMU chardev such as "stdio").
func machineArgs(b *board.Board, serial string) []string {
	var a []string
	if b.QEMU.Machine != "" {
		a = append(a, "-M", b.QEMU.Machine)
	}
	if b.QEMU.CPU != "" {
		a = append(a, "-cpu", b.QEMU.CPU)
	}
	mem := b.QEMU.Memory
	if mem == "" {
		mem = "512M"
	}
	accel := "tcg"
	if os.Getenv("SYSMASTER_KVM") == "1" {
		accel = "kvm"
	}
	a = append(a,
		"-m", mem,
		"-smp", fmt.Sprint(max(b.QEMU.SMP, 1)),
		"-accel", accel,
		"-display", "none",
		"-nodefaults",
		"-no-reboot",
	)
	for range b.QEMU.Serial {
		a = append(a, "-serial", "null")
	}
	return append(a, "-serial", serial)
}

// Firmware boots a bootloader that finds the kernel on a disk image, as
// on a board, instead of QEMU loading kernel and initramfs itself.
type Firmware struct {
	// BIOS is the bootloader QEMU runs first (-bios): U-Boot for the virt
	// machines.
	BIOS string
	// Kernel is a bootloader QEMU loads as a kernel (-kernel), the way a
	// Raspberry Pi's firmware does; DTB is the device tree it is given.
	Kernel, DTB string
	// Disk is a raw disk image attached as a virtio disk; SD one attached
	// as the SD card.
	Disk, SD string
}

// FirmwareArgs returns the qemu-system arguments that boot fw on b with
// the serial console on stdio.
func FirmwareArgs(b *board.Board, fw Firmware) []string {
	return firmwareArgs(b, fw, "stdio")
}

func firmwareArgs(b *board.Board, fw Firmware, serial string) []string {
	a := machineArgs(b, serial)
	if fw.BIOS != "" {
		a = append(a, "-bios", fw.BIOS)
	}
	if fw.Kernel != "" {
		a = append(a, "-kernel", fw.Kernel)
	}
	if fw.DTB != "" {
		a = append(a, "-dtb", fw.DTB)
	}
	// snapshot=on: the guest's writes never reach the image.
	if fw.Disk != "" {
		a = append(a, "-drive", "if=none,format=raw,snapshot=on,id=disk0,file="+fw.Disk,
			"-device", "virtio-blk-pci,drive=disk0")
	}
	if fw.SD != "" {
		a = append(a, "-drive", "if=sd,format=raw,snapshot=on,file="+fw.SD)
	}
	return append(a, b.QEMU.Args...)
}

// DumpDeviceTree returns the device tree QEMU generates for b's machine
// with its CPU, memory and devices (-machine dumpdtb) when it runs fw:
// what a bootloader on that machine finds, for the boards whose device
// tree QEMU makes. The firmware matters: virt leaves its GPIO controller
// out of the tree when it runs one (-bios).
func DumpDeviceTree(ctx context.Context, b *board.Board, fw Firmware) ([]byte, error) {
	bin, err := exec.LookPath(b.QEMU.Binary)
	if err != nil {
		return nil, fmt.Errorf("qemu: board %s: %w (run scripts/setup)", b.Name, err)
	}
	dir, err := os.MkdirTemp("", "qdtb")
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "machine.dtb")
	a := append(firmwareArgs(b, fw, "none"), "-machine", "dumpdtb="+out)
	cmd := exec.CommandContext(ctx, bin, a...)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("qemu: board %s: dumping the device tree: %w: %s", b.Name, err, strings.TrimSpace(string(msg)))
	}
	dtb, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("qemu: board %s: dumping the device tree: %w", b.Name, err)
	}
	return dtb, nil
}

// DeviceTreeDir is where scripts/fetch-kernel unpacked the device trees of
// b's kernel package: cacheDir/kernel/NAME/dtbs.
func DeviceTreeDir(cacheDir string, b *board.Board) string {
	return filepath.Join(cacheDir, "kernel", b.Name, "dtbs")
}

// ErrNoUBoot means the board's U-Boot build is neither installed nor in
// the cache.
var ErrNoUBoot = errors.New("U-Boot not found")

// UBootFirmware says how QEMU starts b's U-Boot (boot.uboot) with disk:
// as the machine's firmware with a virtio disk, or, for boot.uboot_sd, as
// a kernel with the board's first device tree and the disk as SD card.
// U-Boot comes from Debian's u-boot-qemu (/usr/lib/u-boot/NAME) or from
// u-boot-rpi unpacked into the cache (cacheDir/u-boot/NAME) by
// scripts/setup.
func UBootFirmware(cacheDir string, b *board.Board, disk string) (Firmware, error) {
	name := b.Boot.UBoot
	if name == "" {
		return Firmware{}, fmt.Errorf("board %s boots under QEMU without U-Boot (no boot.uboot): %w", b.Name, ErrNoUBoot)
	}
	var bin string
	for _, p := range []string{
		filepath.Join("/usr/lib/u-boot", name, "u-boot.bin"),
		filepath.Join(cacheDir, "u-boot", name, "u-boot.bin"),
	} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return Firmware{}, fmt.Errorf("U-Boot %s for board %s: neither /usr/lib/u-boot/%s nor %s/u-boot/%s has u-boot.bin (run scripts/setup %s): %w",
			name, b.Name, name, cacheDir, name, b.FetchRef(), ErrNoUBoot)
	}
	if !b.Boot.UBootSD {
		return Firmware{BIOS: bin, Disk: disk}, nil
	}
	if len(b.Boot.DeviceTrees) == 0 {
		return Firmware{}, fmt.Errorf("board %s: boot.uboot_sd needs boot.devicetrees", b.Name)
	}
	dtb := filepath.Join(DeviceTreeDir(cacheDir, b), filepath.FromSlash(b.Boot.DeviceTrees[0]))
	if _, err := os.Stat(dtb); err != nil {
		return Firmware{}, fmt.Errorf("board %s: device tree: %w (run scripts/fetch-kernel %s)", b.Name, err, b.FetchRef())
	}
	return Firmware{Kernel: bin, DTB: dtb, SD: disk}, nil
}
