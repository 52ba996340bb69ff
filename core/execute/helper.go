package execute

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/cgroup"
)

// Main is the "sm-exec" applet: it decodes the spec Start left in its
// environment, applies it to its own process and execs the service, which
// keeps the helper's pid. It returns only on failure, with an Exit* code,
// after printing one line to stderr (the service's stderr).
func Main(args []string) int {
	// Nice and setgroups(2) act on the calling thread only, and execve keeps
	// the calling thread's attributes: everything below must run on one thread.
	runtime.LockOSThread()

	var w wireSpec
	if err := json.Unmarshal([]byte(os.Getenv(SpecEnv)), &w); err != nil {
		fmt.Fprintf(os.Stderr, "%s: bad %s: %v\n", HelperName, SpecEnv, err)
		return ExitMemory
	}
	if len(w.Argv) == 0 {
		fmt.Fprintf(os.Stderr, "%s: %s has an empty command line\n", HelperName, SpecEnv)
		return ExitMemory
	}
	err := apply(&w)
	directive := w.Directive
	if directive == "" {
		directive = "ExecStart"
	}
	fmt.Fprintf(os.Stderr, "%s: %s=%s: %v\n", HelperName, directive, w.Argv[0], err)
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitExec
}

// apply sets up the process and execs the service; it returns only on
// failure. The order matters: joining a cgroup, raising limits and lowering
// nice need the manager's privileges, so they come before the ids are
// dropped; the directory is entered as the service's user, as systemd does.
func apply(w *wireSpec) error {
	if w.Cgroup != "" {
		// "0" means the writing process; in cgroup v2 that moves all its threads.
		if err := cgroup.Join(w.Cgroup); err != nil {
			return &exitError{ExitCgroup, fmt.Errorf("join cgroup: %w", err)}
		}
	}
	for res, lim := range w.Rlimits {
		if err := unix.Setrlimit(res, &lim); err != nil {
			return &exitError{ExitLimits, fmt.Errorf("setrlimit %s: %w", rlimitName(res), err)}
		}
	}
	if w.Nice != nil {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, *w.Nice); err != nil {
			return &exitError{ExitNice, fmt.Errorf("set nice %d: %w", *w.Nice, err)}
		}
	}
	if w.Sandbox != nil {
		if err := w.Sandbox.beforeIDs(w.UID, w.GID); err != nil {
			return err
		}
	}
	if err := setIDs(w); err != nil {
		return err
	}
	if w.UMask != nil {
		unix.Umask(int(*w.UMask & 0o777))
	}
	if w.Dir != "" {
		if err := unix.Chdir(w.Dir); err != nil {
			return &exitError{ExitChdir, fmt.Errorf("chdir %s: %w", w.Dir, err)}
		}
	}
	if w.Sandbox != nil {
		if err := w.Sandbox.afterIDs(); err != nil {
			return err
		}
	}
	env := w.Env
	if w.ListenPID {
		env = append(env, fmt.Sprintf("LISTEN_PID=%d", unix.Getpid()))
	}
	if w.IgnoreSIGPIPE {
		// Go's runtime handles SIGPIPE itself, which execve resets to the
		// default action: ignore it for real.
		signal.Ignore(syscall.SIGPIPE)
	}
	path := w.Path
	if path == "" {
		path = w.Argv[0]
	}
	err := unix.Exec(path, w.Argv, env)
	return &exitError{ExitExec, fmt.Errorf("exec: %w", err)}
}

// exitError carries the exit code of a failed step.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// setIDs switches groups, then gid, then uid: once the uid is dropped the
// process may no longer change its groups.
func setIDs(w *wireSpec) error {
	root := unix.Geteuid() == 0
	switch {
	case len(w.Groups) > 0:
		gids := make([]int, len(w.Groups))
		for i, g := range w.Groups {
			gids[i] = int(g)
		}
		if err := unix.Setgroups(gids); err != nil {
			return &exitError{ExitGroup, fmt.Errorf("setgroups %v: %w", w.Groups, err)}
		}
	case root && (w.UID != nil || w.GID != nil):
		// Do not let the service keep root's supplementary groups.
		if err := unix.Setgroups(nil); err != nil {
			return &exitError{ExitGroup, fmt.Errorf("clear supplementary groups: %w", err)}
		}
	}
	if w.GID != nil {
		if err := unix.Setgid(int(*w.GID)); err != nil {
			return &exitError{ExitGroup, fmt.Errorf("setgid %d: %w", *w.GID, err)}
		}
	}
	if w.UID != nil {
		if err := unix.Setuid(int(*w.UID)); err != nil {
			return &exitError{ExitUser, fmt.Errorf("setuid %d: %w", *w.UID, err)}
		}
	}
	return nil
}

func rlimitName(res int) string {
	switch res {
	case unix.RLIMIT_AS:
		return "RLIMIT_AS"
	case unix.RLIMIT_CORE:
		return "RLIMIT_CORE"
	case unix.RLIMIT_CPU:
		return "RLIMIT_CPU"
	case unix.RLIMIT_DATA:
		return "RLIMIT_DATA"
	case unix.RLIMIT_FSIZE:
		return "RLIMIT_FSIZE"
	case unix.RLIMIT_MEMLOCK:
		return "RLIMIT_MEMLOCK"
	case unix.RLIMIT_NOFILE:
		return "RLIMIT_NOFILE"
	case unix.RLIMIT_NPROC:
		return "RLIMIT_NPROC"
	case unix.RLIMIT_STACK:
		return "RLIMIT_STACK"
	}
	return "resource " + strconv.Itoa(res)
}
