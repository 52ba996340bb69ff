// Package proto is the contract between init, the service manager (core),
// the device manager and their clients: the environment each hands the
// next, the messages of init's fd store, and the control protocol both
// control sockets speak. Clients import it, not the manager.
//
// Both control sockets use one convention: a client writes one JSON
// object on one line, with the command in "cmd", and reads one JSON
// object on one line; "code" is 0 on success (otherwise systemctl's exit
// codes) and "err" says what went wrong.
package proto

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Environment set by init for core, and by core for services.
const (
	// EnvReadyFD is the descriptor core writes one byte to once it is up,
	// so init can tell a crash from a failure to start.
	EnvReadyFD = "SYSMASTER_READY_FD"
	// EnvFDStore is the socket core hands its listening sockets to (see
	// StoreMessage) and init reports reaped orphans on (ReapedMessage).
	EnvFDStore = "SYSMASTER_FDSTORE_FD"
	// EnvReexecFDs names the descriptors a new core inherits:
	// "control=3,notify=4,echo.socket=5/6" (FormatFDs).
	EnvReexecFDs = "SYSMASTER_REEXEC_FDS"
	// EnvReaped lists the orphans init reaped while no core ran:
	// "pid=waitstatus,…" (FormatReaped).
	EnvReaped = "SYSMASTER_REAPED"
	// EnvUnit and EnvSocket are set in every service: its unit's name and
	// the control socket of its manager.
	EnvUnit   = "SYSMASTER_UNIT"
	EnvSocket = "SYSMASTER_SOCKET"
)

// InitSignals are the signals that ask init (pid 1) for the final steps.
var InitSignals = map[string]unix.Signal{
	"poweroff": unix.SIGUSR2,
	"reboot":   unix.SIGTERM,
	"halt":     unix.SIGUSR1,
}

// StoreMessage is what core sends init with descriptors to keep under
// name; with drop, init closes and forgets them.
func StoreMessage(name string, drop bool) string {
	if drop {
		return "-" + name
	}
	return name
}

// ParseStoreMessage reads a StoreMessage.
func ParseStoreMessage(msg string) (name string, drop bool) {
	name, drop = strings.CutPrefix(msg, "-")
	return name, drop
}

// ReapedMessage is init's report to core that an orphan ended.
func ReapedMessage(pid int, ws unix.WaitStatus) string {
	return fmt.Sprintf("reaped %d %d", pid, uint32(ws))
}

// ParseReapedMessage reads a ReapedMessage.
func ParseReapedMessage(msg string) (pid int, ws unix.WaitStatus, ok bool) {
	var w uint32
	if _, err := fmt.Sscanf(msg, "reaped %d %d", &pid, &w); err != nil {
		return 0, 0, false
	}
	return pid, unix.WaitStatus(w), true
}

// ReapedItem is one status in EnvReaped; JoinReaped makes the value.
func ReapedItem(pid int, ws unix.WaitStatus) string {
	return strconv.Itoa(pid) + "=" + strconv.FormatUint(uint64(uint32(ws)), 10)
}

// JoinReaped is the value of EnvReaped for items made by ReapedItem.
func JoinReaped(items []string) string { return strings.Join(items, ",") }

// ParseReaped reads EnvReaped; malformed items are skipped.
func ParseReaped(v string) map[int]unix.WaitStatus {
	out := map[int]unix.WaitStatus{}
	for _, item := range strings.Split(v, ",") {
		p, w, ok := strings.Cut(item, "=")
		pid, err1 := strconv.Atoi(p)
		ws, err2 := strconv.ParseUint(w, 10, 32)
		if ok && err1 == nil && err2 == nil {
			out[pid] = unix.WaitStatus(ws)
		}
	}
	return out
}

// FormatFDs is the value of EnvReexecFDs: each name with the descriptor
// numbers it has in the new process.
func FormatFDs(fds map[string][]int) string {
	names := make([]string, 0, len(fds))
	for n := range fds {
		names = append(names, n)
	}
	sort.Strings(names)
	var items []string
	for _, n := range names {
		var nums []string
		for _, fd := range fds[n] {
			nums = append(nums, strconv.Itoa(fd))
		}
		items = append(items, n+"="+strings.Join(nums, "/"))
	}
	return strings.Join(items, ",")
}

// ParseFDs reads EnvReexecFDs.
func ParseFDs(v string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, item := range strings.Split(v, ",") {
		name, fds, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: bad item %q", EnvReexecFDs, item)
		}
		for _, s := range strings.Split(fds, "/") {
			fd, err := strconv.Atoi(s)
			if err != nil || fd < 3 {
				return nil, fmt.Errorf("%s: bad descriptor %q", EnvReexecFDs, s)
			}
			out[name] = append(out[name], fd)
		}
	}
	return out, nil
}
