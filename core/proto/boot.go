package proto

import "time"

// EnvKernelDone is set by init for core: the kernel's CLOCK_MONOTONIC, in
// nanoseconds, when pid 1 started; the kernel's part of the boot ends
// there and userspace is measured from it on the same clock.
const EnvKernelDone = "SYSMASTER_KERNEL_DONE_NS"

// Boot is what the manager answers to cmd "analyze": when the boot's
// steps happened and, for every unit that was started, when its job was
// queued, when it began and finished starting and how long its processes
// ran. Every instant is a time on the kernel's CLOCK_MONOTONIC (the time
// since the kernel started); zero means it did not happen.
type Boot struct {
	// Kernel is when pid 1 started (zero when no init said, as for a
	// user-mode manager); Manager is when the first manager of this boot
	// started; Finished is when Target first became active.
	Kernel   time.Duration `json:"kernel_ns,omitempty"`
	Manager  time.Duration `json:"manager_ns"`
	Finished time.Duration `json:"finished_ns,omitempty"`
	Target   string        `json:"target"`
	// Now is when the answer was made, so a chart can end there.
	Now   time.Duration `json:"now_ns"`
	Units []UnitTimes   `json:"units,omitempty"`
}

// UnitTimes are the times of a unit's last start.
type UnitTimes struct {
	Name string `json:"name"`
	// Queued: its start job was installed. Activating: it began to start
	// (entered activating, or went straight to active). Active: it
	// became active. Failed: it failed. Inactive: it went down after
	// starting (a oneshot that finished, a stopped service).
	Queued     time.Duration `json:"queued_ns,omitempty"`
	Activating time.Duration `json:"activating_ns,omitempty"`
	Active     time.Duration `json:"active_ns,omitempty"`
	Failed     time.Duration `json:"failed_ns,omitempty"`
	Inactive   time.Duration `json:"inactive_ns,omitempty"`
	// Ran is how long its processes ran (each from its start to its
	// exit, or to now while it runs), added up.
	Ran time.Duration `json:"ran_ns,omitempty"`
	// After are the units it is ordered after (After=), for the
	// critical chain.
	After []string `json:"after,omitempty"`
}
