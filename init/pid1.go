// Package pid1 is init: the first process. It mounts the basic
// filesystems, owns the console, reaps every orphan, runs and restarts the
// service manager (core), and performs the final steps of a shutdown. It
// never exits.
package pid1

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/core/reap"
	"github.com/sysmaster-go/sysmaster/units/system"
)

// Version is printed in init's banner.
const Version = "0.1.0"

// Backoff bounds for restarting core, and how many quick failures in a row
// mean it cannot run at all.
const (
	minBackoff      = 100 * time.Millisecond
	maxBackoff      = 5 * time.Second
	stableAfter     = 10 * time.Second
	maxQuickFails   = 10
	coreStopTimeout = 90 * time.Second
	termGrace       = 3 * time.Second
)

// rebootCmds are reboot(2) commands: unsigned 32-bit values (HALT does not
// fit a 32-bit int), passed as the int the call takes.
var rebootCmds = map[string]uint32{
	"poweroff": unix.LINUX_REBOOT_CMD_POWER_OFF,
	"reboot":   unix.LINUX_REBOOT_CMD_RESTART,
	"halt":     unix.LINUX_REBOOT_CMD_HALT,
}

type pid1 struct {
	user     bool     // init --user: a subreaper on a host, not pid 1
	coreArgs []string // arguments of core
	socket   string   // core's control socket, for the liveness check
	liveness time.Duration
	pings    chan bool // answers of the liveness checks (watchCore)
	misses   int       // liveness checks in a row core did not answer
	exit     chan int  // init --user ends with this code

	out     io.Writer
	opts    Options
	mounted []string
	mounter Mounter

	// kernelDone is CLOCK_MONOTONIC when pid 1 started: the end of the
	// kernel's part of the boot, handed to core (proto.EnvKernelDone).
	kernelDone time.Duration

	corePID     int
	coreStarted time.Time
	quickFails  int
	backoff     time.Duration
	shellPID    int

	shutdown    string
	timers      chan func()
	fds         fdStore  // core's listening sockets, kept across its restarts
	coreConn    *os.File // init's end of the fd store pair: also reports exits
	reaped      []string // "pid=status" of orphans, kept until a core that was given them is up
	reapedGiven int      // how many of reaped the running core was started with

	// wd is the hardware watchdog, when system.toml asks for one.
	wd *watchdog
	// switching is the root core asked to switch to (sctl switch-root).
	switching *switchTo
}

// Main is the init applet.
func Main(args []string) int {
	p := &pid1{out: os.Stdout, mounter: SysMounter{}, timers: make(chan func(), 8), pings: make(chan bool), backoff: minBackoff,
		liveness: defaultLiveness, socket: "/run/sysmaster/control.sock", exit: make(chan int, 1)}
	if len(args) > 1 && args[1] == "--user" {
		if err := p.userFlags(args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "init: %v\n", err)
			return 2
		}
		return p.run()
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: must run as process 1 (the kernel starts it as /init); "+
			"`init --user [--socket PATH] [--liveness D] -- CORE-ARGS...` supervises a user-mode manager")
		return 1
	}
	return p.run()
}

// userFlags sets up init --user: a child subreaper on a host that
// supervises a user-mode manager, so crash recovery runs without root.
func (p *pid1) userFlags(args []string) error {
	fs := flag.NewFlagSet("init --user", flag.ContinueOnError)
	socket := fs.String("socket", "", "the manager's control socket, for the liveness check")
	liveness := fs.Duration("liveness", defaultLiveness, "how often to check that the manager answers (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p.user = true
	p.opts = Options{OnFailure: "exit", Core: self}
	p.coreArgs = fs.Args()
	p.socket, p.liveness = *socket, *liveness
	return nil
}

func (p *pid1) logf(format string, args ...any) {
	fmt.Fprintf(p.out, "init: "+format+"\n", args...)
}

func (p *pid1) run() int {
	// Signals first: a signal that arrives early must not kill pid 1.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM, unix.SIGINT, unix.SIGPWR, unix.SIGHUP)
	if p.user {
		// Orphans of the manager's services come to us, as to pid 1.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			p.logf("cannot become child subreaper: %v", err)
			return 1
		}
		if p.restore() {
			p.logf("sysmaster init %s re-executed; core is pid %d", Version, p.corePID)
			p.reap()
			return p.loop(sigs)
		}
		p.logf("sysmaster init %s supervising a user-mode manager (pid %d)", Version, os.Getpid())
		return p.loop(sigs)
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) == nil {
		p.kernelDone = time.Duration(ts.Nano())
	}
	// Ctrl-Alt-Del becomes SIGINT to us instead of an immediate reboot.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)

	if p.restore() {
		p.logf("sysmaster init %s re-executed; core is pid %d", Version, p.corePID)
		p.lean()
		// Children that ended during the exec wait to be reaped.
		p.reap()
		return p.loop(sigs)
	}
	table, moved := Mounts(), []string(nil)
	switched := os.Getenv(switchedEnv)
	if switched != "" {
		// A first-stage init mounted these and moved them here.
		os.Unsetenv(switchedEnv)
		if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
			table, moved = alreadyMounted(table, mi)
		}
	}
	mounted, err := MountAll(p.mounter, table, func(s string) { p.logf("warning: %s", s) })
	p.mounted = append(moved, mounted...)
	p.linkModprobe()
	p.lean()
	p.setupConsole()
	if err != nil {
		p.logf("warning: %v", err)
	}
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if os.Getenv("TERM") == "" {
		os.Setenv("TERM", "linux")
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	opts, warnings := ParseCmdline(string(cmdline))
	p.opts = opts
	p.logf("sysmaster init %s starting (kernel uptime %s)", Version, uptime())
	for _, w := range warnings {
		p.logf("warning: %s", w)
	}
	p.faultAround(opts.FaultAround)
	if switched != "" {
		p.logf("running on the root from %s", switched)
	} else if opts.Root.Device != "" {
		// Returns only when the switch could not be made.
		p.logf("cannot switch to the root on %s: %v; staying in the initramfs", opts.Root.Device, p.switchRoot(opts.Root))
	}
	p.clockFloor()
	p.setHostname()
	p.startWatchdog(p.readSystemConfig(system.Path).Manager, openWatchdog)
	return p.loop(sigs)
}

func (p *pid1) loop(sigs chan os.Signal) int {
	if p.corePID == 0 {
		p.startCore()
	} else {
		p.coreStarted = time.Now()
	}
	if p.liveness > 0 && p.socket != "" {
		go p.watchCore()
	}
	for {
		select {
		case s := <-sigs:
			p.signal(s.(syscall.Signal))
		case f := <-p.timers:
			f()
		case ok := <-p.pings:
			p.pinged(ok)
		case code := <-p.exit:
			return code
		}
	}
}

// setupConsole points stdin, stdout and stderr at /dev/console, now that
// devtmpfs is mounted.
func (p *pid1) setupConsole() {
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	for i := 0; i < 3; i++ {
		_ = unix.Dup3(fd, i, 0)
	}
	unix.Close(fd)
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0] + "s"
}

func (p *pid1) signal(s syscall.Signal) {
	if p.user && s != unix.SIGCHLD && s != unix.SIGHUP {
		if s == unix.SIGTERM || s == unix.SIGINT {
			p.beginShutdown("exit")
		}
		return
	}
	switch s {
	case unix.SIGCHLD:
		p.reap()
	case unix.SIGUSR2, unix.SIGPWR:
		p.beginShutdown("poweroff")
	case unix.SIGTERM, unix.SIGINT:
		p.beginShutdown("reboot")
	case unix.SIGUSR1:
		p.beginShutdown("halt")
	case unix.SIGHUP:
		if p.shutdown == "" {
			// reexec returns only when the exec failed.
			p.logf("re-exec failed: %v; carrying on", p.reexec())
		}
	}
}

// reap is the only place init waits for children: core, and every orphan
// the kernel hands to pid 1.
func (p *pid1) reap() {
	reap.All(func(pid int, ws unix.WaitStatus) {
		switch pid {
		case p.corePID:
			p.coreExited(ws)
		case p.shellPID:
			p.shellPID = 0
			if p.shutdown == "" {
				p.later(time.Second, p.rescueShell)
			}
		default:
			p.orphanExited(pid, ws)
		}
	})
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// later runs f on init's goroutine after d.
func (p *pid1) later(d time.Duration, f func()) {
	time.AfterFunc(d, func() { p.timers <- f })
}

func (p *pid1) startCore() {
	if p.shutdown != "" {
		return
	}
	// Core writes to fd 3 once it has restored its state and serves:
	// only a core that dies before that counts as failing to start.
	r, w, err := os.Pipe()
	if err != nil {
		p.logf("cannot start core: %v", err)
		p.later(maxBackoff, p.startCore)
		return
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		r.Close()
		w.Close()
		p.logf("cannot start core: %v", err)
		p.later(maxBackoff, p.startCore)
		return
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "fdstore"), os.NewFile(uintptr(pair[1]), "fdstore")
	env := append(os.Environ(), proto.EnvReadyFD+"=3", proto.EnvFDStore+"=4")
	if v := p.givenReaped(); v != "" {
		env = append(env, proto.EnvReaped+"="+v)
	}
	if p.kernelDone > 0 {
		// A core started again reads its boot record instead.
		env = append(env, proto.EnvKernelDone+"="+strconv.FormatInt(int64(p.kernelDone), 10))
	}
	files, inherit := p.passFDs([]uintptr{0, 1, 2, w.Fd(), theirs.Fd()})
	if inherit != "" {
		env = append(env, inherit)
	}
	args := append([]string{"sysmaster"}, p.coreArgs...)
	for _, n := range p.opts.Masked {
		args = append(args, "--mask", n)
	}
	pid, err := syscall.ForkExec(p.opts.Core, args, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: files,
	})
	w.Close()
	theirs.Close()
	if err != nil {
		ours.Close()
		r.Close()
		p.logf("cannot start core %s: %v", p.opts.Core, err)
		p.coreFailed()
		return
	}
	p.corePID, p.coreStarted, p.misses = pid, time.Now(), 0
	p.coreConn = ours
	go p.receive(ours)
	go func() {
		defer r.Close()
		var b [1]byte
		if n, _ := r.Read(b[:]); n == 1 {
			p.timers <- func() {
				if p.corePID == pid {
					// A core that was up restarts at once when it dies.
					p.quickFails, p.backoff = 0, 0
					p.coreUp()
					p.coreAlive()
				}
			}
		}
	}()
}

func (p *pid1) coreExited(ws unix.WaitStatus) {
	pid := p.corePID
	p.corePID, p.coreConn = 0, nil
	if p.shutdown != "" {
		p.finalize()
		return
	}
	if time.Since(p.coreStarted) > stableAfter {
		p.quickFails, p.backoff = 0, minBackoff
	}
	// A core that said it was up and then died is restarted at once; one
	// that keeps dying before that backs off and, in the end, counts as
	// unable to run.
	p.quickFails++
	if p.quickFails >= maxQuickFails {
		p.logf("core (pid %d) %s; it failed %d times in a row", pid, describe(ws), p.quickFails)
		p.coreFailed()
		return
	}
	p.logf("core (pid %d) %s; restarting it in %s", pid, describe(ws), p.backoff)
	if p.backoff == 0 {
		p.startCore()
		p.backoff = minBackoff
		return
	}
	p.later(p.backoff, p.startCore)
	p.backoff = min(p.backoff*2, maxBackoff)
}

// coreFailed does what sysmaster.on_failure= says when core cannot run.
func (p *pid1) coreFailed() {
	p.logf("core cannot run; sysmaster.on_failure=%s", p.opts.OnFailure)
	switch p.opts.OnFailure {
	case "exit":
		p.exit <- 1
	case "poweroff", "reboot":
		p.beginShutdown(p.opts.OnFailure)
	case "shell":
		p.giveUpWatchdog("core cannot be brought back")
		p.rescueShell()
	default:
		p.giveUpWatchdog("core cannot be brought back")
		p.logf("hanging: the system stays up without a service manager")
	}
}

func (p *pid1) rescueShell() {
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh"}, &syscall.ProcAttr{
		Dir: "/", Env: os.Environ(), Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		p.logf("cannot start a rescue shell: %v; hanging", err)
		return
	}
	p.logf("rescue shell started (pid %d)", pid)
	p.shellPID = pid
}

// beginShutdown asks core for an orderly stop of every unit; the final
// steps follow once core has exited.
func (p *pid1) beginShutdown(action string) {
	if p.shutdown != "" {
		return
	}
	p.shutdown = action
	if p.corePID == 0 {
		p.finalize()
		return
	}
	p.logf("%s: waiting for core to stop all units", action)
	_ = unix.Kill(p.corePID, unix.SIGTERM)
	pid := p.corePID
	p.later(coreStopTimeout, func() {
		if p.corePID == pid {
			p.logf("core did not stop within %s; going on", coreStopTimeout)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	})
}

// finalize kills what is left, unmounts and calls reboot(2); init --user
// exits instead.
func (p *pid1) finalize() {
	if p.user {
		// Nothing to unmount; the orphans we adopted are ours to end.
		for _, pid := range p.orphans() {
			_ = unix.Kill(pid, unix.SIGTERM)
		}
		p.waitAllGone(termGrace)
		p.logf("%s: exiting", p.shutdown)
		p.exit <- 0
		return
	}
	if p.switching != nil {
		p.finishSwitch()
		return
	}
	p.finalWatchdog()
	p.logf("sending SIGTERM to all processes")
	_ = unix.Kill(-1, unix.SIGTERM)
	if !p.waitAllGone(termGrace) {
		p.logf("sending SIGKILL to all processes")
		_ = unix.Kill(-1, unix.SIGKILL)
		p.waitAllGone(termGrace)
	}
	unix.Sync()
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		p.unmountLeft(mi)
	}
	UnmountAll(p.mounter, p.mounted, func(s string) { p.logf("warning: %s", s) })
	unix.Sync()
	p.logf("%s", p.shutdown)
	if err := unix.Reboot(int(int32(rebootCmds[p.shutdown]))); err != nil {
		p.logf("reboot(2): %v; hanging", err)
	}
}

// waitAllGone reaps until no child is left or d passes.
func (p *pid1) waitAllGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.ECHILD {
			return true
		}
		if pid <= 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return false
}
