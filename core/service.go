package core

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/core/logbuf"
	"github.com/sysmaster-go/sysmaster/units"
)

// service is a service unit: its processes and where it is in its start
// or stop sequence (its state).
type service struct {
	*unit

	cmds      units.Commands // of the sequence step being run
	cmdIdx    int
	waitReady bool // a notify service's main process runs; no READY=1 yet
	mainPID   int
	ctrlPID   int
	ctrlStart uint64 // of ctrlPID
	startTime uint64 // of mainPID, to recognise it after a core restart
	// mainAt and ctrlAt are when mainPID and ctrlPID started, on the
	// kernel clock (boot analysis: how long the unit's processes ran).
	mainAt, ctrlAt time.Duration
	adopted        bool // mainPID is not our child: watched through a pidfd

	lastExitCode   int // of the main process; -1 when it did not exit normally
	lastExitSignal string

	stopping    bool // a stop was asked for: do not restart
	pendingStop bool // stop once the running control process ends

	reloadWaiters []chan<- Response
	log           *logbuf.Ring
	logPipes      []*os.File // read ends of the capture pipes; init holds copies
	cgroup        string     // the service's cgroup, "" without cgroup support
	statusText    string     // STATUS= from sd_notify

	timer      timerHandle // restart delay or stop timeout
	startTimer timerHandle
	watchdog   timerHandle
}

// serviceState is systemd's service sub-state.
type serviceState uint8

const (
	svcDead serviceState = iota
	svcStartPre
	svcStart // oneshot and forking ExecStart=, or a notify service before READY=1
	svcStartPost
	svcRunning
	svcExited // a oneshot with RemainAfterExit
	svcReload
	svcStop
	svcStopSigterm
	svcStopPost
	svcFailed
	svcAutoRestart
	svcCondition // ExecCondition=, before ExecStartPre=
)

var serviceStates = []stateInfo{
	svcDead: {"dead", Inactive}, svcStartPre: {"start-pre", Activating}, svcStart: {"start", Activating},
	svcStartPost: {"start-post", Activating}, svcRunning: {"running", Active}, svcExited: {"exited", Active},
	svcReload: {"reload", Active}, svcStop: {"stop", Deactivating}, svcStopSigterm: {"stop-sigterm", Deactivating},
	svcStopPost: {"stop-post", Deactivating}, svcFailed: {"failed", Failed}, svcAutoRestart: {"auto-restart", Activating},
	svcCondition: {"condition", Activating},
}

func (s serviceState) String() string { return serviceStates[s].name }
func (s serviceState) active() State  { return serviceStates[s].active }

// directive names the commands a state runs, for messages.
var directive = map[serviceState]string{
	svcCondition: "ExecCondition", svcStartPre: "ExecStartPre", svcStart: "ExecStart", svcStartPost: "ExecStartPost",
	svcStop: "ExecStop", svcStopPost: "ExecStopPost", svcReload: "ExecReload",
}

func (u *service) typeName() string  { return "service" }
func (u *service) initial() subState { return svcDead }
func (u *service) parseSub(n string) (subState, bool) {
	return parseState[serviceState](serviceStates, n)
}
func (u *service) checked() bool          { return true }
func (u *service) logged() bool           { return true }
func (u *service) isolated() bool         { return true }
func (u *service) edges(*Manager, *graph) {}
func (u *service) busy() bool             { return u.mainPID > 0 || u.ctrlPID > 0 }
func (u *service) svc() *units.ServiceSection {
	return &u.cfg.Service
}

// phase is the service's state.
func (u *service) phase() serviceState { return u.sub.(serviceState) }

func (u *service) save(rec *savedUnit) {
	rec.MainPID, rec.StartTime, rec.CtrlPID, rec.CtrlStart = u.mainPID, u.startTime, u.ctrlPID, u.ctrlStart
}

// restore picks up a service a previous manager process left: a main
// process that is still the same process (pid and start time match) is
// adopted, never restarted; one that is gone gets its restart policy
// once the units are resumed.
func (u *service) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	if rec.CtrlPID > 0 && pf.running(rec.CtrlPID, rec.CtrlStart) {
		// The sequence it belonged to is started again from the top.
		m.signalGroup(rec.CtrlPID, unix.SIGKILL)
	}
	switch {
	case rec.MainPID > 0:
		u.state, u.sub = Active, svcRunning
		if !pf.running(rec.MainPID, rec.StartTime) {
			m.logf("%s: main process %d is gone; applying its restart policy", u.name, rec.MainPID)
			u.result = resExitCode
			m.setMain(u, rec.MainPID, 0)
			pf.gone = append(pf.gone, u)
			return true
		}
		m.setMain(u, rec.MainPID, rec.StartTime)
		u.mainAt = processStart(rec.StartTime)
		u.adopted, u.result = true, resSuccess
		m.watchAdopted(rec.MainPID, pf.pidfd(rec.MainPID))
		pf.adopted++
	case rec.State == Failed:
		u.state, u.sub, u.result = Failed, svcFailed, parseResult(rec.Result)
	case rec.State == Active && rec.Sub == svcExited.String():
		u.state, u.sub, u.result = Active, svcExited, resSuccess
	default:
		return false
	}
	return true
}

// resume reads on from the capture pipes of the previous manager process,
// which init kept open so that the service never wrote into a broken pipe.
func (u *service) resume(m *Manager) {
	kind := ""
	if u.cfg != nil {
		kind = u.svc().StandardOutput
	}
	// Init holds these already.
	for _, f := range m.inh.files(u.name) {
		m.readLog(u, f, m.mirror(kind))
	}
}

func (u *service) describe(m *Manager, st *UnitStatus) {
	st.MainPID, st.Status, st.Cgroup = u.mainPID, u.statusText, u.cgroup
}

// setMain records pid as u's main process, in the pid index too.
func (m *Manager) setMain(u *service, pid int, start uint64) {
	if u.mainPID > 0 && m.pids[u.mainPID] == u {
		delete(m.pids, u.mainPID)
	}
	if u.mainPID > 0 {
		m.processEnded(u.unit, u.mainAt)
	}
	u.mainPID, u.startTime, u.mainAt = pid, start, 0
	if pid > 0 {
		m.pids[pid] = u
		u.mainAt = m.uptimeNow()
	}
}

func (m *Manager) setCtrl(u *service, pid int, start uint64) {
	if u.ctrlPID > 0 && m.pids[u.ctrlPID] == u {
		delete(m.pids, u.ctrlPID)
	}
	if u.ctrlPID > 0 {
		m.processEnded(u.unit, u.ctrlAt)
	}
	u.ctrlPID, u.ctrlStart, u.ctrlAt = pid, start, 0
	if pid > 0 {
		m.pids[pid] = u
		u.ctrlAt = m.uptimeNow()
	}
}

func (u *service) start(m *Manager) {
	u.stopping, u.pendingStop, u.result, u.statusText = false, false, resSuccess, ""
	u.adopted, u.waitReady = false, false
	cgErr := m.createCgroup(u)
	if cgErr != nil {
		m.logf("%s: %v", u.name, cgErr)
	}
	m.armStartTimeout(u, u.svc().TimeoutStartSec.D())
	if _, delegate := u.svc().DelegateControllers(); delegate && cgErr != nil {
		// A service that asked for its cgroup cannot run without it.
		m.setState(u.unit, svcCondition)
		m.commandFailed(u, resResources)
		return
	}
	m.enterPhase(u, svcCondition, u.svc().ExecCondition)
}

func (m *Manager) enterPhase(u *service, p serviceState, cmds units.Commands) {
	m.setState(u.unit, p)
	u.cmds, u.cmdIdx = cmds, 0
	m.step(u)
}

// step runs the next command of the current state, or moves on to the
// next state when there is none left.
func (m *Manager) step(u *service) {
	if d, ok := directive[u.phase()]; ok && u.cmdIdx < len(u.cmds) {
		pid, err := m.exec(u, u.cmds[u.cmdIdx], d, false)
		if err == nil {
			start, _ := m.procs.startTime(pid)
			m.setCtrl(u, pid, start)
			return
		}
		m.logf("%s: %v", u.name, err)
		if !u.cmds[u.cmdIdx].IgnoreFailure {
			m.commandFailed(u, resExec)
			return
		}
		u.cmdIdx++
		m.step(u)
		return
	}
	m.advance(u)
}

// advance moves u to the state after the current one.
func (m *Manager) advance(u *service) {
	s := u.svc()
	switch u.phase() {
	case svcCondition:
		m.enterPhase(u, svcStartPre, s.ExecStartPre)
		return
	case svcStartPre:
		if s.Type == "oneshot" || s.Type == "forking" {
			// The ExecStart commands run to completion; a forking service's
			// daemon is found afterwards.
			m.enterPhase(u, svcStart, s.ExecStart)
			return
		}
		pid, err := m.exec(u, s.ExecStart[0], "ExecStart", true)
		if err != nil {
			m.logf("%s: %v", u.name, err)
			m.commandFailed(u, resExec)
			return
		}
		start, _ := m.procs.startTime(pid)
		m.setMain(u, pid, start)
		if s.Type == "notify" {
			u.waitReady, u.cmds = true, nil
			m.setState(u.unit, svcStart)
			return
		}
		m.enterPhase(u, svcStartPost, s.ExecStartPost)
	case svcStart:
		if s.Type == "forking" {
			pid, err := m.forkedMainPID(u)
			if err != nil {
				m.logf("%s: %v", u.name, err)
				u.result = resProtocol
				m.enterPhase(u, svcStopPost, s.ExecStopPost)
				return
			}
			start, _ := m.procs.startTime(pid)
			m.setMain(u, pid, start)
		}
		m.enterPhase(u, svcStartPost, s.ExecStartPost)
	case svcStartPost:
		if u.startTimer != nil {
			u.startTimer.Stop()
		}
		switch {
		case s.Type != "oneshot":
			m.setState(u.unit, svcRunning)
			m.armWatchdog(u)
		case s.RemainAfterExit:
			m.setState(u.unit, svcExited)
		default:
			u.lastStop = m.now()
			m.removeCgroup(u)
			m.setState(u.unit, svcDead)
		}
		m.startEnded(u.unit, resultDone)
		if u.pendingStop {
			m.beginStop(u)
		}
	case svcStop:
		m.stopWatchdog(u)
		if u.mainPID > 0 && s.KillMode != "none" {
			sig := unix.SignalNum(s.KillSignal)
			switch s.KillMode {
			case "process", "mixed":
				_ = m.procs.kill(u.mainPID, sig)
			default:
				m.killUnit(u, sig)
			}
			m.setState(u.unit, svcStopSigterm)
			u.timer = m.after(s.TimeoutStopSec.D(), func() { m.stopTimeout(u) })
			return
		}
		m.enterPhase(u, svcStopPost, s.ExecStopPost)
	case svcStopSigterm:
		m.enterPhase(u, svcStopPost, s.ExecStopPost)
	case svcStopPost:
		m.finishStop(u)
	case svcReload:
		m.reloadDone(u, "")
	}
}

// forkedMainPID finds the daemon a forking service left behind: the pid in
// PIDFile=, or the one process left in its cgroup.
func (m *Manager) forkedMainPID(u *service) (int, error) {
	if f := u.svc().PIDFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("PIDFile: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("PIDFile %s: %q is not a pid", f, strings.TrimSpace(string(b)))
		}
		if err := unix.Kill(pid, 0); err != nil {
			return 0, fmt.Errorf("PIDFile %s: process %d: %w", f, pid, err)
		}
		return pid, nil
	}
	if m.cg != nil && u.cgroup != "" {
		procs, err := m.cg.Procs(u.cgroup)
		if err == nil && len(procs) == 1 {
			return procs[0], nil
		}
		return 0, fmt.Errorf("cannot tell the main process: %d processes in the cgroup and no PIDFile", len(procs))
	}
	return 0, fmt.Errorf("forking service without PIDFile: cannot tell its main process without cgroups")
}

// reloader is a kind that can reload its configuration in place.
type reloader interface {
	reload(m *Manager, done chan<- Response) error
}

// reload runs ExecReload=; done hears once it has ended.
func (u *service) reload(m *Manager, done chan<- Response) error {
	switch p := u.phase(); {
	case len(u.svc().ExecReload) == 0:
		return fmt.Errorf("%s cannot be reloaded: no ExecReload", u.name)
	case p != svcRunning && p != svcExited && p != svcReload:
		return fmt.Errorf("%s is not active (%s)", u.name, u.state)
	}
	u.reloadWaiters = append(u.reloadWaiters, done)
	if u.phase() != svcReload {
		m.enterPhase(u, svcReload, u.svc().ExecReload)
	}
	return nil
}

// reloadUnits reloads each unit and answers once all are done.
func (m *Manager) reloadUnits(names []string, ch chan<- Response) {
	var rs []reloader
	for _, n := range names {
		r, ok := m.units[n].k.(reloader)
		if !ok || m.units[n].cfg == nil {
			ch <- Response{Code: 1, Err: fmt.Sprintf("%s cannot be reloaded: no ExecReload", n)}
			return
		}
		rs = append(rs, r)
	}
	inner := make(chan Response, len(names))
	for _, r := range rs {
		if err := r.reload(m, inner); err != nil {
			inner <- Response{Code: 1, Err: err.Error()}
		}
	}
	m.propagateReload(names)
	go func() {
		var out Response
		for range names {
			if r := <-inner; r.Code != 0 {
				out = r
			}
		}
		ch <- out
	}()
}

// propagateReload reloads the units the named ones propagate their reload
// to, and theirs in turn, as systemd's try-reload: only those active and
// able to reload; their outcome is logged, not part of the answer.
func (m *Manager) propagateReload(names []string) {
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	var targets []string
	for queue := append([]string{}, names...); len(queue) > 0; queue = queue[1:] {
		for _, d := range m.g.reloadWith[queue[0]] {
			if !seen[d] {
				seen[d] = true
				targets = append(targets, d)
				queue = append(queue, d)
			}
		}
	}
	for _, n := range targets {
		u := m.units[n]
		if u == nil || u.cfg == nil || u.state != Active {
			continue
		}
		r, ok := u.k.(reloader)
		if !ok {
			continue
		}
		done := make(chan Response, 1)
		if err := r.reload(m, done); err != nil {
			m.logf("%s: reload propagated from %s not done: %v", n, strings.Join(names, " "), err)
		}
	}
}

func (m *Manager) reloadDone(u *service, failure string) {
	if u.state == Active {
		if u.svc().Type == "oneshot" {
			m.setState(u.unit, svcExited)
		} else {
			m.setState(u.unit, svcRunning)
		}
	}
	for _, w := range u.reloadWaiters {
		if failure != "" {
			w <- Response{Code: 1, Err: u.name + ": reload failed: " + failure}
		} else {
			w <- Response{}
		}
	}
	u.reloadWaiters = nil
	if u.pendingStop {
		m.beginStop(u)
	}
}

// commandFailed handles a failed start or stop command of u.
func (m *Manager) commandFailed(u *service, result unitResult) {
	switch u.phase() {
	case svcCondition, svcStartPre, svcStart, svcStartPost:
		u.result = result
		if u.mainPID > 0 {
			// Straight to the signals: ExecStop= is for a service that ran.
			m.setState(u.unit, svcStop)
			u.cmds, u.cmdIdx = nil, 0
			m.advance(u)
			return
		}
		m.enterPhase(u, svcStopPost, u.svc().ExecStopPost)
	case svcReload:
		m.reloadDone(u, result.String())
	default:
		u.cmdIdx++
		m.step(u)
	}
}

// finishStop settles u after its stop sequence, then applies Restart=.
func (m *Manager) finishStop(u *service) {
	m.setMain(u, 0, 0)
	u.adopted = false
	u.lastStop = m.now()
	m.stopWatchdog(u)
	if u.startTimer != nil {
		u.startTimer.Stop()
	}
	m.removeCgroup(u)
	restart := !u.stopping && !m.shuttingDown && m.shouldRestart(u)
	if err := execute.Cleanup(u.name, &u.svc().Sandbox, m.sandboxRoots(), restart); err != nil {
		m.logf("%s: %v", u.name, err)
	}
	if s := u.svc(); s.RemoveIPC && s.User != "" && !restart {
		if uid, _, _, err := execute.LookupUser(s.User); err == nil {
			if err := execute.RemoveIPC(uid); err != nil {
				m.logf("%s: %v", u.name, err)
			}
		}
	}
	if p := u.svc().PIDFile; p != "" {
		// As systemd: a PID file left behind is removed once the service is down.
		os.Remove(p)
	}
	switch {
	case restart:
		if u.result != resSuccess {
			m.logf("%s: failed (%s); restarting in %s", u.name, u.result, u.svc().RestartSec.D())
		}
		m.setState(u.unit, svcAutoRestart)
		u.timer = m.after(u.svc().RestartSec.D(), func() {
			if u.phase() != svcAutoRestart {
				return
			}
			u.restarts++
			m.logf("%s: scheduled restart (%d)", u.name, u.restarts)
			m.startUnit(u.unit)
		})
	case u.result != resSuccess && !u.stopping:
		m.setState(u.unit, svcFailed)
	default:
		m.setState(u.unit, svcDead)
	}
	// A start job that ends here has failed; a stop job has succeeded.
	m.stopEnded(u.unit)
}

func (m *Manager) shouldRestart(u *service) bool {
	if u.lastExitCode >= 0 && u.svc().RestartPreventExitStatus.Prevents(u.lastExitCode, u.lastExitSignal) {
		return false
	}
	if u.svc().RestartForceExitStatus.Prevents(u.lastExitCode, u.lastExitSignal) {
		return true
	}
	ok := u.result == resSuccess
	switch u.svc().Restart {
	case "always":
		return true
	case "on-success":
		return ok
	case "on-failure":
		return !ok
	case "on-abnormal":
		return u.result == resSignal || u.result == resTimeout || u.result == resWatchdog
	case "on-abort":
		return u.result == resSignal
	case "on-watchdog":
		return u.result == resWatchdog
	}
	return false
}

func (u *service) stop(m *Manager) {
	u.stopping = true
	switch p := u.phase(); {
	case p == svcAutoRestart || p == svcDead || p == svcFailed:
		if u.timer != nil {
			u.timer.Stop()
		}
		u.lastStop = m.now()
		m.setState(u.unit, svcDead)
		m.stopEnded(u.unit)
	case u.ctrlPID > 0:
		// Let the running command end first.
		u.pendingStop = true
		m.signalGroup(u.ctrlPID, unix.SIGTERM)
	default:
		m.beginStop(u)
	}
}

func (m *Manager) beginStop(u *service) {
	u.pendingStop = false
	// Without a main process (a oneshot with RemainAfterExit) only the stop
	// commands run; advance skips the signalling.
	m.enterPhase(u, svcStop, u.svc().ExecStop)
}

func (m *Manager) stopTimeout(u *service) {
	if u.phase() != svcStopSigterm || u.mainPID == 0 {
		return
	}
	u.result = resTimeout
	if s := u.svc(); s.SendSIGKILL != nil && !*s.SendSIGKILL {
		m.logf("%s: stop timed out; SendSIGKILL=false: leaving its processes", u.name)
		m.setMain(u, 0, 0)
		m.advance(u)
		return
	}
	m.logf("%s: stop timed out; killing", u.name)
	m.killUnit(u, unix.SIGKILL)
}

// processExited is called by the reaper (or the pidfd watcher of an
// adopted process) when pid ends; the pid index says whose it was.
func (m *Manager) processExited(pid int, ws unix.WaitStatus, known bool) {
	u := m.pids[pid]
	switch {
	case u == nil:
	case pid == u.mainPID:
		m.mainExited(u, ws, known)
	case pid == u.ctrlPID:
		m.ctrlExited(u, ws)
	}
}

func (m *Manager) mainExited(u *service, ws unix.WaitStatus, known bool) {
	desc, ok := "status unknown (exited while the manager was down)", false
	u.lastExitCode, u.lastExitSignal = -1, ""
	if known {
		desc, ok = exitStatus(ws)
		if ws.Exited() {
			u.lastExitCode = ws.ExitStatus()
		} else if ws.Signaled() {
			u.lastExitSignal = unix.SignalName(ws.Signal())
		}
		ok = ok || u.svc().SuccessExitStatus.Prevents(u.lastExitCode, u.lastExitSignal)
	}
	// Leftover processes of the service go with its main process.
	if km := u.svc().KillMode; km == "control-group" || km == "mixed" || km == "" {
		m.killUnit(u, unix.SIGKILL)
	}
	m.setMain(u, 0, 0)
	if u.timer != nil {
		u.timer.Stop()
	}
	if u.phase() == svcStopSigterm {
		m.advance(u)
		return
	}
	m.logf("%s: main process exited, %s", u.name, desc)
	if ok && u.waitReady && u.result == resSuccess {
		u.result = resProtocol // exited before READY=1
	}
	u.waitReady = false
	if !ok && u.result == resSuccess {
		u.result = resExitCode
		if known && ws.Signaled() {
			u.result = resSignal
		}
	}
	if u.ctrlPID > 0 {
		return // the control process ends the sequence
	}
	m.enterPhase(u, svcStopPost, u.svc().ExecStopPost)
}

func (m *Manager) ctrlExited(u *service, ws unix.WaitStatus) {
	m.setCtrl(u, 0, 0)
	desc, ok := exitStatus(ws)
	if u.pendingStop {
		if u.mainPID == 0 && u.state != Active {
			m.finishStop(u)
			return
		}
		m.beginStop(u)
		return
	}
	if !ok && u.phase() == svcCondition && ws.Exited() && ws.ExitStatus() < 255 {
		// As systemd: ExecCondition= exiting 1..254 skips the unit, it
		// does not fail it.
		m.logf("%s: ExecCondition %s exited, %s; skipped", u.name, u.cmds[u.cmdIdx].Argv[0], desc)
		if u.startTimer != nil {
			u.startTimer.Stop()
		}
		m.removeCgroup(u)
		m.setState(u.unit, svcDead)
		m.startEnded(u.unit, resultSkipped)
		return
	}
	if !ok && u.cmdIdx < len(u.cmds) && !u.cmds[u.cmdIdx].IgnoreFailure {
		m.logf("%s: %s exited, %s", u.name, u.cmds[u.cmdIdx].Argv[0], desc)
		m.commandFailed(u, resExitCode)
		return
	}
	if u.phase() == svcStartPost && u.mainPID == 0 && u.svc().Type != "oneshot" {
		// The main process died while ExecStartPost ran.
		m.enterPhase(u, svcStopPost, u.svc().ExecStopPost)
		return
	}
	u.cmdIdx++
	m.step(u)
}

// killUnit signals every process of u: its cgroup when it has one, else
// the session its main process leads.
func (m *Manager) killUnit(u *service, sig unix.Signal) {
	if m.cg != nil && u.cgroup != "" {
		if err := m.cg.Kill(u.cgroup, sig); err == nil {
			return
		}
	}
	m.signalGroup(u.mainPID, sig)
}

func (m *Manager) signalGroup(pid int, sig unix.Signal) {
	if pid <= 0 {
		return
	}
	// Services run in a session of their own: the group id is the pid.
	if err := m.procs.kill(-pid, sig); err != nil {
		_ = m.procs.kill(pid, sig)
	}
}
