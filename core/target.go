package core

// target groups units: it is active once what it pulls in is up.
type target struct {
	*unit
	noKindState
}

type targetState uint8

const (
	targetDead targetState = iota
	targetActive
)

var targetStates = []stateInfo{targetDead: {"dead", Inactive}, targetActive: {"active", Active}}

func (s targetState) String() string { return targetStates[s].name }
func (s targetState) active() State  { return targetStates[s].active }

func (t *target) typeName() string  { return "target" }
func (t *target) initial() subState { return targetDead }
func (t *target) parseSub(n string) (subState, bool) {
	return parseState[targetState](targetStates, n)
}

func (t *target) start(m *Manager) {
	m.setState(t.unit, targetActive)
	m.startEnded(t.unit, resultDone)
}

func (t *target) stop(m *Manager) {
	t.lastStop = m.now()
	m.setState(t.unit, targetDead)
	m.stopEnded(t.unit)
}

// edges orders a target after everything it pulls in.
func (t *target) edges(m *Manager, g *graph) {
	for _, w := range m.wantsOf(t.unit) {
		g.add(g.after, t.unit.name, w)
	}
}

func (t *target) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	return restoreSimple(t.unit, rec)
}
