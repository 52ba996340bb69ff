// Package core is the service manager: it loads units, turns requests into
// jobs, runs the processes of services and keeps its state where a new
// manager process can pick it up.
package core

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
)

// Config says where a manager finds its units and keeps its state.
type Config struct {
	// User runs an unprivileged manager for tests and hosts; otherwise it
	// is the system manager under init.
	User     bool
	UnitDirs []string // searched in order: a unit in an earlier dir wins
	StateDir string
	Socket   string
	Target   string
	Console  io.Writer // state changes and service output
}

// DefaultSystemConfig is the configuration of the system manager.
func DefaultSystemConfig() Config {
	return Config{
		UnitDirs: []string{"/etc/sysmaster/units", "/lib/sysmaster/units"},
		StateDir: "/run/sysmaster",
		Socket:   "/run/sysmaster/control.sock",
		Target:   "default.target",
		Console:  os.Stdout,
	}
}

// Manager is one running service manager. All of its state is owned by the
// goroutine in Run; other goroutines talk to it through channels.
type Manager struct {
	cfg   Config
	units map[string]*unit
	g     graph

	events chan func()
	exited chan struct{}

	stateChanged bool
	jobsChanged  bool
	shuttingDown bool
	exitAction   string // after shutdown: "", "poweroff", "reboot", "halt"
	finished     bool
	devnull      *os.File
}

// New loads the units of cfg. Units that fail to load are kept, marked bad.
func New(cfg Config) (*Manager, error) {
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.Target == "" {
		cfg.Target = "default.target"
	}
	m := &Manager{
		cfg:    cfg,
		events: make(chan func(), 64),
		exited: make(chan struct{}),
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manager) load() error {
	found := false
	for _, dir := range m.cfg.UnitDirs {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("no unit directory found (looked in %s)", strings.Join(m.cfg.UnitDirs, ", "))
	}
	l := &units.Loader{Dirs: m.cfg.UnitDirs}
	good, bad, err := l.LoadAll()
	if err != nil {
		return err
	}
	if m.units == nil {
		m.units = map[string]*unit{}
	}
	seen := map[string]bool{}
	for _, n := range sortedKeys(good) {
		seen[n] = true
		if u := m.units[n]; u != nil {
			// Runtime state survives a reload; only the configuration changes.
			u.cfg, u.loadErr = good[n], nil
			if u.sub == "bad" {
				u.sub = "dead"
			}
			continue
		}
		m.units[n] = &unit{name: n, cfg: good[n], state: Inactive, sub: "dead"}
	}
	for _, n := range sortedKeys(bad) {
		seen[n] = true
		m.logf("bad unit: %v", bad[n])
		if u := m.units[n]; u != nil && u.state != Inactive {
			u.loadErr = bad[n] // keep running with the old configuration
			continue
		}
		m.units[n] = &unit{name: n, loadErr: bad[n], state: Inactive, sub: "bad"}
	}
	for n, u := range m.units {
		if !seen[n] && u.state == Inactive && u.job == nil {
			delete(m.units, n)
		}
	}
	m.buildGraph()
	return nil
}

// reload reads the unit files again (sctl daemon-reload).
func (m *Manager) reload() error {
	if err := m.load(); err != nil {
		return err
	}
	m.logf("reloaded %d units", len(m.units))
	return nil
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedNames(m map[string]*unit) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m *Manager) sortedUnits() []*unit {
	out := make([]*unit, 0, len(m.units))
	for _, n := range sortedNames(m.units) {
		out = append(out, m.units[n])
	}
	return out
}

func (m *Manager) logf(format string, args ...any) {
	fmt.Fprintf(m.cfg.Console, "sysmaster: "+format+"\n", args...)
}

func itoa(i int) string { return strconv.Itoa(i) }

// after runs f on the manager goroutine once d has passed.
func (m *Manager) after(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { m.post(f) })
}

// post queues f to run on the manager goroutine.
func (m *Manager) post(f func()) {
	select {
	case m.events <- f:
	case <-m.exited:
	}
}

// exec starts one command of u.
func (m *Manager) exec(u *unit, c units.Command) (int, error) {
	s := u.svc()
	spec := spawnSpec{
		argv:   c.Argv,
		env:    m.environment(u),
		dir:    s.WorkingDirectory,
		stdin:  m.devnull,
		stdout: m.outputFile(s.StandardOutput),
		stderr: m.outputFile(s.StandardError),
	}
	if spec.dir == "" {
		spec.dir = "/"
	}
	if s.StandardInput == "tty" {
		tty, err := os.OpenFile(consoleTTY(s.TTYPath), os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return 0, fmt.Errorf("open TTYPath: %w", err)
		}
		defer tty.Close()
		spec.stdin, spec.setctty = tty, true
		spec.stdout, spec.stderr = tty, tty
	}
	return spawn(spec)
}

func (m *Manager) outputFile(kind string) *os.File {
	if kind == "null" {
		return m.devnull
	}
	if f, ok := m.cfg.Console.(*os.File); ok {
		return f
	}
	return m.devnull
}

func (m *Manager) environment(u *unit) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if m.cfg.User {
		for _, k := range []string{"PATH", "HOME", "USER", "LANG"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	env = append(env, "SYSMASTER_UNIT="+u.name)
	if m.cfg.Socket != "" {
		env = append(env, "SYSMASTER_SOCKET="+m.cfg.Socket)
	}
	return append(env, u.svc().Environment...)
}

// Run starts the target and serves requests until the manager is told to
// shut down (or ctx ends), then stops every unit in reverse order. It
// returns what should happen next: "", "poweroff", "reboot" or "halt".
func (m *Manager) Run(ctx context.Context) (string, error) {
	defer close(m.exited)
	var err error
	if m.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return "", fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer m.devnull.Close()
	if err := os.MkdirAll(m.cfg.StateDir, 0o755); err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	// Orphaned service processes come back to us, not to init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		m.logf("cannot become child subreaper: %v", err)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)

	ln, err := m.listen()
	if err != nil {
		return "", err
	}
	defer ln.Close()
	go m.serve(ln)

	m.restoreState()
	// A target reached before a restart of the manager is not started
	// again: that would retry units that failed on purpose.
	if t := m.units[m.cfg.Target]; t == nil || t.state != Active {
		if err := m.startTransaction(m.cfg.Target, nil); err != nil {
			m.logf("cannot start %s: %v", m.cfg.Target, err)
		}
	}
	m.settle()

	done := ctx.Done()
	for !m.finished {
		select {
		case <-done:
			done = nil
			m.shutdown("")
		case s := <-sigs:
			switch s {
			case unix.SIGCHLD:
				m.reap()
			case unix.SIGHUP:
			default:
				m.shutdown("")
			}
		case f := <-m.events:
			f()
		}
		m.settle()
	}
	return m.exitAction, nil
}

// settle runs pending jobs, saves state that changed and ends a finished
// shutdown.
func (m *Manager) settle() {
	for m.jobsChanged {
		m.jobsChanged = false
		m.dispatch()
	}
	if m.stateChanged {
		m.stateChanged = false
		if err := m.saveState(); err != nil {
			m.logf("saving state: %v", err)
		}
	}
	if m.shuttingDown && !m.finished {
		for _, u := range m.units {
			if u.job != nil || u.mainPID > 0 || u.ctrlPID > 0 {
				return
			}
		}
		m.finished = true
		m.logf("all units stopped")
	}
}

// reap collects every exited child; the manager is a subreaper, so these
// are service processes and orphans left by them.
func (m *Manager) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		m.processExited(pid, ws, true)
	}
}

// shutdown stops every unit in reverse order; action says what follows.
func (m *Manager) shutdown(action string) {
	if m.shuttingDown {
		return
	}
	if action != "" {
		m.logf("stopping all units for %s", action)
	} else {
		m.logf("stopping all units")
	}
	m.shuttingDown = true
	m.exitAction = action
	m.stopTransaction(nil, nil)
}

// Paths of the files the manager keeps.
func (m *Manager) statePath() string { return filepath.Join(m.cfg.StateDir, "state.json") }
