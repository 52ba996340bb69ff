// Package sctl is the command line client of the service manager.
package sctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/units"
)

// DefaultSocket is the system manager's control socket.
const DefaultSocket = "/run/sysmaster/control.sock"

// Call sends one request to the manager at socket and returns its answer.
func Call(socket string, req proto.Request) (proto.Response, error) {
	var resp proto.Response
	if err := proto.Call(socket, req, &resp, 0); err != nil {
		return proto.Response{}, err
	}
	return resp, nil
}

var commands = map[string]struct {
	units bool // needs at least one unit
	help  string
}{
	"start":             {true, "start units"},
	"stop":              {true, "stop units"},
	"restart":           {true, "stop, then start units"},
	"try-restart":       {true, "restart units that are running"},
	"isolate":           {true, "start a unit and stop every unit it does not pull in"},
	"reset-failed":      {false, "forget that units failed (all failed units without names)"},
	"kill":              {true, "signal the processes of units (--signal SIG, --kill-whom main|control|all)"},
	"list-jobs":         {false, "list the jobs queued and running"},
	"cancel":            {false, "cancel jobs by id (all without ids)"},
	"list-timers":       {false, "list active timers, the soonest first"},
	"mask":              {true, "make units impossible to start (a link to /dev/null)"},
	"unmask":            {true, "undo mask"},
	"reload":            {true, "run ExecReload= of units"},
	"status":            {true, "show the state of units, their processes and last output"},
	"show":              {true, "print unit properties as KEY=VALUE"},
	"cat":               {true, "print unit files and drop-ins"},
	"log":               {true, "print the captured output of a unit (-n LINES)"},
	"list-dependencies": {true, "print the tree of units a unit pulls in"},
	"is-active":         {true, "exit 0 when all units are active"},
	"is-failed":         {true, "exit 0 when a unit has failed"},
	"is-enabled":        {true, "exit 0 when all units are enabled or static"},
	"enable":            {true, "hook units into their [Install] targets"},
	"disable":           {true, "unhook units from their targets"},
	"daemon-reload":     {false, "read unit files again"},
	"daemon-reexec":     {false, "re-execute the manager's binary in place (services keep running)"},
	"reexec-init":       {false, "re-execute init's binary in place (pid 1 and its children stay)"},
	"list-units":        {false, "list units (--type KIND, --state STATE)"},
	"poweroff":          {false, "stop all units and power off"},
	"reboot":            {false, "stop all units and reboot"},
	"halt":              {false, "stop all units and halt"},
	"ping":              {false, "check that the manager answers"},
	"analyze":           {false, "boot analysis: time (default), blame, critical-chain [UNIT], plot (SVG); --json for all"},
	"switch-root":       {true, "switch-root PATH [INIT]: stop all units, make the root mounted at PATH / and execute INIT there (default /sbin/init or /init)"},
	"convert":           {true, "convert [-o DIR] [--strict] FILE|DIR...: turn systemd unit files into TOML units (lists what could not be carried over)"},
}

// Main is the sctl applet.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	// convert works offline and has flags of its own.
	if len(args) > 1 && args[1] == "convert" {
		return units.RunConvert("sctl convert", args[2:], stdout, stderr)
	}
	fs := flag.NewFlagSet("sctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "", "control socket (default $SYSMASTER_SOCKET or "+DefaultSocket+")")
	asJSON := fs.Bool("json", false, "print JSON (list-units, status)")
	typ := fs.String("type", "", "list-units: only units of this kind")
	state := fs.String("state", "", "list-units: only units in this state")
	lines := fs.Int("n", 0, "log: number of lines")
	noBlock := fs.Bool("no-block", false, "start, stop, restart: return once the jobs are queued")
	jobMode := fs.String("job-mode", "", "start, stop, restart: replace (default), fail or isolate")
	signal := fs.String("signal", "", "kill: the signal to send (default TERM)")
	whom := fs.String("kill-whom", "", "kill: main, control or all (default) processes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sctl [--socket PATH] [--json] COMMAND [UNIT...]\ncommands:")
		for _, n := range sortedCommands() {
			fmt.Fprintf(stderr, "  %-11s %s\n", n, commands[n].help)
		}
	}
	// Flags may come before or after the command.
	var rest []string
	argv := args[1:]
	for len(argv) > 0 {
		if err := fs.Parse(argv); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		argv = fs.Args()[1:]
	}
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	cmd, names := rest[0], rest[1:]
	spec, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "sctl: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	if spec.units && len(names) == 0 {
		fmt.Fprintf(stderr, "sctl %s: no unit given\n", cmd)
		return 2
	}
	view, viewArgs := "time", []string(nil)
	if cmd == "analyze" {
		if len(names) > 0 {
			view, viewArgs = names[0], names[1:]
		}
		if _, ok := analyzeCmds[view]; !ok {
			return analyzeBoot(nil, view, viewArgs, false, stdout, stderr)
		}
		names = nil
	}
	var jobIDs []int
	var root, init string
	if cmd == "switch-root" {
		if len(names) > 2 {
			fmt.Fprintln(stderr, "sctl switch-root: usage: sctl switch-root PATH [INIT]")
			return 2
		}
		root = names[0]
		if len(names) == 2 {
			init = names[1]
		}
		names = nil
	}
	if cmd == "cancel" {
		for _, n := range names {
			id, err := strconv.Atoi(n)
			if err != nil || id <= 0 {
				fmt.Fprintf(stderr, "sctl cancel: %q is not a job id\n", n)
				return 2
			}
			jobIDs = append(jobIDs, id)
		}
		names = nil
	}
	for i, n := range names {
		if !strings.Contains(n, ".") {
			names[i] = n + ".service"
		}
	}
	path := *socket
	if path == "" {
		path = os.Getenv("SYSMASTER_SOCKET")
	}
	if path == "" {
		path = DefaultSocket
	}
	req := proto.Request{Cmd: cmd, Units: names, JSON: *asJSON, Type: *typ, State: *state, Lines: *lines,
		NoBlock: *noBlock, JobMode: *jobMode, Signal: *signal, Whom: *whom, JobIDs: jobIDs,
		Root: root, Init: init}
	resp, err := Call(path, req)
	if err != nil {
		fmt.Fprintf(stderr, "sctl: %v\n", err)
		return 1
	}
	if cmd == "analyze" && resp.Code == 0 {
		if resp.Boot == nil {
			fmt.Fprintln(stderr, "sctl analyze: the manager sent no boot record")
			return 1
		}
		return analyzeBoot(resp.Boot, view, viewArgs, *asJSON, stdout, stderr)
	}
	fmt.Fprint(stdout, resp.Out)
	render(stdout, cmd, resp, *asJSON)
	if resp.Err != "" {
		fmt.Fprintf(stderr, "sctl: %s\n", resp.Err)
	}
	return resp.Code
}

func sortedCommands() []string {
	var out []string
	for n := range commands {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Power returns the poweroff, reboot or halt applet: it asks the manager
// for an orderly stop and, when no manager answers, signals init directly.
func Power(action string) func(args []string) int {
	return func(args []string) int {
		force := len(args) > 1 && (args[1] == "-f" || args[1] == "--force")
		if !force {
			resp, err := Call(DefaultSocket, proto.Request{Cmd: action})
			if err == nil && resp.Code == 0 {
				return 0
			}
			if err == nil {
				fmt.Fprintf(os.Stderr, "%s: %s\n", action, resp.Err)
			} else {
				fmt.Fprintf(os.Stderr, "%s: %v; asking init directly\n", action, err)
			}
		}
		if err := unix.Kill(1, proto.InitSignals[action]); err != nil {
			if errors.Is(err, unix.EPERM) {
				fmt.Fprintf(os.Stderr, "%s: not permitted (are you root?)\n", action)
			} else {
				fmt.Fprintf(os.Stderr, "%s: signal init: %v\n", action, err)
			}
			return 1
		}
		return 0
	}
}
