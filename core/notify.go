package core

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/notify"
)

// notifyOwner finds the service a notification belongs to. The sender's
// pid comes from SCM_CREDENTIALS, so a process can only speak for itself:
// NotifyAccess=main accepts the main process, "exec" also the control
// process, "all" any process of the service.
func (m *Manager) notifyOwner(pid int) *service {
	if u := m.pids[pid]; u != nil && pid > 0 {
		switch access := u.svc().NotifyAccess; {
		case access == "none" || access == "":
		case pid == u.mainPID:
			return u
		case access == "exec" || access == "all":
			return u
		}
	}
	for _, n := range sortedNames(m.units) {
		u, ok := m.units[n].k.(*service)
		if ok && u.cfg != nil && u.svc().NotifyAccess == "all" && m.belongsTo(pid, u) {
			return u
		}
	}
	return nil
}

// belongsTo reports whether pid is one of u's processes: in its cgroup, or
// in the session its main or control process leads.
func (m *Manager) belongsTo(pid int, u *service) bool {
	if m.cg != nil && u.cgroup != "" {
		procs, _ := m.cg.Procs(u.cgroup)
		for _, p := range procs {
			if p == pid {
				return true
			}
		}
		return false
	}
	if u.mainPID <= 0 && u.ctrlPID <= 0 {
		return false
	}
	sid, err := unix.Getsid(pid)
	return err == nil && sid > 0 && (sid == u.mainPID || sid == u.ctrlPID)
}

// notified handles one sd_notify message on the manager goroutine.
func (m *Manager) notified(msg *notify.Message) {
	u := m.notifyOwner(msg.PID)
	if u == nil {
		m.logf("notification from pid %d ignored: not a process allowed to notify", msg.PID)
		return
	}
	if msg.Status != "" || msg.Fields["STATUS"] != "" {
		u.statusText = msg.Status
		m.stateChanged = true
	}
	if msg.MainPID > 0 && msg.MainPID != u.mainPID {
		start, _ := m.procs.startTime(msg.MainPID)
		m.setMain(u, msg.MainPID, start)
		m.stateChanged = true
	}
	if msg.ExtendTimeout > 0 {
		m.extendTimeout(u, msg.ExtendTimeout)
	}
	if msg.Reloading && u.phase() == svcRunning {
		m.setState(u.unit, svcReload)
	}
	if msg.Stopping && u.state == Active {
		m.setState(u.unit, svcStopSigterm)
	}
	if msg.Ready {
		switch {
		case u.waitReady:
			u.waitReady = false
			m.enterPhase(u, svcStartPost, u.svc().ExecStartPost)
		case u.phase() == svcReload && len(u.reloadWaiters) == 0:
			m.setState(u.unit, svcRunning)
		}
	}
	if msg.Watchdog {
		m.armWatchdog(u)
	}
	if msg.WatchdogTrigger {
		m.watchdogFired(u)
	}
}

// armWatchdog (re)starts u's watchdog timer: WatchdogSec= without a
// WATCHDOG=1 means the service hangs.
func (m *Manager) armWatchdog(u *service) {
	d := u.svc().WatchdogSec.D()
	if d <= 0 || u.state != Active {
		return
	}
	if u.watchdog != nil {
		u.watchdog.Stop()
	}
	pid := u.mainPID
	u.watchdog = m.after(d, func() {
		if u.mainPID == pid && u.state == Active {
			m.watchdogFired(u)
		}
	})
}

func (m *Manager) watchdogFired(u *service) {
	if u.mainPID == 0 {
		return
	}
	m.logf("%s: watchdog timeout (no WATCHDOG=1 within %s); aborting it", u.name, u.svc().WatchdogSec.D())
	u.result = resWatchdog
	m.signalGroup(u.mainPID, unix.SIGABRT)
}

func (m *Manager) stopWatchdog(u *service) {
	if u.watchdog != nil {
		u.watchdog.Stop()
		u.watchdog = nil
	}
}

// armStartTimeout fails a start that takes longer than TimeoutStartSec.
func (m *Manager) armStartTimeout(u *service, d time.Duration) {
	if u.startTimer != nil {
		u.startTimer.Stop()
	}
	if d <= 0 || d >= time.Duration(1<<62) {
		return
	}
	u.startTimer = m.after(d, func() {
		if u.state != Activating || u.phase() == svcAutoRestart {
			return
		}
		m.logf("%s: start timed out after %s; stopping it", u.name, d)
		u.result = resTimeout
		m.signalGroup(u.ctrlPID, unix.SIGTERM)
		m.signalGroup(u.mainPID, unix.SIGTERM)
		m.killLater(u)
	})
}

func (m *Manager) extendTimeout(u *service, d time.Duration) {
	switch {
	case u.state == Activating:
		m.armStartTimeout(u, d)
	case u.phase() == svcStopSigterm:
		if u.timer != nil {
			u.timer.Stop()
		}
		u.timer = m.after(d, func() { m.stopTimeout(u) })
	}
}

// killLater sends SIGKILL to what is left of u after TimeoutStopSec.
func (m *Manager) killLater(u *service) {
	ctrl, main := u.ctrlPID, u.mainPID
	m.after(u.svc().TimeoutStopSec.D(), func() {
		if ctrl > 0 && u.ctrlPID == ctrl {
			m.signalGroup(ctrl, unix.SIGKILL)
		}
		if main > 0 && u.mainPID == main {
			m.signalGroup(main, unix.SIGKILL)
		}
	})
}
