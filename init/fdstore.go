package pid1

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FDStoreEnv names the descriptor of the socket core hands its listening
// sockets to. Init keeps them while core restarts, so clients queue in the
// backlog instead of seeing "connection refused", and passes them to the
// next core as an inherited set (SYSMASTER_REEXEC_FDS).
const FDStoreEnv = "SYSMASTER_FDSTORE_FD"

// fdStore is what init holds for core, by name ("control", "notify",
// "web.socket").
type fdStore map[string][]*os.File

// receive reads store messages from core until the socket closes: a name
// with descriptors sets that entry; "-name" drops it.
func (p *pid1) receive(conn *os.File) {
	// The pair is closed on the main goroutine, where p.coreConn is read.
	defer func() {
		p.timers <- func() {
			if p.coreConn == conn {
				p.coreConn = nil
			}
			conn.Close()
		}
	}()
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(64*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || n == 0 {
			return
		}
		var files []*os.File
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				fds, err := unix.ParseUnixRights(&m)
				if err != nil {
					continue
				}
				for _, fd := range fds {
					files = append(files, os.NewFile(uintptr(fd), "stored"))
				}
			}
		}
		name := string(buf[:n])
		p.timers <- func() { p.store(name, files) }
	}
}

func (p *pid1) store(name string, files []*os.File) {
	if p.fds == nil {
		p.fds = fdStore{}
	}
	key := strings.TrimPrefix(name, "-")
	for _, f := range p.fds[key] {
		f.Close()
	}
	delete(p.fds, key)
	if strings.HasPrefix(name, "-") || len(files) == 0 {
		for _, f := range files {
			f.Close()
		}
		return
	}
	p.fds[key] = files
}

// passFDs lays the stored descriptors out after the first fds of core's
// file table and says which is which.
func (p *pid1) passFDs(files []uintptr) ([]uintptr, string) {
	var items []string
	names := make([]string, 0, len(p.fds))
	for n := range p.fds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var nums []string
		for _, f := range p.fds[n] {
			nums = append(nums, strconv.Itoa(len(files)))
			files = append(files, f.Fd())
		}
		items = append(items, n+"="+strings.Join(nums, "/"))
	}
	if len(items) == 0 {
		return files, ""
	}
	return files, fmt.Sprintf("SYSMASTER_REEXEC_FDS=%s", strings.Join(items, ","))
}

// ReapedEnv lists, for a new core, the orphans init reaped while no core
// ran: "pid=waitstatus,…". Exits of orphans while core runs are sent to
// it over the fd store pair as "reaped PID WAITSTATUS".
const ReapedEnv = "SYSMASTER_REAPED"

// maxReaped bounds what init remembers for the next core.
const maxReaped = 4096

// orphanExited tells core how a process it had lost ended: services of a
// core that died are reparented to init, and only init learns their exit
// status. Init also keeps the status until a core that was handed it has
// come up: a core can die between reading a report and saving what it
// did with it.
func (p *pid1) orphanExited(pid int, ws unix.WaitStatus) {
	if p.coreConn != nil && p.corePID != 0 {
		msg := fmt.Sprintf("reaped %d %d", pid, uint32(ws))
		_ = unix.Sendmsg(int(p.coreConn.Fd()), []byte(msg), nil, nil, unix.MSG_DONTWAIT)
	}
	if len(p.reaped) >= maxReaped {
		p.reaped = p.reaped[1:]
		p.reapedGiven = max(p.reapedGiven-1, 0)
	}
	p.reaped = append(p.reaped, fmt.Sprintf("%d=%d", pid, uint32(ws)))
}

// coreUp forgets the statuses a core that is now up has restored from.
func (p *pid1) coreUp() {
	p.reaped = p.reaped[p.reapedGiven:]
	p.reapedGiven = 0
}

// givenReaped lists the statuses for a core about to start.
func (p *pid1) givenReaped() string {
	p.reapedGiven = len(p.reaped)
	return strings.Join(p.reaped, ",")
}
