// Package core is the service manager: it loads units, turns requests into
// jobs, runs the processes of services and keeps its state where a new
// manager process can pick it up.
//
// The flow, drawn in docs/core.md: unit files → graph (deps.go) →
// transaction (job.go) → jobs → kind (kind.go, one file per kind) →
// processes (exec.go, behind the seams of seams.go) → events (the loop of
// Manager.Run, poller.go) → state records (state.go).
package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/cgroup"
	"github.com/sysmaster-go/sysmaster/core/notify"
	"github.com/sysmaster-go/sysmaster/core/proto"
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
	// Cgroups lets a user-mode manager use cgroup2 (it must own a
	// delegated subtree); the system manager always tries.
	Cgroups bool
	// Fstab is read for mount units ("" = none).
	Fstab string
	// MachineID is the file holding the machine id, which seeds timers'
	// FixedRandomDelay ("" = none: the delay then rests on the name alone).
	MachineID string
	// MaxConnsPerUID bounds the control connections a uid other than
	// root has open at once (0: DefaultMaxConnsPerUID); RequestTimeout
	// is how long a connection may wait before sending its request (0:
	// DefaultRequestTimeout).
	MaxConnsPerUID int
	RequestTimeout time.Duration
	// Masked are units masked for the life of this boot (sysmaster.mask=
	// on the kernel command line), as a link to /dev/null would, without
	// touching the unit directories.
	Masked []string
}

// DefaultSystemConfig is the configuration of the system manager.
func DefaultSystemConfig() Config {
	return Config{
		UnitDirs:  []string{"/etc/sysmaster/units", "/lib/sysmaster/units"},
		StateDir:  "/run/sysmaster",
		Socket:    "/run/sysmaster/control.sock",
		Target:    "default.target",
		Console:   os.Stdout,
		Fstab:     "/etc/fstab",
		MachineID: "/etc/machine-id",
	}
}

// Manager is one running service manager. All of its state is owned by the
// goroutine in Run; other goroutines talk to it through channels.
type Manager struct {
	cfg   Config
	units map[string]*unit
	g     graph

	events  chan func()
	pending map[*job]struct{} // jobs not started yet
	conns   sync.WaitGroup    // control connections being served
	exited  chan struct{}

	stateChanged bool
	stateDirty   bool
	lastSave     time.Time
	written      map[string]savedUnit    // unit records as last written
	enabled      map[string]bool         // units linked from a .wants/.requires folder
	reexec       bool                    // exec a new binary in place once the loop ends
	afterSettle  []func()                // run once the state is saved
	poller       *poller                 // sockets, pidfds and path watches; nil until needed
	inh          *inherited              // descriptors from the previous manager process
	fdstore      *os.File                // init's store of our listening sockets
	reapedByInit map[int]unix.WaitStatus // exits init saw while no manager ran
	devLinks     map[string][]string     // device /sys path -> the device units it stands for
	devEpoch     deviceEpoch             // what the device manager's reports may count on (device.go)
	prefetch     chan *prefetched        // the previous process's state, being read
	verifyKey    *[16]byte               // digest of the unit files a cache was taken for
	jobsChanged  bool
	lastJobID    int
	orderGen     int              // bumped when the ordering between jobs may have changed
	pids         map[int]*service // main and control processes, to whom they belong
	clock        clock
	procs        processes
	shuttingDown bool
	exitAction   string // after shutdown: "", "poweroff", "reboot", "halt"
	finished     bool
	devnull      *os.File
	kmsg         *os.File // /dev/kmsg when writable, for StandardOutput="kmsg"
	self         string   // our own binary, run as the exec helper
	notify       *notify.Server
	cg           *cgroup.Manager // nil: process groups only
	host         units.Host
	started      time.Time
	kclock       kernelClock // where m.now() meets the kernel's clock
	boot         bootRecord
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
		cfg:      cfg,
		events:   make(chan func(), 64),
		pending:  map[*job]struct{}{},
		exited:   make(chan struct{}),
		devLinks: map[string][]string{},
		devEpoch: newDeviceEpoch(),
		pids:     map[int]*service{},
		clock:    systemClock{},
		procs:    systemProcesses{},
	}
	// The previous process's records are read while the units load.
	m.prefetchState()
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
	// Only the first load of a restarted manager takes the cache on trust.
	good, bad, err := m.loadUnits(m.units == nil)
	if err != nil {
		return err
	}
	if m.cfg.Fstab != "" {
		m.addFstab(good)
	}
	units.ResolveMountsFor(good)
	if m.units == nil {
		m.units = map[string]*unit{}
	}
	masked := maskedUnits(m.cfg.UnitDirs)
	for _, n := range m.cfg.Masked {
		masked[n] = true
	}
	for n := range masked {
		delete(good, n)
		bad[n] = errMasked
	}
	seen := map[string]bool{}
	for _, n := range sortedKeys(good) {
		seen[n] = true
		if u := m.units[n]; u != nil {
			// Runtime state survives a reload; only the configuration changes.
			u.cfg, u.loadErr = good[n], nil
			continue
		}
		m.units[n] = newUnit(n, good[n], nil)
	}
	for _, n := range sortedKeys(bad) {
		seen[n] = true
		if !errors.Is(bad[n], errMasked) {
			m.logf("bad unit: %v", bad[n])
		}
		if u := m.units[n]; u != nil && u.state != Inactive {
			u.loadErr = bad[n] // keep running with the old configuration
			continue
		}
		m.units[n] = newUnit(n, nil, bad[n])
	}
	for n, u := range m.units {
		if !seen[n] && u.state == Inactive && u.job == nil {
			delete(m.units, n)
		}
	}
	m.addDeviceUnits()
	m.buildGraph()
	m.scanEnabled()
	return nil
}

// addFstab turns /etc/fstab into mount units; a unit file of the same
// name wins. Mounts without noauto are pulled in by local-fs.target, or by
// the default target when there is no local-fs.target.
func (m *Manager) addFstab(good map[string]*units.Unit) {
	data, err := os.ReadFile(m.cfg.Fstab)
	if err != nil {
		if !os.IsNotExist(err) {
			m.logf("fstab: %v", err)
		}
		return
	}
	mounts, errs := units.ParseFstab(m.cfg.Fstab, data)
	for _, err := range errs {
		m.logf("fstab: %v", err)
	}
	for _, u := range mounts {
		if _, ok := good[u.Name]; ok {
			continue
		}
		good[u.Name] = u
		if len(u.Install.WantedBy) == 0 {
			continue
		}
		target := good["local-fs.target"]
		if target == nil {
			target = good[m.cfg.Target]
		}
		if target != nil {
			target.Unit.Wants = append(target.Unit.Wants, u.Name)
		}
	}
}

// instantiate loads a unit that is not loaded yet, such as a new instance
// of a template (getty@ttyS1.service), on demand.
func (m *Manager) instantiate(name string) bool {
	if units.ValidName(name) != nil {
		return false
	}
	l := &units.Loader{Dirs: m.cfg.UnitDirs}
	u, err := l.Load(name)
	if err != nil {
		return false
	}
	m.units[name] = newUnit(name, u, nil)
	m.buildGraph()
	return true
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

func (m *Manager) logf(format string, args ...any) {
	fmt.Fprintf(m.cfg.Console, "sysmaster: "+format+"\n", args...)
}

func itoa(i int) string { return strconv.Itoa(i) }

// after runs f on the manager goroutine once d has passed.
func (m *Manager) after(d time.Duration, f func()) timerHandle {
	return m.clock.afterFunc(d, func() { m.post(f) })
}

// post queues f to run on the manager goroutine.
func (m *Manager) post(f func()) {
	select {
	case m.events <- f:
	case <-m.exited:
	}
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

	m.started = m.now()
	m.startBoot()
	ready := takeReadyFD()
	if m.host == nil {
		m.host = units.SystemHost()
	}
	if m.self, err = os.Executable(); err != nil {
		return "", fmt.Errorf("own binary: %w", err)
	}
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil && !m.cfg.User {
		m.kmsg = f
		defer f.Close()
	}
	m.setupCgroups()

	if m.inh, err = takeInherited(); err != nil {
		m.logf("%v", err)
	}
	m.fdstore = takeFDStore()
	m.reapedByInit = takeReaped()
	go m.listenInit()
	ln, err := m.listenControl()
	if err != nil {
		return "", err
	}
	defer ln.Close()
	go m.serve(ln)
	if f, err := ln.File(); err == nil {
		m.storeFDs("control", f)
		f.Close()
	}

	if m.notify, err = m.listenNotify(filepath.Join(m.cfg.StateDir, "notify.sock")); err != nil {
		m.logf("no notify socket: %v", err)
	} else {
		defer m.notify.Close()
		if f, err := m.notify.File(); err == nil {
			m.storeFDs("notify", f)
			f.Close()
		}
		go func() {
			_ = m.notify.Run(func(msg *notify.Message) {
				// The manager closes the fds once it has handled the
				// message: that is what a BARRIER=1 sender waits for.
				cp := *msg
				msg.FDs = nil
				m.post(func() {
					m.notified(&cp)
					for _, f := range cp.FDs {
						f.Close()
					}
				})
			}, nil)
		}()
	}

	m.restoreState()
	// Children that ended while a previous process of ours ran or
	// re-executed are still waiting to be reaped.
	m.reap()
	// A target reached before a restart of the manager is not started
	// again: that would retry units that failed on purpose.
	if t := m.units[m.cfg.Target]; t == nil || t.state != Active {
		if err := m.startTransaction(m.cfg.Target); err != nil {
			m.logf("cannot start %s: %v", m.cfg.Target, err)
		}
	}
	m.settle()
	tellInit(ready)
	m.checkUnitFiles()

	done := ctx.Done()
loop:
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
			// Take what else is ready before settling: a burst of exits
			// or notifications then costs one dispatch and one save.
			for i := 0; i < 256; i++ {
				select {
				case f := <-m.events:
					f()
					continue
				default:
				}
				break
			}
		}
		m.settle()
	}
	if m.stateDirty {
		m.flushState()
	}
	if m.exitAction == "switch-root" {
		// The unit cache and the state records describe the old root: the
		// manager of the new one starts as on a fresh boot.
		_ = os.Remove(m.cachePath())
		_ = os.RemoveAll(m.unitStateDir())
	}
	// Let the answer to the request that ended us (poweroff,
	// daemon-reexec) go out.
	answered := make(chan struct{})
	go func() { m.conns.Wait(); close(answered) }()
	timeout := time.After(2 * time.Second)
	for waiting := true; waiting; {
		select {
		case <-answered:
			waiting = false
		case <-timeout:
			waiting = false
		case f := <-m.events:
			// The answers wait for this (see handleConn).
			f()
			for _, g := range m.afterSettle {
				g()
			}
			m.afterSettle = nil
		}
	}
	if m.reexec {
		// Keep serving if the exec fails: nothing was given up yet.
		err := m.execSelf(ln)
		m.logf("daemon-reexec failed: %v", err)
		m.reexec, m.finished = false, false
		goto loop
	}
	m.drainLogs(5 * time.Second)
	return m.exitAction, nil
}

// drainLogs lets the output of the last commands (an ExecStopPost= at
// shutdown) reach the console before the manager exits, waiting at most d.
func (m *Manager) drainLogs(d time.Duration) {
	done := make(chan struct{})
	go func() {
		for _, u := range m.units {
			if s, ok := u.k.(*service); ok && s.log != nil {
				s.log.Wait()
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// flushState writes the state file now.
func (m *Manager) flushState() {
	m.stateDirty = false
	m.lastSave = m.now()
	if err := m.saveState(); err != nil {
		m.logf("saving state: %v", err)
	}
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
		m.stateDirty = true
	}
	if m.stateDirty {
		m.flushState()
	}
	for _, f := range m.afterSettle {
		f()
	}
	m.afterSettle = nil
	if m.shuttingDown && !m.finished {
		for _, u := range m.units {
			if u.job != nil || u.k.busy() {
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
	m.procs.reap(func(pid int, ws unix.WaitStatus) { m.processExited(pid, ws, true) })
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
	m.stopTransaction(nil)
}

// takeReadyFD picks up the descriptor init passed and keeps it from
// leaking into services.
func takeReadyFD() *os.File {
	v, ok := os.LookupEnv(proto.EnvReadyFD)
	if !ok {
		return nil
	}
	os.Unsetenv(proto.EnvReadyFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "init-ready")
}

// tellInit writes the one byte init waits for.
func tellInit(f *os.File) {
	if f == nil {
		return
	}
	_, _ = f.Write([]byte{1})
	f.Close()
}
