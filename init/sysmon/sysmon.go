// Package sysmon quiets the Go runtime's monitor thread on a single CPU.
//
// The monitor (sysmon) sleeps 20 µs between its rounds for as long as the
// process runs, backing off towards 10 ms only after fifty rounds in which
// it had nothing to take back, and starting at 20 µs again whenever it
// takes a P back from a system call or a system call wakes it. On a board
// with one slow CPU (and under emulation) most system calls last over
// 20 µs, so a busy daemon's monitor wakes thousands of times in a boot,
// each time a context switch away from the work and back. A timer slack
// lets the kernel run those sleeps late and merge the wakeups.
package sysmon

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Slack is the monitor's timer slack: its own longest sleep, so that it
// wakes about as often as it does once it has backed off. It still
// preempts a goroutine that ran too long, within twice that.
const Slack = 10 * time.Millisecond

// pidMaxLimit is the kernel's highest pid_max, for when it cannot be read.
const pidMaxLimit = 1 << 22

// Quiet gives this process's monitor thread a timer slack of d when the
// process has one CPU, where the monitor's wakeups take the CPU from the
// work. Setting another thread's slack takes CAP_SYS_NICE; without it
// Quiet changes nothing and says so. The threads the monitor starts
// inherit the slack, so their timers may fire up to d late.
func Quiet(d time.Duration) error {
	if runtime.NumCPU() != 1 {
		return nil
	}
	_, err := quiet(d)
	return err
}

// quiet sets the slack and returns the thread it set it on.
func quiet(d time.Duration) (int, error) {
	tids, err := threads()
	if err != nil {
		return 0, err
	}
	tid, ok := monitor(os.Getpid(), tids, pidMax())
	if !ok {
		return 0, fmt.Errorf("sysmon: no thread but the main one")
	}
	path := "/proc/" + strconv.Itoa(tid) + "/timerslack_ns"
	if err := os.WriteFile(path, []byte(strconv.FormatInt(d.Nanoseconds(), 10)), 0); err != nil {
		return 0, fmt.Errorf("sysmon: %w", err)
	}
	return tid, nil
}

// pidMax is the highest process id plus one, after which the kernel
// starts again from the bottom.
func pidMax() int {
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return pidMaxLimit
}

// threads lists this process's thread ids.
func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("sysmon: %w", err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// monitor picks the monitor among the threads of process pid. The runtime
// starts it before any other thread (first thing in runtime.main, before
// any package is initialised), and the kernel hands out thread ids in
// turn, up to pidMax and round again: the monitor is the first thread
// after pid in that order.
func monitor(pid int, tids []int, pidMax int) (int, bool) {
	best, bestDist := 0, pidMax
	for _, tid := range tids {
		if tid == pid {
			continue
		}
		if d := ((tid-pid)%pidMax + pidMax) % pidMax; d < bestDist {
			best, bestDist = tid, d
		}
	}
	return best, best != 0
}
