// Package execute starts one service process with the execution settings
// that syscall.ForkExec cannot apply between fork and exec (umask, resource
// limits, nice, supplementary groups, joining a cgroup).
//
// Go gives no hook that runs in the child between fork and exec, so, like
// systemd-executor, Start re-executes the manager's own binary as the small
// "sm-exec" applet (Main). The helper applies the settings to itself and then
// execs the service in place, so the pid that Start returns is the service's
// pid. Specs that need nothing beyond ForkExec skip the helper, and so do
// those that only join a cgroup, where the kernel can start the child in it.
//
// Start never waits for the child: the manager's reaper owns every wait4.
package execute

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Spec says how to start one service process.
type Spec struct {
	// Path is the file executed; "" means Argv[0]. It is not searched in $PATH.
	Path string
	Argv []string
	Env  []string
	Dir  string // working directory; "" keeps the manager's

	UID, GID *uint32 // nil leaves the id unchanged
	Groups   []uint32
	UMask    *uint32
	Nice     *int
	Rlimits  map[int]unix.Rlimit // keyed by unix.RLIMIT_*
	// Cgroup is the directory of a cgroup to join before exec; "" joins none.
	Cgroup string

	Setsid  bool
	SetCtty bool // make Stdin the controlling terminal (needs Setsid)

	// Nil stdio files are connected to /dev/null.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, ... in the service (socket activation);
	// setting LISTEN_FDS and friends in Env is the caller's job.
	ExtraFiles []*os.File
	// NonBlocking sets O_NONBLOCK on ExtraFiles (NonBlocking=).
	NonBlocking bool
	// DefaultSIGPIPE starts the service with SIGPIPE at its default
	// action (IgnoreSIGPIPE=no) through the helper; otherwise the service
	// inherits the manager's disposition, which the manager sets to ignored.
	DefaultSIGPIPE bool

	// ListenPID sets LISTEN_PID to the service's own pid, which only the
	// process itself knows before exec (socket activation).
	ListenPID bool

	// Sandbox is applied by the helper; nil for none (see NewSandbox).
	Sandbox *Sandbox

	// Directive names the setting in the helper's error line
	// ("sm-exec: ExecStart=/bin/x: ..."); "" means ExecStart.
	Directive string
}

// HelperName is the applet name (argv[0]) the helper runs under.
const HelperName = "sm-exec"

// SpecEnv is the variable that carries the JSON-encoded spec to the helper.
//
// An environment variable rather than a pipe: execve delivers it whole and
// atomically, there is no extra fd to keep out of the service's fd 3+ range,
// and no partial write or EPIPE to handle when the helper dies early. The
// helper's own environment holds nothing else and never reaches the service.
const SpecEnv = "SM_EXEC_SPEC"

// maxSpecLen stays under the kernel's limit for one environment string
// (MAX_ARG_STRLEN, 32 pages).
const maxSpecLen = 32*4096 - len(SpecEnv) - 2

// Exit codes of the helper, numbered as systemd's EXIT_* so that a failure to
// set up or exec can be told from a service that exited on its own.
const (
	ExitChdir  = 200 // EXIT_CHDIR
	ExitNice   = 201 // EXIT_NICE
	ExitExec   = 203 // EXIT_EXEC
	ExitMemory = 204 // EXIT_MEMORY: the spec could not be decoded
	ExitLimits = 205 // EXIT_LIMITS
	ExitGroup  = 216 // EXIT_GROUP
	ExitUser   = 217 // EXIT_USER
	ExitCgroup = 219 // EXIT_CGROUP
)

// ExitCodeName returns systemd's name of a helper exit code ("EXEC" for
// 203), or "" for a code the helper does not use, so that a status can be
// printed as "status=203/EXEC".
func ExitCodeName(code int) string { return exitCodeNames[code] }

var exitCodeNames = map[int]string{
	ExitChdir: "CHDIR", ExitNice: "NICE", ExitExec: "EXEC", ExitMemory: "MEMORY", ExitLimits: "LIMITS",
	ExitGroup: "GROUP", ExitUser: "USER", ExitCgroup: "CGROUP", ExitOOMAdjust: "OOM_ADJUST",
	ExitSecureBits: "SECUREBITS", ExitSetScheduler: "SETSCHEDULER", ExitCapabilities: "CAPABILITIES",
	ExitNetwork: "NETWORK", ExitNamespace: "NAMESPACE", ExitNoNewPrivileges: "NO_NEW_PRIVILEGES",
	ExitSeccomp: "SECCOMP", ExitRuntimeDirectory: "RUNTIME_DIRECTORY", ExitStateDirectory: "STATE_DIRECTORY",
	ExitCacheDirectory: "CACHE_DIRECTORY", ExitLogsDirectory: "LOGS_DIRECTORY", ExitConfigDirectory: "CONFIGURATION_DIRECTORY",
}

// wireSpec is the part of Spec the helper needs; files travel as fds.
type wireSpec struct {
	Path      string              `json:"path,omitempty"`
	Argv      []string            `json:"argv"`
	Env       []string            `json:"env"`
	Dir       string              `json:"dir,omitempty"`
	UID       *uint32             `json:"uid,omitempty"`
	GID       *uint32             `json:"gid,omitempty"`
	Groups    []uint32            `json:"groups,omitempty"`
	UMask     *uint32             `json:"umask,omitempty"`
	Nice      *int                `json:"nice,omitempty"`
	Rlimits   map[int]unix.Rlimit `json:"rlimits,omitempty"`
	Cgroup    string              `json:"cgroup,omitempty"`
	Directive string              `json:"directive,omitempty"`
	ListenPID bool                `json:"listen_pid,omitempty"`
	// IgnoreSIGPIPE is the manager's SIGPIPE disposition unless
	// DefaultSIGPIPE: Go's runtime in the helper does not keep it.
	IgnoreSIGPIPE bool     `json:"ignore_sigpipe,omitempty"`
	Sandbox       *Sandbox `json:"sandbox,omitempty"`
}

// needsHelper reports whether s asks for anything ForkExec cannot do.
func (s *Spec) needsHelper() bool {
	return s.Cgroup != "" || !s.onlyCgroup()
}

// onlyCgroup reports whether joining a cgroup, if anything, is all s asks
// beyond what ForkExec does.
func (s *Spec) onlyCgroup() bool {
	return s.UMask == nil && s.Nice == nil && len(s.Rlimits) == 0 &&
		len(s.Groups) == 0 && !s.ListenPID && s.Sandbox == nil && !s.DefaultSIGPIPE
}

// direct starts s with ForkExec alone.
func direct(s *Spec, files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	sys.Credential = credential(s)
	attr := &syscall.ProcAttr{Dir: s.Dir, Env: s.Env, Files: files, Sys: sys}
	pid, err := syscall.ForkExec(s.path(), s.Argv, attr)
	keepAlive(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", s.directive(), s.path(), err)
	}
	return pid, nil
}

// cloneIntoCgroupRefused reports whether err is clone3 refusing to start a
// child in a cgroup (no clone3, no CLONE_INTO_CGROUP, not a cgroup2
// directory, a cgroup that cannot take processes) rather than exec failing.
func cloneIntoCgroupRefused(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.EINVAL, unix.E2BIG, unix.EBADF, unix.EOPNOTSUPP, unix.EBUSY} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Start starts the process described by s and returns its pid without
// waiting for it. self is the path of the manager's own binary (for example
// /proc/self/exe resolved by the caller); it is executed as the helper when
// s needs settings ForkExec cannot apply.
//
// On the direct path an exec failure is returned as an error. On the helper
// path the helper reports it by exiting with one of the Exit* codes after
// printing one line to the service's stderr.
func Start(self string, s *Spec) (int, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return 0, errors.New("execute: empty command line")
	}
	files, closeAll, err := childFiles(s)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	if s.NonBlocking {
		// After childFiles: Fd() puts a file back in blocking mode.
		for _, fd := range files[3:] {
			if err := unix.SetNonblock(int(fd), true); err != nil {
				return 0, fmt.Errorf("execute: NonBlocking: %w", err)
			}
		}
	}

	sys := &syscall.SysProcAttr{Setsid: s.Setsid, Setctty: s.SetCtty, Ctty: 0}
	if !s.needsHelper() {
		return direct(s, files, sys)
	}
	if s.onlyCgroup() {
		// clone3 with CLONE_INTO_CGROUP (Linux 5.7) starts the child in
		// its cgroup, which spares every service of a board a start of
		// the helper. The helper joins it where that cannot be done.
		if fd, err := unix.Open(s.Cgroup, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			sys.UseCgroupFD, sys.CgroupFD = true, fd
			pid, err := direct(s, files, sys)
			unix.Close(fd)
			if !cloneIntoCgroupRefused(err) {
				return pid, err
			}
			sys.UseCgroupFD, sys.CgroupFD = false, 0
		}
	}

	sandbox := s.Sandbox
	if sb := s.Sandbox; sb != nil && os.Geteuid() != 0 && (sb.PrivateUsers || sb.needsPrivilege()) {
		userNamespace(sys, s)
		c := *sb
		c.OwnUserNS = true
		sandbox = &c
	} else if sb != nil && sb.PrivateUsers {
		userNamespace(sys, s)
	}
	b, err := json.Marshal(wireSpec{
		Path: s.Path, Argv: s.Argv, Env: s.Env, Dir: s.Dir, UID: s.UID, GID: s.GID,
		Groups: s.Groups, UMask: s.UMask, Nice: s.Nice, Rlimits: s.Rlimits,
		Cgroup: s.Cgroup, Directive: s.Directive, ListenPID: s.ListenPID, Sandbox: sandbox,
		IgnoreSIGPIPE: !s.DefaultSIGPIPE && sigpipeIgnored(),
	})
	if err != nil {
		return 0, fmt.Errorf("execute: encode spec: %w", err)
	}
	if len(b) > maxSpecLen {
		return 0, fmt.Errorf("execute: %s=%s: spec is %d bytes, over the %d-byte limit of one environment string",
			s.directive(), s.Argv[0], len(b), maxSpecLen)
	}
	// The helper changes directory itself, after dropping privileges.
	attr := &syscall.ProcAttr{Env: []string{SpecEnv + "=" + string(b)}, Files: files, Sys: sys}
	pid, err := syscall.ForkExec(self, []string{HelperName}, attr)
	keepAlive(s)
	if err != nil {
		return 0, fmt.Errorf("execute: start helper %s: %w", self, err)
	}
	return pid, nil
}

func (s *Spec) path() string {
	if s.Path != "" {
		return s.Path
	}
	return s.Argv[0]
}

func (s *Spec) directive() string {
	if s.Directive == "" {
		return "ExecStart"
	}
	return s.Directive
}

// childFiles lists the fds the child gets as 0, 1, 2, 3, ...; closeAll
// closes the /dev/null opened for missing stdio.
func childFiles(s *Spec) ([]uintptr, func(), error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	fd := func(f *os.File, flag int) (uintptr, error) {
		if f == nil {
			n, err := os.OpenFile(os.DevNull, flag, 0)
			if err != nil {
				return 0, fmt.Errorf("execute: %w", err)
			}
			opened = append(opened, n)
			f = n
		}
		return f.Fd(), nil
	}
	files := make([]uintptr, 0, 3+len(s.ExtraFiles))
	for i, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		flag := os.O_WRONLY
		if i == 0 {
			flag = os.O_RDONLY
		}
		u, err := fd(f, flag)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, u)
	}
	for i, f := range s.ExtraFiles {
		if f == nil {
			closeAll()
			return nil, nil, fmt.Errorf("execute: extra file %d (fd %d) is nil", i, i+3)
		}
		files = append(files, f.Fd())
	}
	return files, closeAll, nil
}

// keepAlive keeps the caller's files (and their fds) open until ForkExec
// has duplicated them.
func keepAlive(s *Spec) {
	runtime.KeepAlive(s.Stdin)
	runtime.KeepAlive(s.Stdout)
	runtime.KeepAlive(s.Stderr)
	runtime.KeepAlive(s.ExtraFiles)
}

// sigpipeIgnored reports whether this process ignores SIGPIPE.
func sigpipeIgnored() bool { return signal.Ignored(syscall.SIGPIPE) }

// userNamespace makes the helper start in a new user namespace, which Go
// can only create at clone time (unshare needs a single-threaded process).
// As systemd's PrivateUsers=, root and the service's user map to
// themselves and every other id to nobody. An unprivileged manager may only
// map its own ids: it maps them to root of the namespace, so that the
// helper keeps its capabilities there across its own execve and can build
// mount namespaces at all; the helper drops them all before the service.
func userNamespace(sys *syscall.SysProcAttr, s *Spec) {
	sys.Cloneflags |= syscall.CLONE_NEWUSER
	uid, gid := os.Geteuid(), os.Getegid()
	if uid != 0 {
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		return
	}
	sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	if s.UID != nil && *s.UID != 0 {
		sys.UidMappings = append(sys.UidMappings, syscall.SysProcIDMap{ContainerID: int(*s.UID), HostID: int(*s.UID), Size: 1})
	}
	seen := map[uint32]bool{0: true}
	for _, g := range append(append([]uint32{}, s.Groups...), gidOf(s)...) {
		if !seen[g] {
			seen[g] = true
			sys.GidMappings = append(sys.GidMappings, syscall.SysProcIDMap{ContainerID: int(g), HostID: int(g), Size: 1})
		}
	}
	sys.GidMappingsEnableSetgroups = true
}

func gidOf(s *Spec) []uint32 {
	if s.GID == nil {
		return nil
	}
	return []uint32{*s.GID}
}

// credential fills the ids ForkExec switches to; nil when none is asked.
func credential(s *Spec) *syscall.Credential {
	if s.UID == nil && s.GID == nil {
		return nil
	}
	c := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if s.UID != nil {
		c.Uid = *s.UID
	}
	if s.GID != nil {
		c.Gid = *s.GID
	}
	// Root drops its supplementary groups with its ids; anyone else may not
	// call setgroups at all, even to keep what it has.
	c.NoSetGroups = os.Geteuid() != 0
	return c
}
