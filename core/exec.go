package core

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/core/logbuf"
	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/units"
)

// logRingBytes bounds the output kept per unit.
const logRingBytes = 64 << 10

var rlimitNames = map[string]int{
	"CPU": unix.RLIMIT_CPU, "FSIZE": unix.RLIMIT_FSIZE, "CORE": unix.RLIMIT_CORE, "STACK": unix.RLIMIT_STACK,
	"AS": unix.RLIMIT_AS, "NOFILE": unix.RLIMIT_NOFILE, "NPROC": unix.RLIMIT_NPROC, "MEMLOCK": unix.RLIMIT_MEMLOCK,
}

// exec starts one command of u. main says it is the service's main process
// (which receives socket-activation fds and the watchdog settings).
func (m *Manager) exec(u *service, c units.Command, directive string, main bool) (int, error) {
	s := u.svc()
	env, err := m.environment(u, main)
	if err != nil {
		return 0, err
	}
	spec := &execute.Spec{
		Path:           c.Path,
		Argv:           c.Expand(envLookup(env)),
		Env:            env,
		Dir:            s.WorkingDirectory,
		Setsid:         true,
		DefaultSIGPIPE: !*s.IgnoreSIGPIPE,
		Directive:      directive,
		Cgroup:         u.cgroup,
	}
	if spec.Dir == "" {
		spec.Dir = "/"
	}
	asUser := !c.Privileged && !c.KeepUser
	if s.User != "" && asUser {
		uid, gid, home, err := execute.LookupUser(s.User)
		if err != nil {
			return 0, fmt.Errorf("user %q (User=): %w", s.User, err)
		}
		spec.UID, spec.GID = &uid, &gid
		spec.Groups = []uint32{gid}
		spec.Env = append(spec.Env, "HOME="+home, "USER="+s.User)
	}
	if s.Group != "" && asUser {
		gid, err := execute.LookupGroup(s.Group)
		if err != nil {
			return 0, fmt.Errorf("group %q (Group=): %w", s.Group, err)
		}
		spec.GID = &gid
		spec.Groups = []uint32{gid}
	}
	for _, name := range strings.Fields(strings.Join(s.SupplementaryGroups, " ")) {
		if !asUser {
			break
		}
		gid, err := execute.LookupGroup(name)
		if err != nil {
			return 0, fmt.Errorf("group %q (SupplementaryGroups=): %w", name, err)
		}
		spec.Groups = append(spec.Groups, gid)
	}
	if s.UMask != nil {
		um := uint32(*s.UMask)
		spec.UMask = &um
	}
	spec.Nice = s.Nice
	sb, sbEnv, err := execute.NewSandbox(u.name, &s.Sandbox, m.sandboxRoots())
	if err != nil {
		return 0, fmt.Errorf("sandbox: %w", err)
	}
	spec.Env = append(spec.Env, sbEnv...)
	if !c.Privileged {
		spec.Sandbox = sb
	}
	if rl := s.Rlimits(); len(rl) > 0 {
		spec.Rlimits = map[int]unix.Rlimit{}
		for name, l := range rl {
			spec.Rlimits[rlimitNames[name]] = unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		}
	}
	var closeAfter []*os.File
	defer func() {
		for _, f := range closeAfter {
			f.Close()
		}
	}()
	if s.StandardInput == "tty" {
		tty, err := os.OpenFile(consoleTTY(s.TTYPath), os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return 0, fmt.Errorf("open TTYPath: %w", err)
		}
		closeAfter = append(closeAfter, tty)
		spec.Stdin, spec.Stdout, spec.Stderr, spec.SetCtty = tty, tty, tty, true
	} else {
		spec.Stdin = m.devnull
		if spec.Stdout, err = m.output(u, s.StandardOutput, &closeAfter); err != nil {
			return 0, err
		}
		// One capture for both streams when they go the same way, as a
		// terminal would interleave them.
		if s.StandardError == s.StandardOutput || s.StandardError == "" || s.StandardError == "inherit" {
			spec.Stderr = spec.Stdout
		} else if spec.Stderr, err = m.output(u, s.StandardError, &closeAfter); err != nil {
			return 0, err
		}
	}
	if main {
		spec.ExtraFiles = m.socketFiles(u)
		spec.ListenPID = len(spec.ExtraFiles) > 0
		spec.NonBlocking = s.NonBlocking
	}
	return m.procs.start(m.self, spec)
}

// envLookup finds a variable in env, the last assignment winning, for
// $NAME in command lines.
func envLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// sandboxRoots are where the sandbox's directories go: systemd's in system
// mode, the XDG directories in user mode.
func (m *Manager) sandboxRoots() execute.Roots {
	stage := filepath.Join(m.cfg.StateDir, "sandbox")
	if m.cfg.User {
		return execute.UserRoots(stage)
	}
	r := execute.SystemRoots()
	r.Stage = stage
	return r
}

// output returns the file a service writes kind (StandardOutput=) to.
// Captured output goes to the unit's ring and is mirrored to the console
// or the kernel log.
func (m *Manager) output(u *service, kind string, closeAfter *[]*os.File) (*os.File, error) {
	console, _ := m.cfg.Console.(*os.File)
	switch kind {
	case "null":
		return m.devnull, nil
	case "console", "inherit", "tty":
		if console != nil {
			return console, nil
		}
		return m.devnull, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("capture output: %w", err)
	}
	m.attachLog(u, pr, m.mirror(kind))
	*closeAfter = append(*closeAfter, pw)
	return pw, nil
}

// mirror is where captured output of kind (StandardOutput=) is copied as
// it is read.
func (m *Manager) mirror(kind string) io.Writer {
	if kind == "kmsg" && m.kmsg != nil {
		return logbuf.KmsgWriter(m.kmsg)
	}
	return m.cfg.Console
}

// attachLog reads pr, a capture pipe of u's processes, into u's ring. Init
// keeps a copy of the read end while the pipe lives, so that a service
// never writes into a broken pipe while no manager runs (a crash, a
// daemon-reexec), and the next manager reads on from it.
func (m *Manager) attachLog(u *service, pr *os.File, mirror io.Writer) {
	m.readLog(u, pr, mirror)
	m.storeFDs(u.name, u.logPipes...)
}

// readLog reads pr into u's ring until its writers are gone.
func (m *Manager) readLog(u *service, pr *os.File, mirror io.Writer) {
	if u.log == nil {
		u.log = logbuf.New(logRingBytes)
	}
	u.logPipes = append(u.logPipes, pr)
	name := u.name
	u.log.Attach(name, pr, mirror, func() { m.post(func() { m.detachLog(name, pr) }) })
}

// detachLog forgets a capture pipe whose writers have all closed it.
func (m *Manager) detachLog(name string, pr *os.File) {
	un := m.units[name]
	if un == nil {
		return
	}
	u, ok := un.k.(*service)
	if !ok {
		return
	}
	i := slices.Index(u.logPipes, pr)
	if i < 0 {
		return
	}
	u.logPipes = slices.Delete(u.logPipes, i, i+1)
	m.storeFDs(name, u.logPipes...)
}

// environment is what every process of u starts with: a base, the
// manager's notify and socket settings, EnvironmentFile= and Environment=.
func (m *Manager) environment(u *service, main bool) ([]string, error) {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if m.cfg.User {
		for _, k := range []string{"PATH", "HOME", "USER", "LANG"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	env = append(env, proto.EnvUnit+"="+u.name)
	if m.cfg.Socket != "" {
		env = append(env, proto.EnvSocket+"="+m.cfg.Socket)
	}
	s := u.svc()
	if m.notify != nil && (s.Type == "notify" || s.NotifyAccess != "none" && s.NotifyAccess != "") {
		env = append(env, "NOTIFY_SOCKET="+m.notify.Path())
	}
	if main && s.WatchdogSec > 0 {
		env = append(env, fmt.Sprintf("WATCHDOG_USEC=%d", s.WatchdogSec.D().Microseconds()))
	}
	if main {
		if names := m.socketNames(u); len(names) > 0 {
			// LISTEN_PID is set by the exec helper, which knows the pid.
			env = append(env, fmt.Sprintf("LISTEN_FDS=%d", len(names)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		}
	}
	for _, ef := range s.EnvironmentFiles() {
		vars, err := execute.ReadEnvironmentFile(ef.Path)
		if err != nil {
			if ef.Optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("EnvironmentFile: %w", err)
		}
		env = append(env, vars...)
	}
	return append(env, s.Environment...), nil
}
