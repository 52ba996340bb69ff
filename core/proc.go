package core

import (
	"bytes"
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
//
// It is called for every service at each restore, so it reads with one
// open, one read and no allocation for the file's size.
func procStartTime(pid int) (uint64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: path, Err: err}
	}
	b := buf[:n]
	if n == len(buf) {
		if b, err = os.ReadFile(path); err != nil {
			return 0, err
		}
	}
	return parseStartTime(b, path)
}

// parseStartTime takes field 22 of a /proc/PID/stat line.
func parseStartTime(b []byte, path string) (uint64, error) {
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("%s: malformed", path)
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
