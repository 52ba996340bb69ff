package devmaster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sysmaster-go/sysmaster/core/sctl"
)

// Applet wires the devmaster applet to the service manager and the module
// loader, which live in other packages.
type Applet struct {
	// NewManager connects to the service manager's control socket; nil
	// leaves devices unannounced.
	NewManager func(socket string) (Manager, error)
	// NewLoader returns the module loader; nil loads no modules.
	NewLoader func() (ModuleLoader, error)
}

// Main is the devmaster applet: it loads modules with kmod and reports
// devices to the service manager over its control socket.
func Main(args []string) int {
	logger := log.New(os.Stderr, "devmaster: ", 0)
	var reporter *sctl.DeviceReporter
	code := Applet{
		NewManager: func(socket string) (Manager, error) {
			// Reports are batched in the background: handling a device
			// never waits for the manager, which may be restarting.
			reporter = sctl.NewDeviceReporter(socket, logger.Printf)
			return reporter, nil
		},
		NewLoader: NewKmodLoader,
	}.Main(args)
	if reporter != nil {
		reporter.Close(5 * time.Second)
	}
	return code
}

// Main runs the daemon until SIGTERM or SIGINT.
func (a Applet) Main(args []string) int {
	logger := log.New(os.Stderr, "devmaster: ", 0)
	cfg, managerSocket, err := parseDaemonFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	cfg.Log = logger
	if a.NewManager != nil {
		m, err := a.NewManager(managerSocket)
		if err != nil {
			logger.Printf("service manager at %s: %v (devices are not announced)", managerSocket, err)
		} else {
			cfg.Manager = m
		}
	}
	if a.NewLoader != nil {
		l, err := a.NewLoader()
		if err != nil {
			logger.Printf("module loader: %v (no modules are loaded)", err)
		} else {
			cfg.Loader = l
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := New(cfg)
	if err != nil {
		logger.Print(err)
		return 1
	}
	logger.Printf("started: %d workers, rules from %s", cfg.Workers, strings.Join(cfg.RulesDirs, " "))
	if err := d.Run(ctx); err != nil {
		logger.Print(err)
		return 1
	}
	logger.Print("stopped")
	return 0
}

func parseDaemonFlags(args []string, stderr io.Writer) (cfg Config, managerSocket string, err error) {
	fs := flag.NewFlagSet("devmaster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.SysRoot, "sys", DefaultSysRoot, "sysfs `root`")
	fs.StringVar(&cfg.DevRoot, "dev", DefaultDevRoot, "device node `root`")
	fs.StringVar(&cfg.RunRoot, "run", DefaultRunRoot, "runtime `root` (database in udev/data)")
	var dirs listFlag
	fs.Var(&dirs, "rules-dir", "rules `dir`ectory, repeatable, earlier ones override (default "+strings.Join(DefaultRulesDirs(), ", ")+")")
	fs.StringVar(&cfg.Control, "control", "", "control socket `path` (default RUN/devmaster/control.sock)")
	fs.IntVar(&cfg.Workers, "workers", DefaultWorkers(), "events handled at once")
	fs.StringVar(&managerSocket, "manager", DefaultManagerSocket, "service manager's control socket `path`")
	fs.DurationVar(&cfg.ExecTimeout, "exec-timeout", DefaultExecTimeout, "time a RUN program may take")
	noColdplug := fs.Bool("no-coldplug", false, "do not handle the devices present at start")
	fs.BoolVar(&cfg.Debug, "debug", false, "log every event")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: devmaster [flags]\n\nThe device manager: kernel uevents, modules, device rules.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "devmaster: unexpected argument %q\n", fs.Arg(0))
		return cfg, "", errors.New("usage")
	}
	if cfg.Workers < 1 || cfg.ExecTimeout <= 0 {
		fmt.Fprintln(stderr, "devmaster: --workers and --exec-timeout must be positive")
		return cfg, "", errors.New("usage")
	}
	cfg.RulesDirs = dirs
	if len(dirs) == 0 {
		cfg.RulesDirs = DefaultRulesDirs()
	}
	if cfg.Control == "" {
		cfg.Control = DefaultControl(cfg.RunRoot)
	}
	cfg.Coldplug = !*noColdplug
	return cfg, managerSocket, nil
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
