// Package pages keeps a process's share of its own binary small. smbox is
// one binary for every applet; on an initramfs its file pages are all in
// memory, and the kernel's fault-around maps up to 16 neighbouring pages
// on every fault, so a process soon maps most of its text and read-only
// data although it runs a small part of them. Trim turns fault-around off
// for those mappings and drops what was mapped so far: from then on a
// process maps only the pages it touches.
package pages

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// SettleTime is how long after its start a long-running applet trims
// again: by then the pages only its start-up used (decoding units, rules,
// the module index) are behind it.
const SettleTime = 10 * time.Second

// TrimLater trims again once the process has settled, and after every
// collection from then on; a short-lived applet is gone before.
func TrimLater() {
	time.AfterFunc(SettleTime, func() {
		Trim()
		trimAfterCollection(Trim, SettleTime)
	})
}

// FreeLater, once the process has settled, collects and hands every free
// page of the heap back to the kernel, then trims. A daemon's start-up
// (units, rules, the module index) leaves megabytes of garbage that the
// collector's 4 MB minimum goal would otherwise keep mapped for good: the
// first collection comes late and the scavenger keeps what is below the
// goal.
func FreeLater() {
	time.AfterFunc(SettleTime, func() {
		debug.FreeOSMemory()
		Trim()
		trimAfterCollection(Trim, SettleTime)
	})
}

// trimAfterCollection trims once the next collection has run, and so on
// after each one: a collection walks the goroutine stacks through the
// function tables and reads the types of what it marks, which maps
// megabytes of read-only data again that the process does not otherwise
// touch. The cleanup of an object nothing refers to runs after the
// collection that found it unreachable. Under load collections come
// often; a trim then waits until gap has passed since the last.
func trimAfterCollection(trim func(), gap time.Duration) {
	var last time.Time
	var arm func()
	arm = func() {
		runtime.AddCleanup(new(sentinel), func(struct{}) {
			if last.IsZero() || time.Since(last) >= gap {
				trim()
				last = time.Now()
			}
			arm()
		}, struct{}{})
	}
	arm()
}

// sentinel is big enough not to share a tiny-allocator block, whose
// cleanup would wait for its neighbours.
type sentinel [16]byte

// Trim applies to the calling process. It needs /proc; without it, or on
// any error, it does nothing (this only saves memory).
func Trim() {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, r := range readOnlyImage(maps) {
		// Random access: no read-ahead for this range (and no fault-around
		// where the kernel honours it for that).
		if madvise(r, unix.MADV_RANDOM) != nil {
			continue
		}
		// The pages are clean copies of the file: dropping the mappings
		// loses nothing, a later access maps the one page again.
		_ = madvise(r, unix.MADV_DONTNEED)
	}
}

// madvise takes addresses that are not Go memory, which unix.Madvise's
// []byte cannot carry without unsafe conversions from uintptr.
func madvise(r span, advice int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, uintptr(advice)); errno != 0 {
		return errno
	}
	return nil
}

type span struct{ start, end uintptr }

// readOnlyImage picks the read-only, private, file-backed mappings of the
// executable (the first file mapped) from /proc/self/maps: its text and
// read-only data, never its writable data.
func readOnlyImage(maps []byte) []span {
	var out []span
	exe := ""
	s := bufio.NewScanner(bytes.NewReader(maps))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 6 || f[4] == "0" {
			continue
		}
		if exe == "" {
			exe = f[5]
		}
		if f[5] != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		out = append(out, span{uintptr(a), uintptr(b)})
	}
	return out
}
