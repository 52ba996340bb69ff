package pid1

import (
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// The fd store (proto.EnvFDStore) is the socket core hands its listening
// sockets to. Init keeps them while core restarts, so clients queue in the
// backlog instead of seeing "connection refused", and passes them to the
// next core as an inherited set (proto.EnvReexecFDs).

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
		if root, init, ok := proto.ParseSwitchRootMessage(name); ok {
			for _, f := range files {
				f.Close()
			}
			p.timers <- func() { p.requestSwitch(root, init) }
			continue
		}
		p.timers <- func() { p.store(name, files) }
	}
}

func (p *pid1) store(name string, files []*os.File) {
	if p.fds == nil {
		p.fds = fdStore{}
	}
	key, drop := proto.ParseStoreMessage(name)
	for _, f := range p.fds[key] {
		f.Close()
	}
	delete(p.fds, key)
	if drop || len(files) == 0 {
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
	names := make([]string, 0, len(p.fds))
	for n := range p.fds {
		names = append(names, n)
	}
	sort.Strings(names)
	nums := map[string][]int{}
	for _, n := range names {
		for _, f := range p.fds[n] {
			nums[n] = append(nums[n], len(files))
			files = append(files, f.Fd())
		}
	}
	if len(nums) == 0 {
		return files, ""
	}
	return files, proto.EnvReexecFDs + "=" + proto.FormatFDs(nums)
}

// A new core is told the orphans init reaped while no core ran
// (proto.EnvReaped); exits of orphans while core runs are sent to it over
// the fd store pair (proto.ReapedMessage).

// maxReaped bounds what init remembers for the next core.
const maxReaped = 4096

// orphanExited tells core how a process it had lost ended: services of a
// core that died are reparented to init, and only init learns their exit
// status. Init also keeps the status until a core that was handed it has
// come up: a core can die between reading a report and saving what it
// did with it.
func (p *pid1) orphanExited(pid int, ws unix.WaitStatus) {
	if p.coreConn != nil && p.corePID != 0 {
		msg := proto.ReapedMessage(pid, ws)
		_ = unix.Sendmsg(int(p.coreConn.Fd()), []byte(msg), nil, nil, unix.MSG_DONTWAIT)
	}
	if len(p.reaped) >= maxReaped {
		p.reaped = p.reaped[1:]
		p.reapedGiven = max(p.reapedGiven-1, 0)
	}
	p.reaped = append(p.reaped, proto.ReapedItem(pid, ws))
}

// coreUp forgets the statuses a core that is now up has restored from.
func (p *pid1) coreUp() {
	p.reaped = p.reaped[p.reapedGiven:]
	p.reapedGiven = 0
}

// givenReaped lists the statuses for a core about to start.
func (p *pid1) givenReaped() string {
	p.reapedGiven = len(p.reaped)
	return proto.JoinReaped(p.reaped)
}
