package core

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/core/reap"
)

// The engine reaches time and processes only through these, so that a
// test can run it in memory: a fake clock that it moves, and fake
// processes whose exits it reports with Manager.processExited.

// clock is the time the engine sees.
type clock interface {
	now() time.Time
	// afterFunc calls f once d has passed, on a goroutine of its own.
	afterFunc(d time.Duration, f func()) timerHandle
}

// timerHandle is a pending afterFunc.
type timerHandle interface {
	Stop() bool
}

// processes starts, signals and identifies the processes of units.
type processes interface {
	// start runs spec through the exec helper self and returns its pid.
	start(self string, spec *execute.Spec) (int, error)
	// kill sends sig to pid.
	kill(pid int, sig unix.Signal) error
	// startTime is when pid started (in clock ticks since boot), to tell
	// it from a later process with the same pid.
	startTime(pid int) (uint64, error)
	// reap collects every child that has exited.
	reap(exited func(pid int, ws unix.WaitStatus))
	// mount and unmount are mount(2) and umount2(2), which may block.
	mount(what, where, typ string, flags uintptr, data string) error
	unmount(where string, flags int) error
}

type systemClock struct{}

func (systemClock) now() time.Time { return time.Now() }
func (systemClock) afterFunc(d time.Duration, f func()) timerHandle {
	return time.AfterFunc(d, f)
}

type systemProcesses struct{}

func (systemProcesses) start(self string, spec *execute.Spec) (int, error) {
	return execute.Start(self, spec)
}
func (systemProcesses) kill(pid int, sig unix.Signal) error { return unix.Kill(pid, sig) }
func (systemProcesses) startTime(pid int) (uint64, error)   { return procStartTime(pid) }
func (systemProcesses) reap(exited func(pid int, ws unix.WaitStatus)) {
	reap.All(exited)
}
func (systemProcesses) mount(what, where, typ string, flags uintptr, data string) error {
	return unix.Mount(what, where, typ, flags, data)
}
func (systemProcesses) unmount(where string, flags int) error { return unix.Unmount(where, flags) }

func (m *Manager) now() time.Time { return m.clock.now() }
