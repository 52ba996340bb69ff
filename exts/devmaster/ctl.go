package devmaster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

const ctlUsage = `usage: devctl COMMAND [flags] [args]

commands:
  monitor [--property] [--subsystem-match S]...   print kernel uevents as they arrive
  trigger [--subsystem-match S]... [--action A] [--settle] [--timeout D] [--from-sysfs]
                                                   make the kernel send events again (default: add);
                                                   --from-sysfs: devmaster makes them up from sysfs
                                                   (quicker, but other listeners do not see them)
  settle [--timeout D]                             wait until devmaster handled every event
  info DEVICE                                      what the rules see of a device
  test [--action A] [--rules-dir DIR]... DEVICE    what the rules would do, doing nothing
  reload                                           make devmaster read its rules again
  ping                                             check that devmaster answers

DEVICE is a device path (/devices/...), a /sys path or a device node
(/dev/vda1, vda1, or a link to one).
Common flags: --sys DIR --dev DIR --run DIR --control PATH.
`

// receiver is the part of *uevent.Conn monitor uses.
type receiver interface {
	Receive() (*uevent.Event, error)
	Close() error
}

// ctl is one devctl invocation.
type ctl struct {
	stdout, stderr io.Writer
	listen         func() (receiver, error)
	loader         func() (ModuleLoader, error) // nil: none
	// settings of the common flags
	sysRoot, devRoot, runRoot, control string
}

// CtlMain is the devctl applet, naming modules with kmod.
func CtlMain(args []string) int { return Applet{NewLoader: NewKmodLoader}.CtlMain(args) }

// CtlMain is the devctl applet. Exit status: 0 done, 1 failed, 2 usage.
func (a Applet) CtlMain(args []string) int {
	c := &ctl{
		stdout: os.Stdout, stderr: os.Stderr,
		listen: func() (receiver, error) { return uevent.Listen(0) },
		loader: a.NewLoader,
	}
	return c.main(args)
}

func (c *ctl) main(args []string) int {
	if len(args) < 2 {
		fmt.Fprint(c.stderr, ctlUsage)
		return 2
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "monitor":
		return c.monitor(rest)
	case "trigger":
		return c.trigger(rest)
	case "settle":
		return c.settle(rest)
	case "info":
		return c.info(rest)
	case "test":
		return c.test(rest)
	case "reload", "ping":
		return c.simple(cmd, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, ctlUsage)
		return 0
	}
	fmt.Fprintf(c.stderr, "devctl: unknown command %q\n%s", cmd, ctlUsage)
	return 2
}

// flags starts a flag set with the common flags.
func (c *ctl) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("devctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.sysRoot, "sys", DefaultSysRoot, "sysfs `root`")
	fs.StringVar(&c.devRoot, "dev", DefaultDevRoot, "device node `root`")
	fs.StringVar(&c.runRoot, "run", DefaultRunRoot, "runtime `root`")
	fs.StringVar(&c.control, "control", "", "devmaster's control socket `path` (default RUN/devmaster/control.sock)")
	return fs
}

// parse parses flags anywhere among the arguments, and checks the number
// of the others. It returns the exit status for a failure.
func (c *ctl) parse(fs *flag.FlagSet, args []string, nargs int) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if c.control == "" {
		c.control = DefaultControl(c.runRoot)
	}
	if len(pos) != nargs {
		if nargs == 0 {
			fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", fs.Name(), pos[0])
		} else {
			fmt.Fprintf(c.stderr, "%s: want %d argument(s), got %d\n", fs.Name(), nargs, len(pos))
		}
		return nil, 2, false
	}
	return pos, 0, true
}

func (c *ctl) fail(err error) int {
	fmt.Fprintf(c.stderr, "devctl: %v\n", err)
	return 1
}

func (c *ctl) call(req Request, timeout time.Duration) (*Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Call(ctx, c.control, req)
}

func (c *ctl) simple(cmd string, args []string) int {
	fs := c.flags(cmd)
	if _, code, ok := c.parse(fs, args, 0); !ok {
		return code
	}
	if _, err := c.call(Request{Cmd: cmd}, 30*time.Second); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *ctl) settle(args []string) int {
	fs := c.flags("settle")
	timeout := fs.Duration("timeout", DefaultSettleTimeout, "how long to wait")
	if _, code, ok := c.parse(fs, args, 0); !ok {
		return code
	}
	if *timeout <= 0 || *timeout > maxTimeout {
		fmt.Fprintf(c.stderr, "devctl settle: --timeout must be in (0, %v]\n", maxTimeout)
		return 2
	}
	// The daemon answers at its timeout; the margin lets its answer arrive.
	if _, err := c.call(Request{Cmd: "settle", Timeout: timeout.String()}, *timeout+5*time.Second); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *ctl) trigger(args []string) int {
	fs := c.flags("trigger")
	var subsystems listFlag
	fs.Var(&subsystems, "subsystem-match", "trigger only devices of `subsystem` (repeatable)")
	action := fs.String("action", "add", "the event to send: add, change, remove, bind, unbind, online, offline, move")
	settle := fs.Bool("settle", false, "wait until the events were handled")
	timeout := fs.Duration("timeout", DefaultSettleTimeout, "how long --settle waits")
	fromSysfs := fs.Bool("from-sysfs", false, "make the events up in devmaster from each device's uevent file instead of asking the kernel: quicker, but only devmaster sees them, not other listeners of the kernel's uevents")
	if _, code, ok := c.parse(fs, args, 0); !ok {
		return code
	}
	if !validTriggerAction(*action) {
		fmt.Fprintf(c.stderr, "devctl trigger: bad --action %q\n", *action)
		return 2
	}
	if *timeout <= 0 || *timeout > maxTimeout {
		fmt.Fprintf(c.stderr, "devctl trigger: --timeout must be in (0, %v]\n", maxTimeout)
		return 2
	}
	req := Request{Cmd: "trigger", Action: *action, Subsystems: subsystems, Settle: *settle, Timeout: timeout.String(), FromSysfs: *fromSysfs}
	if _, err := c.call(req, *timeout+time.Minute); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *ctl) monitor(args []string) int {
	fs := c.flags("monitor")
	props := fs.Bool("property", false, "print each event's properties")
	var subsystems listFlag
	fs.Var(&subsystems, "subsystem-match", "print only events of `subsystem` (repeatable)")
	if _, code, ok := c.parse(fs, args, 0); !ok {
		return code
	}
	conn, err := c.listen()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() { conn.Close() })
	fmt.Fprintln(c.stdout, "monitor: printing kernel uevents (KERNEL[uptime] action devpath (subsystem))")
	for {
		ev, err := conn.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			if errors.Is(err, uevent.ErrMalformed) || errors.Is(err, uevent.ErrOverrun) {
				fmt.Fprintf(c.stderr, "devctl: %v\n", err)
				continue
			}
			if errors.Is(err, uevent.ErrLibudev) || errors.Is(err, uevent.ErrNotKernel) {
				continue
			}
			return c.fail(err)
		}
		if len(subsystems) > 0 && !slices.Contains(subsystems, ev.Subsystem) {
			continue
		}
		printEvent(c.stdout, ev, monotonicUsec(), *props)
	}
}

// printEvent prints ev as udevadm monitor does.
func printEvent(w io.Writer, ev *uevent.Event, usec uint64, props bool) {
	fmt.Fprintf(w, "KERNEL[%d.%06d] %-8s %s (%s)\n", usec/1e6, usec%1e6, ev.Action, ev.DevPath, ev.Subsystem)
	if props {
		for _, k := range ev.Keys() {
			fmt.Fprintf(w, "%s=%s\n", k, ev.Env[k])
		}
		fmt.Fprintln(w)
	}
}

// quoteArgv joins argv for display, quoting what needs it.
func quoteArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
