package core

import (
	"fmt"
	"strings"
)

// kind is the behaviour of one type of unit, and the state only that type
// has. Each unit has its own kind value; the job engine, the graph and the
// state store reach a kind only through these methods.
type kind interface {
	// typeName is the unit type: "service", "socket", …
	typeName() string
	// initial is the state of a unit that never started.
	initial() subState
	// parseSub reads a sub-state name back from a state record.
	parseSub(name string) (subState, bool)
	// checked says whether a start first checks dependencies,
	// conditions, asserts and the start limit (a device is only waited
	// for).
	checked() bool
	// start runs the start job of the unit; the kind reports its end
	// with Manager.startEnded.
	start(m *Manager)
	// stop runs the stop job; the kind reports its end with
	// Manager.stopEnded.
	stop(m *Manager)
	// edges adds the dependencies the kind implies to g.
	edges(m *Manager, g *graph)
	// busy reports whether processes of the unit still run.
	busy() bool
	// save puts what the kind keeps across a manager restart in rec;
	// restore takes it back (false: the record's state is not the
	// kind's to resume, the unit starts afresh); resume then gives the
	// unit what lived in the previous process (listening sockets, a
	// timer's schedule).
	save(rec *savedUnit)
	restore(m *Manager, rec savedUnit, pf *prefetched) bool
	resume(m *Manager)
	// describe adds what the kind knows to a status answer.
	describe(m *Manager, st *UnitStatus)
	// logged says whether state changes are worth a console line.
	logged() bool
	// isolated says whether isolate stops the unit.
	isolated() bool
}

// subState is a kind's own state, which systemd calls the sub-state; one
// table per kind maps each to its name and the unit's active state.
type subState interface {
	fmt.Stringer
	active() State
}

// stateInfo is one row of a kind's state table.
type stateInfo struct {
	name   string
	active State
}

// parseState finds the state called name in table.
func parseState[S ~uint8](table []stateInfo, name string) (S, bool) {
	for i, st := range table {
		if st.name == name {
			return S(i), true
		}
	}
	return 0, false
}

// unitResult is why a unit last stopped or failed, with systemd's names.
type unitResult uint8

const (
	resNone unitResult = iota // never ran
	resSuccess
	resResources
	resTimeout
	resExitCode
	resSignal
	resWatchdog
	resStartLimit
	resProtocol
	resAssert
	resExec
)

var unitResultNames = [...]string{
	resNone: "", resSuccess: "success", resResources: "resources", resTimeout: "timeout", resExitCode: "exit-code",
	resSignal: "signal", resWatchdog: "watchdog", resStartLimit: "start-limit-hit", resProtocol: "protocol",
	resAssert: "assert", resExec: "exec",
}

func (r unitResult) String() string { return unitResultNames[r] }

func parseResult(s string) unitResult {
	for i, n := range unitResultNames {
		if n == s {
			return unitResult(i)
		}
	}
	return resNone
}

// newKind returns the kind of the unit called name.
func newKind(u *unit) kind {
	switch u.name[strings.LastIndexByte(u.name, '.')+1:] {
	case "service":
		return &service{unit: u, lastExitCode: -1}
	case "socket":
		return &socket{unit: u}
	case "timer":
		return &timer{unit: u}
	case "mount":
		return &mount{unit: u}
	case "device":
		return &device{unit: u}
	case "path":
		return &pathUnit{unit: u}
	}
	return &target{unit: u}
}

// noKindState is what most kinds keep nothing of, or do nothing for.
type noKindState struct{}

func (noKindState) checked() bool                  { return true }
func (noKindState) busy() bool                     { return false }
func (noKindState) save(*savedUnit)                {}
func (noKindState) resume(*Manager)                {}
func (noKindState) describe(*Manager, *UnitStatus) {}
func (noKindState) logged() bool                   { return true }
func (noKindState) isolated() bool                 { return true }
func (noKindState) edges(*Manager, *graph)         {}

// restoreSimple takes back a record of a kind without processes: its
// state, when it was active or failed.
func restoreSimple(u *unit, rec savedUnit) bool {
	sub, ok := u.k.parseSub(rec.Sub)
	if !ok || sub.active() != rec.State || rec.State != Active && rec.State != Failed {
		return false
	}
	u.state, u.sub = sub.active(), sub
	u.result = parseResult(rec.Result)
	return true
}
