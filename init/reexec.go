package pid1

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// stateEnv carries init's state across a re-exec of its binary (SIGHUP,
// `sctl reexec-init`): pid 1 and its children stay; only the program
// changes.
const stateEnv = "SYSMASTER_INIT_STATE"

type savedInit struct {
	CorePID int      `json:"core_pid"`
	Mounted []string `json:"mounted"`
	Opts    Options  `json:"opts"`
	// The fd store and the pair to core stay open across the exec: their
	// descriptor numbers are kept here.
	FDs         map[string][]int `json:"fds,omitempty"`
	CoreConn    int              `json:"core_conn,omitempty"`
	Reaped      []string         `json:"reaped,omitempty"`
	ReapedGiven int              `json:"reaped_given,omitempty"`
	Watchdog    *watchdogState   `json:"watchdog,omitempty"`
}

// reexec executes init's binary in place. It returns only on failure.
func (p *pid1) reexec() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	st := savedInit{CorePID: p.corePID, Mounted: p.mounted, Opts: p.opts, Reaped: p.reaped, ReapedGiven: p.reapedGiven}
	var keep []*os.File
	if len(p.fds) > 0 {
		st.FDs = map[string][]int{}
		for name, files := range p.fds {
			for _, f := range files {
				st.FDs[name] = append(st.FDs[name], int(f.Fd()))
				keep = append(keep, f)
			}
		}
	}
	if p.coreConn != nil && p.corePID != 0 {
		st.CoreConn = int(p.coreConn.Fd())
		keep = append(keep, p.coreConn)
	}
	if st.Watchdog, err = p.saveWatchdog(); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for _, f := range keep {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("keeping fd %d open across exec: %w", f.Fd(), err)
		}
	}
	p.logf("re-executing %s", self)
	env := append(os.Environ(), stateEnv+"="+string(b))
	err = unix.Exec(self, os.Args, env)
	return fmt.Errorf("exec %s: %w", self, err)
}

// restore picks up the state a previous init left, if any.
func (p *pid1) restore() bool {
	v, ok := os.LookupEnv(stateEnv)
	if !ok {
		return false
	}
	os.Unsetenv(stateEnv)
	var st savedInit
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		p.logf("state from the previous init unusable (%v); starting afresh", err)
		return false
	}
	p.corePID, p.mounted, p.opts = st.CorePID, st.Mounted, st.Opts
	p.reaped, p.reapedGiven = st.Reaped, min(st.ReapedGiven, len(st.Reaped))
	p.restoreWatchdog(st.Watchdog)
	for name, fds := range st.FDs {
		for _, fd := range fds {
			if f := inherit(fd, "stored"); f != nil {
				if p.fds == nil {
					p.fds = fdStore{}
				}
				p.fds[name] = append(p.fds[name], f)
			}
		}
	}
	if st.CoreConn > 0 && p.corePID != 0 {
		if f := inherit(st.CoreConn, "fdstore"); f != nil {
			p.coreConn = f
			go p.receive(f)
		}
	}
	return true
}

// inherit takes over a descriptor the previous init left open, closing it
// on exec again; nil when it is not open.
func inherit(fd int, name string) *os.File {
	if fd < 3 {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}
