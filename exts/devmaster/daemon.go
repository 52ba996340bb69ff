// Package devmaster is the device manager of sysmaster, a small udev: it
// receives the kernel's uevents, loads modules for new devices, applies the
// device rules (node ownership and mode, /dev symlinks, properties,
// programs, units), keeps the udev database for libudev programs, and tells
// the service manager about devices. At start it handles an "add" event
// for every device, made up from sysfs (coldplug), and reports readiness
// once they are handled. The
// devctl applet (CtlMain) inspects and drives it.
package devmaster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysmaster-go/sysmaster/core/notify"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// Defaults of the applets' flags.
const (
	DefaultSysRoot       = "/sys"
	DefaultDevRoot       = "/dev"
	DefaultRunRoot       = "/run"
	DefaultManagerSocket = "/run/sysmaster/control.sock"
	DefaultExecTimeout   = 30 * time.Second
)

// DefaultRulesDirs are the rules directories, read in order: a file in an
// earlier one overrides one of the same name in a later one.
func DefaultRulesDirs() []string { return []string{"/etc/devmaster/rules.d", "/lib/devmaster/rules.d"} }

// DefaultControl is the control socket under a run root.
func DefaultControl(runRoot string) string {
	return filepath.Join(runRoot, "devmaster", "control.sock")
}

// DefaultWorkers is the number of events handled at once: mostly I/O and
// module loading, so a few per CPU, capped to keep a small board's memory.
func DefaultWorkers() int { return min(max(2*runtime.NumCPU(), 2), 16) }

// Source delivers uevents: the kernel's netlink socket (a *uevent.Conn) on
// a board, a fake in tests.
type Source interface {
	// Wait blocks until events may be pending; it fails once closed.
	Wait() error
	// Drain hands every pending event to fn without blocking, and the
	// reason each dropped message was dropped to bad. It fails only when
	// the source does.
	Drain(fn func(*uevent.Event), bad func(error)) error
	Close() error
}

// Config configures a Daemon. Zero fields take the defaults.
type Config struct {
	SysRoot, DevRoot, RunRoot string
	RulesDirs                 []string
	// Control is the control socket's path; "" disables it.
	Control     string
	Workers     int
	ExecTimeout time.Duration // per RUN program
	// Coldplug handles an add for every device at start, made up from
	// sysfs; without it the daemon is ready at once.
	Coldplug bool
	Debug    bool // log every event

	Source  Source       // nil: the kernel's netlink socket
	Manager Manager      // nil: devices are not announced
	Loader  ModuleLoader // nil: no modules are loaded
	Log     *log.Logger  // nil: standard error
	// Notify reports state to the service manager; nil: notify.Notify.
	Notify func(state string) error
}

// Daemon is a running devmaster.
type Daemon struct {
	cfg   Config
	log   *log.Logger
	host  host
	rules atomic.Pointer[rules.Set]
	mods  *modules
	ids   *ids
	mgr   Manager
	src   Source
	// trigger makes the kernel (or a test's fake kernel) send an event;
	// the trigger pass's open directories come along.
	trigger func(dirs *devDirs, devpath, action, uuid string) error

	calls   chan func() // run on the loop goroutine
	work    chan *item
	kick    chan struct{} // a worker left something for the loop (finish)
	ready   chan struct{} // closed once coldplug is done
	stopped chan struct{} // closed when the loop ends

	// qmu guards the queue and running: the loop pushes and dispatches,
	// and a worker that finishes an event takes the next one itself.
	qmu     sync.Mutex
	q       *queue
	running int // events given to workers and not finished

	// synced holds the uuids of the trigger runs that began with the
	// manager's Sync (knownDevices); workers look their events up.
	syncMu sync.Mutex
	synced map[string]bool

	// Owned by the loop goroutine.
	writing int // trigger runs still writing uevent files
	runs    []*triggerRun
	settled []chan struct{}
}

// New checks cfg, loads the rules and opens the event source. Bad rules
// files are logged and skipped.
func New(cfg Config) (*Daemon, error) {
	if cfg.SysRoot == "" {
		cfg.SysRoot = DefaultSysRoot
	}
	if cfg.DevRoot == "" {
		cfg.DevRoot = DefaultDevRoot
	}
	if cfg.RunRoot == "" {
		cfg.RunRoot = DefaultRunRoot
	}
	if cfg.RulesDirs == nil {
		cfg.RulesDirs = DefaultRulesDirs()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers()
	}
	if cfg.ExecTimeout <= 0 {
		cfg.ExecTimeout = DefaultExecTimeout
	}
	if cfg.Log == nil {
		cfg.Log = log.New(os.Stderr, "devmaster: ", 0)
	}
	if cfg.Notify == nil {
		cfg.Notify = func(state string) error { _, err := notify.Notify(state); return err }
	}
	d := &Daemon{
		cfg:     cfg,
		log:     cfg.Log,
		host:    newHost(cfg.SysRoot, cfg.DevRoot, cfg.RunRoot),
		mods:    newModules(cfg.Loader),
		ids:     newIDs(),
		mgr:     cfg.Manager,
		calls:   make(chan func()),
		work:    make(chan *item, cfg.Workers),
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		q:       newQueue(),
	}
	if d.mgr == nil {
		d.mgr = noManager{}
	}
	if d.host.sys.IsSysfs() {
		d.trigger = d.host.sys.Trigger
		// Only the kernel promises a new inode number for a link made
		// again; another file system may reuse a freed one.
		d.host.sys.links = &linkCache{}
	} else {
		d.trigger = func(*devDirs, string, string, string) error { return errNotSysfs }
	}
	// libudev programs look for /run/udev to tell whether udev runs.
	if err := os.MkdirAll(d.host.db.dir, 0o755); err != nil {
		return nil, fmt.Errorf("devmaster: %w", err)
	}
	if err := d.host.db.remember(); err != nil {
		d.logf("%v (reading the database from its files)", err)
	}
	if err := d.Reload(); err != nil {
		d.logf("%v", err)
	}
	d.src = cfg.Source
	if d.src == nil {
		conn, err := uevent.Listen(0)
		if err != nil {
			return nil, fmt.Errorf("devmaster: %w", err)
		}
		d.src = conn
	}
	return d, nil
}

// Reload reads the rules again. The good files take effect even when the
// error reports bad ones.
func (d *Daemon) Reload() error {
	set, err := rules.Load(d.cfg.RulesDirs...)
	if set == nil {
		set = rules.NewSet()
	}
	d.rules.Store(set)
	d.ids.reset()
	d.mods.reset()
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	return nil
}

// Run handles events until ctx is done, then waits for the events being
// handled and closes the source. It coldplugs first when configured, and
// serves the control socket. Call it once.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range d.work {
				for ; it != nil; it = d.finish(it) {
					d.handle(it.ev)
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(d.work)
	defer d.src.Close()

	if d.cfg.Control != "" {
		srv, err := d.listenControl(d.cfg.Control)
		if err != nil {
			return err
		}
		defer srv.close()
		go srv.serve(ctx)
	}
	go d.coldplug(ctx)
	return d.loop(ctx)
}

// Ready is closed once coldplug is done and READY=1 was sent.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

func (d *Daemon) coldplug(ctx context.Context) {
	start := time.Now()
	n := 0
	if d.cfg.Coldplug {
		var done <-chan struct{}
		var err error
		// The events are made up from sysfs rather than asked of the
		// kernel: at boot nothing else listens on the kernel's uevent
		// socket (devmaster is the only listener the image has, and
		// whatever wants devices orders itself after devmaster; after a
		// restart of devmaster, other listeners heard each device's own
		// event when it came), so kernel events would tell nobody else
		// anything, and building,
		// broadcasting, receiving and parsing one per device is on the
		// boot's critical path. The kernel's own events (devices that
		// loading a module brings) still come through the socket,
		// opened in New before any device is read.
		n, done, err = d.Trigger(ctx, TriggerOptions{Action: "add", FromSysfs: true})
		if err != nil {
			// Serve what the kernel sends from now on rather than hold up the boot.
			d.logf("coldplug: %v", err)
		} else {
			select {
			case <-done:
			case <-ctx.Done():
				return
			}
			d.logf("coldplug: %d devices in %v", n, time.Since(start).Round(time.Millisecond))
		}
	}
	status := fmt.Sprintf("READY=1\nSTATUS=%d devices at start, handling events", n)
	if err := d.cfg.Notify(status); err != nil {
		d.logf("notify: %v", err)
	}
	close(d.ready)
}

// Settle waits until no event is queued or being handled and none is
// pending in the source.
func (d *Daemon) Settle(ctx context.Context) error {
	ch := make(chan struct{})
	if err := d.call(ctx, func() { d.settled = append(d.settled, ch) }); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stopped:
		return errStopped
	}
}

// call runs f on the loop goroutine.
func (d *Daemon) call(ctx context.Context, f func()) error {
	select {
	case d.calls <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stopped:
		return errStopped
	}
}

var (
	errNotSysfs = errors.New("not a mounted sysfs")
	errStopped  = errors.New("devmaster: stopped")
)

func (d *Daemon) logf(format string, args ...any) { d.log.Printf(format, args...) }

func (d *Daemon) debugf(format string, args ...any) {
	if d.cfg.Debug {
		d.log.Printf(format, args...)
	}
}
