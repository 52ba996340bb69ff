package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// savedUnit is what the manager keeps of a unit outside its process.
type savedUnit struct {
	State     State  `json:"state"`
	Sub       string `json:"sub"`
	MainPID   int    `json:"main_pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	Restarts  int    `json:"restarts,omitempty"`
	Result    string `json:"result,omitempty"`
	// LastTrigger is when a timer last fired (Unix nanoseconds).
	LastTrigger int64 `json:"last_trigger,omitempty"`
	// Activated is when a timer was started: the base of OnActiveSec.
	Activated int64 `json:"activated,omitempty"`
	// Job is the job in flight ("start", "stop"), re-planned by the next
	// manager; CtrlPID is the control process it ran, ended then.
	Job       string `json:"job,omitempty"`
	CtrlPID   int    `json:"ctrl_pid,omitempty"`
	CtrlStart uint64 `json:"ctrl_start,omitempty"`
	// Starts are the recent starts (Unix nanoseconds), for StartLimitBurst.
	Starts string `json:"starts,omitempty"`
	// The times of the last start on the kernel clock (nanoseconds), for
	// boot analysis (unitTimes).
	Queued     int64 `json:"queued_ns,omitempty"`
	Activating int64 `json:"activating_ns,omitempty"`
	ActiveAt   int64 `json:"active_ns,omitempty"`
	FailedAt   int64 `json:"failed_ns,omitempty"`
	InactiveAt int64 `json:"inactive_ns,omitempty"`
	Ran        int64 `json:"ran_ns,omitempty"`
}

// saveState writes the record of every unit whose record changed, one
// file per unit under STATE/units: a new file renamed over the old one, so
// a crash of the manager leaves each record either old or new, and a
// change costs one small write however many units there are. The state
// lives on tmpfs (/run), so nothing is synced to a disk.
func (m *Manager) saveState() error {
	dir := m.unitStateDir()
	if m.written == nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		m.written = map[string]savedUnit{}
	}
	var firstErr error
	for n, u := range m.units {
		rec := savedUnit{State: u.state, Sub: u.sub.String(), Restarts: u.restarts, Result: u.result.String(), Starts: joinTimes(u.starts)}
		u.k.save(&rec)
		u.saveTimes(&rec)
		if j := u.job; j != nil && !j.done() && j.typ != jobVerifyActive {
			rec.Job = j.typ.String()
		}
		old, had := m.written[n]
		if had && old == rec {
			continue
		}
		path := filepath.Join(dir, n+".json")
		if u.state == Inactive && u.restarts == 0 && rec.Job == "" && rec.Starts == "" && rec.Queued == 0 && rec.Activating == 0 {
			if had {
				if err := os.Remove(path); err != nil && !os.IsNotExist(err) && firstErr == nil {
					firstErr = err
				}
				delete(m.written, n)
			}
			continue
		}
		data, _ := json.Marshal(rec)
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if err := os.Rename(tmp, path); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		m.written[n] = rec
	}
	return firstErr
}

func (m *Manager) unitStateDir() string { return filepath.Join(m.cfg.StateDir, "units") }

// prefetched is the previous manager process's state, read while the
// units load: the records, the start time of every process they name and
// a pidfd for each main process. The pidfd is opened before the start
// time is read, so a match means the pidfd is that very process.
type prefetched struct {
	saved   map[string]savedUnit
	corrupt map[string]error // units whose record is unreadable, and why
	starts  map[int]uint64   // pid -> start time, for the pids still there
	pidfds  map[int]int      // main pid -> its pidfd

	adopted int        // running services re-attached
	gone    []*service // services whose main process ended while no manager ran
}

// pidfd hands over the pidfd opened for pid, or -1.
func (pf *prefetched) pidfd(pid int) int {
	fd, ok := pf.pidfds[pid]
	if !ok {
		return -1
	}
	delete(pf.pidfds, pid)
	return fd
}

// close closes the pidfds nobody took.
func (pf *prefetched) close() {
	for _, fd := range pf.pidfds {
		unix.Close(fd)
	}
	pf.pidfds = nil
}

// prefetchWorkers read records and /proc in parallel: each read is a few
// system calls, and a thousand of them in a row are most of a restore.
const prefetchWorkers = 4

// prefetchState starts reading the records a previous manager process
// left; restoreState takes the result.
func (m *Manager) prefetchState() {
	ch := make(chan *prefetched, 1)
	m.prefetch = ch
	dir := m.unitStateDir()
	go func() { ch <- readState(dir) }()
}

// readState loads the records under dir and names the units whose record
// is unreadable (torn, truncated, corrupt).
func readState(dir string) *prefetched {
	pf := &prefetched{saved: map[string]savedUnit{}, corrupt: map[string]error{}, starts: map[int]uint64{}, pidfds: map[int]int{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return pf
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range prefetchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [4096]byte
			for i := w; i < len(names); i += prefetchWorkers {
				n := names[i]
				var rec savedUnit
				data, err := readSmall(filepath.Join(dir, n+".json"), buf[:])
				if err == nil {
					err = json.Unmarshal(data, &rec)
				}
				if err == nil && rec.State == "" {
					err = fmt.Errorf("no state")
				}
				starts := map[int]uint64{}
				pidfd := -1
				if err == nil && rec.MainPID > 0 {
					pidfd, _ = unix.PidfdOpen(rec.MainPID, unix.PIDFD_NONBLOCK)
				}
				for _, pid := range []int{rec.MainPID, rec.CtrlPID} {
					if pid <= 0 || err != nil {
						continue
					}
					if t, err := procStartTime(pid); err == nil {
						starts[pid] = t
					}
				}
				mu.Lock()
				if err != nil {
					pf.corrupt[n] = err
				} else {
					pf.saved[n] = rec
				}
				for pid, t := range starts {
					pf.starts[pid] = t
				}
				if pidfd >= 0 {
					pf.pidfds[rec.MainPID] = pidfd
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return pf
}

// readSmall reads a file that usually fits in buf with one open, one read
// and one close, as a thousand of them are read at each restore.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	switch {
	case err != nil:
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	case n == len(buf):
		return os.ReadFile(path)
	}
	return buf[:n], nil
}

// running reports whether pid is still the process that started at start.
// A pid not read ahead (gone then, or from a rebuilt record) is read now.
func (pf *prefetched) running(pid int, start uint64) bool {
	t, ok := pf.starts[pid]
	if !ok {
		var err error
		if t, err = procStartTime(pid); err != nil {
			return false
		}
	}
	return t == start
}

// rebuild makes a record for a unit whose record was lost from what
// runs: the service's cgroup, or else a session leader started for it
// (every service process carries SYSMASTER_UNIT=NAME and the manager's
// SYSMASTER_SOCKET).
func (m *Manager) rebuild(name string) (savedUnit, bool) {
	u := m.units[name]
	if u == nil || u.cfg == nil {
		return savedUnit{}, false
	}
	if _, ok := u.k.(*service); !ok {
		return savedUnit{}, false
	}
	var candidates []int
	if m.cg != nil {
		candidates, _ = m.cg.Procs(m.cg.Path(name))
	} else {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if sid, err := unix.Getsid(pid); err != nil || sid != pid {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			env = append([]byte{0}, env...)
			// Ours: this unit, and this manager's socket (not another
			// manager's unit of the same name).
			if err == nil && bytes.Contains(env, []byte("\x00"+proto.EnvUnit+"="+name+"\x00")) &&
				bytes.Contains(env, []byte("\x00"+proto.EnvSocket+"="+m.cfg.Socket+"\x00")) {
				candidates = append(candidates, pid)
			}
		}
	}
	// The oldest process is the main one; the rest are its children.
	best, bestStart := 0, uint64(0)
	for _, pid := range candidates {
		st, err := procStartTime(pid)
		if err == nil && (best == 0 || st < bestStart) {
			best, bestStart = pid, st
		}
	}
	if best == 0 {
		return savedUnit{}, false
	}
	m.logf("state of %s rebuilt: main process %d", name, best)
	return savedUnit{State: Active, Sub: "running", MainPID: best, StartTime: bestStart, Result: "success"}, true
}

// restoreState picks up the units a previous manager process left running:
// a main process that is still the same process (pid and start time match)
// is adopted, never restarted.
func (m *Manager) restoreState() {
	if m.prefetch == nil {
		m.prefetchState()
	}
	pf := <-m.prefetch
	m.prefetch = nil
	defer pf.close()
	saved := pf.saved
	if len(saved)+len(pf.corrupt) == 0 {
		return
	}
	corrupt := sortedKeys(pf.corrupt)
	for _, n := range corrupt {
		m.logf("state of %s unusable (%v); rebuilding it", n, pf.corrupt[n])
	}
	// What is on disk is what was written; rebuilt records are not, so
	// they replace the bad files at the next save.
	m.written = map[string]savedUnit{}
	for n, rec := range saved {
		m.written[n] = rec
	}
	for _, n := range corrupt {
		if rec, ok := m.rebuild(n); ok {
			saved[n] = rec
		}
		m.stateChanged = true // replace the bad files
	}
	var replanStart, replanStop, replanRestart []string
	for n, rec := range saved {
		if strings.HasSuffix(n, ".device") {
			m.deviceUnit(n)
		}
		u := m.units[n]
		if u == nil || u.cfg == nil {
			continue
		}
		u.restarts = rec.Restarts
		u.starts = splitTimes(rec.Starts)
		u.restoreTimes(rec)
		switch rec.Job {
		case "start":
			replanStart = append(replanStart, n)
		case "stop":
			replanStop = append(replanStop, n)
		case "restart":
			replanRestart = append(replanRestart, n)
		}
		u.k.restore(m, rec, pf)
	}
	for _, n := range sortedNames(m.units) {
		m.units[n].k.resume(m)
	}
	m.logf("restored state: %d running services re-attached", pf.adopted)
	for _, u := range pf.gone {
		ws, known := m.reapedByInit[u.mainPID]
		m.mainExited(u, ws, known)
	}
	// Jobs in flight when the previous manager ended run again; a unit
	// already where its job was taking it needs nothing.
	sort.Strings(replanStart)
	for _, n := range replanStart {
		if u := m.units[n]; u != nil && u.state != Active && u.job == nil {
			m.logf("%s: re-planning the start that was in flight", n)
			if err := m.startTransaction(n); err != nil {
				m.logf("%s: %v", n, err)
			}
		}
	}
	if len(replanStop) > 0 {
		sort.Strings(replanStop)
		m.logf("re-planning the stop of %v that was in flight", replanStop)
		m.stopTransaction(replanStop)
	}
	if len(replanRestart) > 0 {
		sort.Strings(replanRestart)
		m.logf("re-planning the restart of %v that was in flight", replanRestart)
		if _, err := m.enqueue(jobRestart, replanRestart, modeReplace, nil); err != nil {
			m.logf("restart %v: %v", replanRestart, err)
		}
	}
}

func joinTimes(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(t.UnixNano(), 10))
	}
	return b.String()
}

func splitTimes(s string) []time.Time {
	var out []time.Time
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, time.Unix(0, n))
		}
	}
	return out
}

// watchAdopted reports the end of a process that is not our child (it was
// reparented when the previous manager died) through a pidfd in the
// manager's epoll: a blocked thread per process would cost a thousand
// threads at a thousand services. Init reaps such a process and reports
// its status; that report gets a moment to arrive before the exit is
// handled with the status unknown.
func (m *Manager) watchAdopted(pid int, fd int) {
	if fd < 0 {
		var err error
		if fd, err = unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err != nil {
			m.logf("pidfd for %d: %v", pid, err)
			return
		}
	}
	p, err := m.poll()
	if err != nil {
		unix.Close(fd)
		m.logf("%v", err)
		return
	}
	var tok int32
	tok, err = p.watch(fd, func() {
		p.unwatch(fd, tok)
		unix.Close(fd)
		m.after(200*time.Millisecond, func() {
			if u := m.pids[pid]; u != nil && u.mainPID == pid && u.adopted {
				m.mainExited(u, 0, false)
			}
		})
	})
	if err != nil {
		unix.Close(fd)
		m.logf("watching %d: %v", pid, err)
	}
}

// files are the descriptors kept under name: a socket unit's listeners,
// a service's capture pipes.
func (in *inherited) files(name string) []*os.File {
	if in == nil {
		return nil
	}
	return in.sockets[name]
}
