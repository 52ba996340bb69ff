package core

import (
	"time"

	"github.com/sysmaster-go/sysmaster/core/logbuf"

	"github.com/sysmaster-go/sysmaster/units"
)

// State is a unit's active state, as systemd names it.
type State string

// Unit active states.
const (
	Inactive     State = "inactive"
	Activating   State = "activating"
	Active       State = "active"
	Deactivating State = "deactivating"
	Failed       State = "failed"
)

// phase is where a service is in its start or stop sequence.
type phase int

const (
	phaseNone phase = iota
	phaseStartPre
	phaseStart // oneshot ExecStart commands, one after another
	phaseStartPost
	phaseRunning
	phaseStop
	phaseStopSigterm
	phaseStopPost
	phaseAutoRestart
	phaseReload
	phaseWaitReady // a notify service waits for READY=1
)

// unit is the manager's runtime view of one unit: its configuration and
// what is happening to it now. Jobs and processes are separate things that
// point at it.
type unit struct {
	name    string
	cfg     *units.Unit // nil when the file failed to load
	loadErr error

	state State
	sub   string

	phase     phase
	cmds      units.Commands
	cmdIdx    int
	mainPID   int
	ctrlPID   int
	ctrlStart uint64 // of ctrlPID
	startTime uint64 // of mainPID, to recognise it after a core restart
	adopted   bool   // mainPID is not our child: watched through a pidfd
	result    string // "success", "exit-code", "signal", "timeout", "start-limit-hit"

	lastJobFailed  bool
	lastExitCode   int // of the main process; -1 when it did not exit normally
	lastExitSignal string

	stopping    bool // a stop was asked for: do not restart
	pendingStop bool // stop once the running control process ends
	starts      []time.Time
	restarts    int
	since       time.Time

	timer *time.Timer
	job   *job

	reloadWaiters []chan<- Response
	log           *logbuf.Ring

	cgroup     string // the service's cgroup, "" without cgroup support
	statusText string // STATUS= from sd_notify
	startTimer *time.Timer
	watchdog   *time.Timer
	lastStart  time.Time // when the unit last began to start (timers)
	lastStop   time.Time // when it last went down

	sock *socketState
	tmr  *timerState
}

func (u *unit) svc() *units.ServiceSection { return &u.cfg.Service }

func (u *unit) kind() string {
	if u.cfg != nil {
		return u.cfg.Kind()
	}
	for i := len(u.name) - 1; i >= 0; i-- {
		if u.name[i] == '.' {
			return u.name[i+1:]
		}
	}
	return ""
}

func (u *unit) description() string {
	if u.cfg != nil && u.cfg.Unit.Description != "" {
		return u.cfg.Unit.Description
	}
	return u.name
}

// files lists the unit's file and its drop-ins.
func (u *unit) files() []string {
	if u.cfg == nil {
		return nil
	}
	return append([]string{u.cfg.Path}, u.cfg.DropIns...)
}
