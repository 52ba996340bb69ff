// Package reap collects exited children for the processes that own every
// wait of theirs: init (pid 1) and the service manager (a subreaper).
package reap

import "golang.org/x/sys/unix"

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
