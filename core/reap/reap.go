// Package reap collects exited children for the processes that own every
// wait of theirs: init (pid 1) and the service manager (a subreaper).
package reap

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// All reaps every child that has exited, without blocking, and calls
// exited for each. Nothing else in the process may wait for children, or
// it would race with this loop for their exit statuses.
func All(exited func(pid int, ws unix.WaitStatus)) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		exited(pid, ws)
	}
}

// Children lists the processes whose parent is ppid, from /proc: the
// orphans a subreaper adopted, or the processes a supervisor started.
func Children(ppid int) []int {
	var out []int
	Processes(func(pid, parent int) {
		if parent == ppid {
			out = append(out, pid)
		}
	})
	return out
}

// Processes calls fn with every process in /proc and its parent, in one
// walk.
func Processes(fn func(pid, ppid int)) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields start after the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			fn(pid, ppid)
		}
	}
}
