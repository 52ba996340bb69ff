package core

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// exitStatus describes a wait status as systemd prints it.
func exitStatus(ws unix.WaitStatus) (string, bool) {
	switch {
	case ws.Exited():
		if ws.ExitStatus() == 0 {
			return "status=0/SUCCESS", true
		}
		return fmt.Sprintf("status=%d/FAILURE", ws.ExitStatus()), false
	case ws.Signaled():
		return fmt.Sprintf("signal=%s", unix.SignalName(ws.Signal())), false
	}
	return fmt.Sprintf("status=%#x", uint32(ws)), false
}

// procStartTime returns the start time of pid in clock ticks since boot
// (field 22 of /proc/PID/stat); with the pid it identifies a process
// across pid reuse.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// consoleTTY resolves /dev/console to the terminal behind it, which can be
// a controlling terminal where /dev/console itself cannot.
func consoleTTY(path string) string {
	if path != "/dev/console" {
		return path
	}
	b, err := os.ReadFile("/sys/class/tty/console/active")
	if err != nil {
		return path
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return path
	}
	return "/dev/" + f[len(f)-1]
}
