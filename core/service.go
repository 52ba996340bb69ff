package core

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
)

// Start limits: a unit started more often than this is a crash loop.
const (
	startLimitBurst    = 5
	startLimitInterval = 10 * time.Second
)

func (m *Manager) setState(u *unit, s State, sub string) {
	if u.state == s && u.sub == sub {
		return
	}
	old := u.state
	u.state, u.sub = s, sub
	u.since = time.Now()
	detail := ""
	if u.mainPID > 0 && s == Active {
		detail = " (pid " + itoa(u.mainPID) + ")"
	}
	// Devices come and go by the hundred at boot: only a device some unit
	// waited for is worth a line (see deviceChanged).
	if old != s && u.kind() != "device" {
		m.logf("%s: %s -> %s%s", u.name, old, s, detail)
	}
	m.stateChanged = true
	if len(m.pending) > 0 {
		m.jobsChanged = true // a job may have waited for this unit to settle
	}
	if (old == Active || old == Deactivating || old == Activating) && (s == Inactive || s == Failed) {
		m.wentDown(u, s == Failed)
		for _, sock := range m.socketsFor(u.name) {
			m.watchSocket(sock)
		}
	}
	m.rearmTimersFor(u.name)
}

// startUnit runs the start job of u.
func (m *Manager) startUnit(u *unit) {
	if u.cfg == nil {
		m.startEnded(u, resultFailed)
		return
	}
	if u.kind() == "device" {
		m.startDevice(u)
		return
	}
	if d, bad := m.failedDependency(u); bad {
		m.logf("%s: dependency %s failed or is not active; not starting", u.name, d)
		m.startEnded(u, resultDependency)
		return
	}
	if failed, ok := u.cfg.CheckConditions(m.host); !ok {
		m.logf("%s: condition %s not met; skipped", u.name, failed)
		m.startEnded(u, resultSkipped)
		return
	}
	if failed, ok := u.cfg.CheckAsserts(m.host); !ok {
		m.logf("%s: assertion %s failed", u.name, failed)
		u.result = "assert"
		m.startEnded(u, resultAssert)
		return
	}
	if !m.withinStartLimit(u) {
		return
	}
	u.lastStart = time.Now()
	switch u.kind() {
	case "service":
	case "socket":
		m.startSocket(u)
		return
	case "timer":
		m.startTimer(u)
		return
	case "mount":
		m.startMount(u)
		return
	default:
		m.setState(u, Active, "active")
		m.startEnded(u, resultDone)
		return
	}
	u.stopping, u.pendingStop, u.result, u.statusText = false, false, "success", ""
	u.adopted = false
	if err := m.createCgroup(u); err != nil {
		m.logf("%s: %v", u.name, err)
	}
	m.setState(u, Activating, "start-pre")
	m.armStartTimeout(u, u.svc().TimeoutStartSec.D())
	m.enterPhase(u, phaseStartPre, u.svc().ExecStartPre)
}

// withinStartLimit counts a start of u; a unit started more than
// StartLimitBurst times within StartLimitIntervalSec is a crash loop and
// fails instead (start-limit-hit).
func (m *Manager) withinStartLimit(u *unit) bool {
	burst, interval := startLimitBurst, startLimitInterval
	if u.cfg.Unit.StartLimitBurst > 0 {
		burst = u.cfg.Unit.StartLimitBurst
	}
	if u.cfg.Unit.StartLimitIntervalSec > 0 {
		interval = u.cfg.Unit.StartLimitIntervalSec.D()
	}
	now := time.Now()
	var recent []time.Time
	for _, t := range u.starts {
		if now.Sub(t) < interval {
			recent = append(recent, t)
		}
	}
	u.starts = append(recent, now)
	if len(u.starts) <= burst {
		return true
	}
	u.result = "start-limit-hit"
	m.logf("%s: started %d times within %s; giving up (start-limit-hit)", u.name, burst, interval)
	m.setState(u, Failed, "failed")
	m.startEnded(u, resultFailed)
	return false
}

func (m *Manager) enterPhase(u *unit, p phase, cmds units.Commands) {
	u.phase, u.cmds, u.cmdIdx = p, cmds, 0
	m.step(u)
}

// step runs the next command of the current phase, or moves to the next
// phase when there is none left.
func (m *Manager) step(u *unit) {
	switch u.phase {
	case phaseStartPre, phaseStart, phaseStartPost, phaseStop, phaseStopPost, phaseReload:
		if u.cmdIdx < len(u.cmds) {
			pid, err := m.exec(u, u.cmds[u.cmdIdx], phaseDirective[u.phase], false)
			if err == nil {
				u.ctrlPID = pid
				u.ctrlStart, _ = procStartTime(pid)
				return
			}
			m.logf("%s: %v", u.name, err)
			if !u.cmds[u.cmdIdx].IgnoreFailure {
				m.commandFailed(u, "exec")
				return
			}
			u.cmdIdx++
			m.step(u)
			return
		}
	}
	m.advance(u)
}

var phaseDirective = map[phase]string{
	phaseStartPre: "ExecStartPre", phaseStart: "ExecStart", phaseStartPost: "ExecStartPost",
	phaseStop: "ExecStop", phaseStopPost: "ExecStopPost", phaseReload: "ExecReload",
}

// advance moves u to the phase after the current one.
func (m *Manager) advance(u *unit) {
	s := u.svc()
	switch u.phase {
	case phaseStartPre:
		if s.Type == "oneshot" || s.Type == "forking" {
			// The ExecStart commands run to completion; a forking service's
			// daemon is found afterwards.
			m.setState(u, Activating, "start")
			m.enterPhase(u, phaseStart, s.ExecStart)
			return
		}
		pid, err := m.exec(u, s.ExecStart[0], "ExecStart", true)
		if err != nil {
			m.logf("%s: %v", u.name, err)
			m.commandFailed(u, "exec")
			return
		}
		u.mainPID = pid
		u.startTime, _ = procStartTime(pid)
		if s.Type == "notify" {
			u.phase = phaseWaitReady
			m.setState(u, Activating, "start")
			return
		}
		m.setState(u, Activating, "start-post")
		m.enterPhase(u, phaseStartPost, s.ExecStartPost)
	case phaseStart:
		if s.Type == "forking" {
			pid, err := m.forkedMainPID(u)
			if err != nil {
				m.logf("%s: %v", u.name, err)
				u.result = "protocol"
				m.enterPhase(u, phaseStopPost, s.ExecStopPost)
				return
			}
			u.mainPID = pid
			u.startTime, _ = procStartTime(pid)
		}
		m.setState(u, Activating, "start-post")
		m.enterPhase(u, phaseStartPost, s.ExecStartPost)
	case phaseStartPost:
		u.phase = phaseRunning
		if u.startTimer != nil {
			u.startTimer.Stop()
		}
		switch {
		case s.Type != "oneshot":
			m.setState(u, Active, "running")
			m.armWatchdog(u)
		case s.RemainAfterExit:
			m.setState(u, Active, "exited")
		default:
			u.lastStop = time.Now()
			m.removeCgroup(u)
			m.setState(u, Inactive, "dead")
		}
		m.startEnded(u, resultDone)
		if u.pendingStop {
			m.beginStop(u)
		}
	case phaseStop:
		m.stopWatchdog(u)
		if u.mainPID > 0 && s.KillMode != "none" {
			sig := unix.SignalNum(s.KillSignal)
			switch s.KillMode {
			case "process", "mixed":
				_ = unix.Kill(u.mainPID, sig)
			default:
				m.killUnit(u, sig)
			}
			u.phase = phaseStopSigterm
			m.setState(u, Deactivating, "stop-sigterm")
			u.timer = m.after(s.TimeoutStopSec.D(), func() { m.stopTimeout(u) })
			return
		}
		m.enterPhase(u, phaseStopPost, s.ExecStopPost)
	case phaseStopSigterm:
		m.enterPhase(u, phaseStopPost, s.ExecStopPost)
	case phaseStopPost:
		m.finishStop(u)
	case phaseReload:
		m.reloadDone(u, "")
	}
}

// forkedMainPID finds the daemon a forking service left behind: the pid in
// PIDFile=, or the one process left in its cgroup.
func (m *Manager) forkedMainPID(u *unit) (int, error) {
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

// reloadUnits runs ExecReload= of each unit and answers once all are done.
func (m *Manager) reloadUnits(names []string, ch chan<- Response) {
	for _, n := range names {
		u := m.units[n]
		switch {
		case u.cfg == nil || u.kind() != "service" || len(u.svc().ExecReload) == 0:
			ch <- Response{Code: 1, Err: fmt.Sprintf("%s cannot be reloaded: no ExecReload", n)}
			return
		case u.state != Active || u.phase != phaseRunning:
			ch <- Response{Code: 1, Err: fmt.Sprintf("%s is not active (%s)", n, u.state)}
			return
		}
	}
	inner := make(chan Response, len(names))
	for _, n := range names {
		u := m.units[n]
		u.reloadWaiters = append(u.reloadWaiters, inner)
		if u.sub != "reload" {
			m.setState(u, Active, "reload")
			m.enterPhase(u, phaseReload, u.svc().ExecReload)
		}
	}
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

func (m *Manager) reloadDone(u *unit, failure string) {
	u.phase = phaseRunning
	if u.state == Active {
		u.sub = "running"
		if u.svc().Type == "oneshot" {
			u.sub = "exited"
		}
		m.stateChanged = true
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
func (m *Manager) commandFailed(u *unit, result string) {
	switch u.phase {
	case phaseStartPre, phaseStart, phaseStartPost:
		u.result = result
		if u.mainPID > 0 {
			u.phase = phaseStop
			u.cmds, u.cmdIdx = nil, 0
			m.advance(u)
			return
		}
		m.enterPhase(u, phaseStopPost, u.svc().ExecStopPost)
	case phaseReload:
		m.reloadDone(u, result)
	default:
		u.cmdIdx++
		m.step(u)
	}
}

// finishStop settles u after its stop sequence, then applies Restart=.
func (m *Manager) finishStop(u *unit) {
	u.phase = phaseNone
	u.mainPID, u.startTime, u.adopted = 0, 0, false
	u.lastStop = time.Now()
	m.stopWatchdog(u)
	if u.startTimer != nil {
		u.startTimer.Stop()
	}
	m.removeCgroup(u)
	// A start job that ends here has failed; a stop job has succeeded.
	m.stopEnded(u)
	if !u.stopping && !m.shuttingDown && m.shouldRestart(u) {
		if u.result != "success" {
			m.logf("%s: failed (%s); restarting in %s", u.name, u.result, u.svc().RestartSec.D())
		}
		u.phase = phaseAutoRestart
		m.setState(u, Activating, "auto-restart")
		u.timer = m.after(u.svc().RestartSec.D(), func() {
			if u.phase != phaseAutoRestart {
				return
			}
			u.phase = phaseNone
			u.restarts++
			m.logf("%s: scheduled restart (%d)", u.name, u.restarts)
			m.startUnit(u)
		})
		return
	}
	if u.result != "success" && !u.stopping {
		m.setState(u, Failed, "failed")
	} else {
		m.setState(u, Inactive, "dead")
	}
}

func (m *Manager) shouldRestart(u *unit) bool {
	if u.lastExitCode >= 0 && u.svc().RestartPreventExitStatus.Prevents(u.lastExitCode, u.lastExitSignal) {
		return false
	}
	ok := u.result == "success"
	switch u.svc().Restart {
	case "always":
		return true
	case "on-success":
		return ok
	case "on-failure":
		return !ok
	case "on-abnormal":
		return u.result == "signal" || u.result == "timeout" || u.result == "watchdog"
	}
	return false
}

// stopUnit runs the stop job of u.
func (m *Manager) stopUnit(u *unit) {
	switch {
	case u.cfg == nil:
	case u.kind() == "device":
		// Devices come and go with the hardware, not with jobs.
		m.stopDeviceWait(u)
		m.stopEnded(u)
		return
	case u.kind() == "socket":
		m.stopSocket(u)
	case u.kind() == "timer":
		m.stopTimer(u)
	case u.kind() == "mount":
		m.stopMount(u)
		return
	case u.kind() == "service":
		m.stopService(u)
		return
	}
	u.lastStop = time.Now()
	m.setState(u, Inactive, "dead")
	m.stopEnded(u)
}

func (m *Manager) stopService(u *unit) {
	u.stopping = true
	if u.phase == phaseAutoRestart || u.phase == phaseNone || u.phase == phaseRunning && u.mainPID == 0 && u.state != Active {
		if u.timer != nil {
			u.timer.Stop()
		}
		u.phase = phaseNone
		m.setState(u, Inactive, "dead")
		m.stopEnded(u)
		return
	}
	if u.ctrlPID > 0 {
		// Let the running command end first.
		u.pendingStop = true
		m.signalGroup(u.ctrlPID, unix.SIGTERM)
		return
	}
	m.beginStop(u)
}

func (m *Manager) beginStop(u *unit) {
	u.pendingStop = false
	// Without a main process (a oneshot with RemainAfterExit) only the stop
	// commands run; advance skips the signalling.
	m.setState(u, Deactivating, "stop")
	m.enterPhase(u, phaseStop, u.svc().ExecStop)
}

func (m *Manager) stopTimeout(u *unit) {
	if u.phase != phaseStopSigterm || u.mainPID == 0 {
		return
	}
	u.result = "timeout"
	if s := u.svc(); s.SendSIGKILL != nil && !*s.SendSIGKILL {
		m.logf("%s: stop timed out; SendSIGKILL=false: leaving its processes", u.name)
		u.mainPID = 0
		m.advance(u)
		return
	}
	m.logf("%s: stop timed out; killing", u.name)
	m.killUnit(u, unix.SIGKILL)
}

// processExited is called by the reaper (or the pidfd watcher of an
// adopted process) when pid ends.
func (m *Manager) processExited(pid int, ws unix.WaitStatus, known bool) {
	for _, u := range m.units {
		switch pid {
		case u.mainPID:
			m.mainExited(u, ws, known)
			return
		case u.ctrlPID:
			m.ctrlExited(u, ws)
			return
		}
	}
}

func (m *Manager) mainExited(u *unit, ws unix.WaitStatus, known bool) {
	desc, ok := "status unknown (exited while the manager was down)", false
	u.lastExitCode, u.lastExitSignal = -1, ""
	if known {
		desc, ok = exitStatus(ws)
		if ws.Exited() {
			u.lastExitCode = ws.ExitStatus()
		} else if ws.Signaled() {
			u.lastExitSignal = unix.SignalName(ws.Signal())
		}
	}
	// Leftover processes of the service go with its main process.
	if km := u.svc().KillMode; km == "control-group" || km == "mixed" || km == "" {
		m.killUnit(u, unix.SIGKILL)
	}
	u.mainPID, u.startTime = 0, 0
	if u.timer != nil {
		u.timer.Stop()
	}
	if u.phase == phaseStopSigterm {
		m.advance(u)
		return
	}
	m.logf("%s: main process exited, %s", u.name, desc)
	if ok && u.phase == phaseWaitReady && u.result == "success" {
		u.result = "protocol" // exited before READY=1
	}
	if !ok && u.result == "success" {
		u.result = "exit-code"
		if known && ws.Signaled() {
			u.result = "signal"
		}
	}
	if u.ctrlPID > 0 {
		return // the control process ends the sequence
	}
	m.enterPhase(u, phaseStopPost, u.svc().ExecStopPost)
}

func (m *Manager) ctrlExited(u *unit, ws unix.WaitStatus) {
	u.ctrlPID = 0
	desc, ok := exitStatus(ws)
	if u.pendingStop {
		u.phase = phaseRunning
		if u.mainPID == 0 && u.state != Active {
			m.finishStop(u)
			return
		}
		m.beginStop(u)
		return
	}
	if !ok && u.cmdIdx < len(u.cmds) && !u.cmds[u.cmdIdx].IgnoreFailure {
		m.logf("%s: %s exited, %s", u.name, u.cmds[u.cmdIdx].Argv[0], desc)
		m.commandFailed(u, "exit-code")
		return
	}
	if u.phase == phaseStartPost && u.mainPID == 0 && u.svc().Type != "oneshot" {
		// The main process died while ExecStartPost ran.
		m.enterPhase(u, phaseStopPost, u.svc().ExecStopPost)
		return
	}
	u.cmdIdx++
	m.step(u)
}

// killUnit signals every process of u: its cgroup when it has one, else
// the session its main process leads.
func (m *Manager) killUnit(u *unit, sig unix.Signal) {
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
	if err := unix.Kill(-pid, sig); err != nil {
		_ = unix.Kill(pid, sig)
	}
}
