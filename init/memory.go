package pid1

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/init/pages"
	"github.com/sysmaster-go/sysmaster/init/sysmon"
)

// memoryLimit is how much memory init's runtime may hold before its
// collector runs (quietHeap): about 3 MiB is in use once the mounts are
// done (2.9 MiB measured on qemu-x86_64, 2.4 MiB on qemu-armv7), so
// init's memory may grow by some 5 MiB first.
const memoryLimit = 8 << 20

// lean keeps init's share of the smbox binary to the pages it runs, once
// /proc is there (init starts before it is mounted), and again once the
// boot is behind it; and keeps its collector quiet.
func (p *pid1) lean() {
	_ = sysmon.Quiet(sysmon.Slack)
	quietHeap()
	pages.Trim()
	pages.TrimLater()
}

// quietHeap turns init's collector off but for a soft memory limit,
// memoryLimit. Init's heap is small and nearly constant (the ~250 kB its
// boot allocates, most of it package state that stays), so a collection
// frees next to nothing; yet each one, the forced one every two minutes
// included, walks the goroutine stacks through the function tables and
// moves every span between the collector's sets: it maps again the pages
// Trim dropped and grows the collector's metadata by some hundred kB. The
// idle loop allocates next to nothing (ping), so the limit is reached
// rarely, and then it collects as usual.
//
// The limit is a constant rather than a margin above what init uses now:
// runtime.ReadMemStats would flush every span cached for allocation back
// to the central lists (some hundred kB of metadata that stays), and
// linking runtime/metrics into smbox costs every applet's start its
// package initialisation (15 ms by instruction count under emulation).
func quietHeap() {
	debug.SetMemoryLimit(memoryLimit)
	debug.SetGCPercent(-1)
}

// defaultFaultAround is the fault_around_bytes init sets unless
// sysmaster.fault_around= says otherwise (65536 is the kernel's own).
const defaultFaultAround = 4096

// faultAround sets the kernel's fault_around_bytes: how much a page fault
// on a file mapping maps besides the page it needs, 64 kB by default.
// Fault-around never reads a disk (it maps pages already cached) and only
// saves minor faults; but it makes every process map most of the smbox
// binary although each runs a small part of it (on an initramfs the pages
// are in memory anyway), and the kernel protects mapped pages from reclaim.
// At 4096 a process maps the pages it touches, as Android's init sets it
// on small devices. The knob is in debugfs, mounted for the write and
// unmounted again; a kernel without debugfs keeps its default, and only a
// value asked for on the command line is worth a warning then.
func (p *pid1) faultAround(asked int) {
	n := asked
	if n == 0 {
		n = defaultFaultAround
	}
	const dir, file = "/sys/kernel/debug", "/sys/kernel/debug/fault_around_bytes"
	err := unix.Mount("debugfs", dir, "debugfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	mounted := err == nil
	if errors.Is(err, unix.EBUSY) {
		err = nil // mounted already
	}
	if err == nil {
		err = os.WriteFile(file, []byte(strconv.Itoa(n)), 0)
		if mounted {
			_ = unix.Unmount(dir, 0)
		}
	}
	if err != nil && asked != 0 {
		p.logf("warning: sysmaster.fault_around=%d: %v; the kernel's fault-around stays", n, fmt.Errorf("%s: %w", file, err))
	}
}
