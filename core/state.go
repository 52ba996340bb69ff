package core

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// savedUnit is what the manager keeps of a unit outside its process.
type savedUnit struct {
	State     State  `json:"state"`
	Sub       string `json:"sub"`
	MainPID   int    `json:"main_pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	Restarts  int    `json:"restarts,omitempty"`
	Result    string `json:"result,omitempty"`
}

type savedState struct {
	Version int                  `json:"version"`
	Units   map[string]savedUnit `json:"units"`
}

// saveState writes the state file: a new file, synced, then renamed over
// the old one, so a crash leaves either the old or the new state.
func (m *Manager) saveState() error {
	st := savedState{Version: 1, Units: map[string]savedUnit{}}
	for n, u := range m.units {
		if u.state == Inactive && u.restarts == 0 {
			continue
		}
		st.Units[n] = savedUnit{State: u.state, Sub: u.sub, MainPID: u.mainPID, StartTime: u.startTime, Restarts: u.restarts, Result: u.result}
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := m.statePath() + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, m.statePath())
}

// restoreState picks up the units a previous manager process left running:
// a main process that is still the same process (pid and start time match)
// is adopted, never restarted.
func (m *Manager) restoreState() {
	data, err := os.ReadFile(m.statePath())
	if os.IsNotExist(err) {
		return
	}
	var st savedState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err == nil && st.Version != 1 {
		err = fmt.Errorf("version %d", st.Version)
	}
	if err != nil {
		m.logf("state file %s unusable (%v); starting afresh", m.statePath(), err)
		return
	}
	adopted := 0
	var gone []*unit
	for n, s := range st.Units {
		u := m.units[n]
		if u == nil || u.cfg == nil {
			continue
		}
		u.restarts = s.Restarts
		switch {
		case s.MainPID > 0 && u.kind() == "service":
			if t, err := procStartTime(s.MainPID); err != nil || t != s.StartTime {
				m.logf("%s: main process %d is gone; applying its restart policy", n, s.MainPID)
				u.state, u.sub, u.phase, u.result = Active, "running", phaseRunning, "exit-code"
				u.mainPID = s.MainPID
				gone = append(gone, u)
				continue
			}
			u.state, u.sub, u.phase = Active, "running", phaseRunning
			u.mainPID, u.startTime, u.adopted, u.result = s.MainPID, s.StartTime, true, "success"
			m.watchAdopted(s.MainPID)
			adopted++
		case s.State == Failed:
			u.state, u.sub, u.result = Failed, s.Sub, s.Result
		case s.State == Active && (u.kind() != "service" || s.Sub == "exited"):
			u.state, u.sub = Active, s.Sub
			if u.kind() == "service" {
				u.phase = phaseRunning
				u.result = "success"
			}
		}
	}
	m.logf("restored state: %d running services re-attached", adopted)
	for _, u := range gone {
		m.mainExited(u, 0, false)
	}
}

// watchAdopted reports the end of a process that is not our child (it was
// reparented when the previous manager died) through a pidfd.
func (m *Manager) watchAdopted(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		m.logf("pidfd for %d: %v", pid, err)
		return
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			break
		}
		m.post(func() {
			for _, u := range m.units {
				if u.mainPID == pid && u.adopted {
					m.mainExited(u, 0, false)
				}
			}
		})
	}()
}
