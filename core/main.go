package core

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/units"
)

// InitSignals are the signals that ask init (pid 1) for the final steps.
var InitSignals = proto.InitSignals

// Main is the sysmaster applet.
func Main(args []string) int {
	fs := flag.NewFlagSet("sysmaster", flag.ContinueOnError)
	user := fs.Bool("user", false, "run as an unprivileged user-mode manager")
	unitsDir := fs.String("units", "", "unit directory (default /etc/sysmaster/units, /lib/sysmaster/units)")
	stateDir := fs.String("state", "", "state directory (default /run/sysmaster)")
	socket := fs.String("socket", "", "control socket (default STATE/control.sock)")
	target := fs.String("target", "default.target", "target to start")
	fstab := fs.String("fstab", "", "read mount units from this fstab (system mode: /etc/fstab)")
	cgroups := fs.Bool("cgroups", false, "in user mode, put services in cgroups under the manager's own (which must be delegated)")
	maxConns := fs.Int("max-conns-per-uid", DefaultMaxConnsPerUID, "control connections one uid other than root may have open at once")
	reqTimeout := fs.Duration("request-timeout", DefaultRequestTimeout, "how long a control connection may wait before sending its request")
	var masked []string
	fs.Func("mask", "mask UNIT for as long as this manager and its restarts run (repeatable)", func(v string) error {
		// From the kernel command line through init: a typo there must
		// not keep the manager from starting.
		if err := units.ValidName(v); err != nil {
			fmt.Fprintf(os.Stderr, "sysmaster: --mask %q ignored: %v\n", v, err)
			return nil
		}
		masked = append(masked, v)
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// Services inherit SIGPIPE ignored (systemd's IgnoreSIGPIPE=yes); the
	// exec helper restores it for those that set IgnoreSIGPIPE=no.
	signal.Ignore(unix.SIGPIPE)
	cfg := DefaultSystemConfig()
	cfg.User = *user
	if cfg.User || *fstab != "" {
		cfg.Fstab = *fstab
	}
	cfg.Target = *target
	cfg.Masked = masked
	cfg.Cgroups = *cgroups
	cfg.MaxConnsPerUID, cfg.RequestTimeout = *maxConns, *reqTimeout
	if *unitsDir != "" {
		cfg.UnitDirs = []string{*unitsDir}
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
		cfg.Socket = filepath.Join(*stateDir, "control.sock")
	}
	if *socket != "" {
		cfg.Socket = *socket
	}
	if cfg.User && (*unitsDir == "" || *stateDir == "") {
		fmt.Fprintln(os.Stderr, "sysmaster: --user needs --units DIR and --state DIR")
		return 2
	}
	// Starting (and above all recovering) allocates in one burst: units,
	// records, statuses. Collecting less often meanwhile shortens it; the
	// default comes back once it is over.
	prev := debug.SetGCPercent(400)
	time.AfterFunc(2*time.Second, func() { debug.SetGCPercent(prev) })
	m, err := New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sysmaster: %v\n", err)
		return 1
	}
	if !cfg.User {
		fmt.Fprintf(os.Stdout, "sysmaster: core started (pid %d)\n", os.Getpid())
	}
	action, err := m.Run(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "sysmaster: %v\n", err)
		return 1
	}
	if sig, ok := InitSignals[action]; ok && !cfg.User && os.Getpid() != 1 {
		if err := unix.Kill(1, sig); err != nil {
			fmt.Fprintf(os.Stderr, "sysmaster: asking init to %s: %v\n", action, err)
			return 1
		}
	}
	return 0
}
