package execute

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sysmaster-go/sysmaster/core/execute/seccomp"
	"github.com/sysmaster-go/sysmaster/units"
)

// Sandbox is what the helper sets up between fork and exec beyond ids,
// limits and the working directory: a unit's directories, its mount and
// other namespaces, capabilities and seccomp filter. It travels to the
// helper inside the spec, so it holds only plain values.
type Sandbox struct {
	Dirs []Dir `json:"dirs,omitempty"`

	// PrivateTmp is the host directory whose tmp/ and var-tmp/ become the
	// service's /tmp and /var/tmp; "" for none.
	PrivateTmp string `json:"private_tmp,omitempty"`
	// Stage is a host directory the helper may use for its own nodes: the
	// inaccessible file and directory and a mount point for /dev.
	Stage string `json:"stage,omitempty"`

	ProtectSystem string   `json:"protect_system,omitempty"` // "", yes, full, strict
	ProtectHome   string   `json:"protect_home,omitempty"`   // "", yes, read-only, tmpfs
	ReadWrite     []string `json:"rw,omitempty"`             // "-" first: ignore a missing path
	ReadOnly      []string `json:"ro,omitempty"`
	Inaccessible  []string `json:"inaccessible,omitempty"`
	TempFS        []string `json:"tmpfs,omitempty"` // PATH[:OPTIONS]
	Binds         []Bind   `json:"binds,omitempty"`

	PrivateDevices  bool     `json:"private_devices,omitempty"`
	KernelTunables  bool     `json:"kernel_tunables,omitempty"`
	KernelModules   bool     `json:"kernel_modules,omitempty"`
	KernelLogs      bool     `json:"kernel_logs,omitempty"`
	ControlGroups   bool     `json:"control_groups,omitempty"`
	ProtectProc     string   `json:"protect_proc,omitempty"`
	ProtectHostname bool     `json:"protect_hostname,omitempty"`
	PrivateNetwork  bool     `json:"private_network,omitempty"`
	PrivateUsers    bool     `json:"private_users,omitempty"`
	PrivateMounts   bool     `json:"private_mounts,omitempty"`
	ProcSubset      string   `json:"proc_subset,omitempty"`
	ExecPaths       []string `json:"exec,omitempty"`
	NoExecPaths     []string `json:"noexec,omitempty"`
	IOPriority      *int     `json:"ioprio,omitempty"`
	NoNewPrivileges bool     `json:"nnp,omitempty"`
	BoundingSet     *uint64  `json:"bounding,omitempty"` // nil: unchanged
	// BoundingImplied says that only Protect* settings asked for BoundingSet:
	// a manager without CAP_SETPCAP then leaves the set alone, as it holds
	// none of those capabilities anyway.
	BoundingImplied bool `json:"bounding_implied,omitempty"`
	// OwnUserNS is set by Start when an unprivileged manager gives the
	// helper a user namespace of its own, where it is root.
	OwnUserNS      bool              `json:"own_userns,omitempty"`
	Ambient        uint64            `json:"ambient,omitempty"`
	SecureBits     int               `json:"securebits,omitempty"`
	OOMScoreAdjust *int              `json:"oom_score_adjust,omitempty"`
	SchedPolicy    *int              `json:"sched_policy,omitempty"`
	SchedPriority  int               `json:"sched_priority,omitempty"`
	Seccomp        *seccomp.Settings `json:"seccomp,omitempty"`
}

// Dir is one RuntimeDirectory= (or State-, Cache-, Logs-,
// Configuration-) entry, made before the service starts.
type Dir struct {
	Path  string `json:"path"`
	Mode  uint32 `json:"mode"`
	Owned bool   `json:"owned,omitempty"` // chown to the service's user and group
	Exit  int    `json:"exit"`            // helper exit code when it cannot be made
}

// Bind is one BindPaths= or BindReadOnlyPaths= entry.
type Bind struct {
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	ReadOnly  bool   `json:"ro,omitempty"`
	Optional  bool   `json:"optional,omitempty"`  // "-": skip a missing source
	Recursive bool   `json:"recursive,omitempty"` // "rbind" (the default)
}

// Roots are the directories the relative names of RuntimeDirectory= and
// friends live under, and where per-unit private state goes.
type Roots struct {
	Runtime, State, Cache, Logs, Configuration string
	// Tmp holds PrivateTmp= directories; Stage the helper's nodes.
	Tmp, Stage string
}

// SystemRoots are the roots of the system manager, as systemd's.
func SystemRoots() Roots {
	return Roots{Runtime: "/run", State: "/var/lib", Cache: "/var/cache", Logs: "/var/log",
		Configuration: "/etc", Tmp: "/tmp", Stage: "/run/sysmaster/sandbox"}
}

// UserRoots are the roots of a user manager: the XDG directories, as
// systemd --user uses them. stage is a directory the manager owns.
func UserRoots(stage string) Roots {
	home, _ := os.UserHomeDir()
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	runtime := env("XDG_RUNTIME_DIR", filepath.Join(os.TempDir(), fmt.Sprintf("sysmaster-%d", os.Getuid())))
	state := env("XDG_STATE_HOME", filepath.Join(home, ".local/state"))
	return Roots{Runtime: runtime, State: state, Cache: env("XDG_CACHE_HOME", filepath.Join(home, ".cache")),
		Logs: filepath.Join(state, "log"), Configuration: env("XDG_CONFIG_HOME", filepath.Join(home, ".config")),
		Tmp: os.TempDir(), Stage: stage}
}

// Exit codes of the sandbox steps, numbered as systemd's.
const (
	ExitOOMAdjust        = 206
	ExitIOPrio           = 211
	ExitSecureBits       = 213
	ExitSetScheduler     = 214
	ExitCapabilities     = 218
	ExitNetwork          = 225
	ExitNamespace        = 226
	ExitNoNewPrivileges  = 227
	ExitSeccomp          = 228
	ExitRuntimeDirectory = 233
	ExitStateDirectory   = 238
	ExitCacheDirectory   = 239
	ExitLogsDirectory    = 240
	ExitConfigDirectory  = 241
)

// dirKinds lists the directory settings: key, environment variable and exit code.
var dirKinds = []struct {
	key, env string
	exit     int
	root     func(Roots) string
	list     func(*units.Sandbox) (units.List, *units.FileMode)
}{
	{"RuntimeDirectory", "RUNTIME_DIRECTORY", ExitRuntimeDirectory, func(r Roots) string { return r.Runtime },
		func(s *units.Sandbox) (units.List, *units.FileMode) {
			return s.RuntimeDirectory, s.RuntimeDirectoryMode
		}},
	{"StateDirectory", "STATE_DIRECTORY", ExitStateDirectory, func(r Roots) string { return r.State },
		func(s *units.Sandbox) (units.List, *units.FileMode) { return s.StateDirectory, s.StateDirectoryMode }},
	{"CacheDirectory", "CACHE_DIRECTORY", ExitCacheDirectory, func(r Roots) string { return r.Cache },
		func(s *units.Sandbox) (units.List, *units.FileMode) { return s.CacheDirectory, s.CacheDirectoryMode }},
	{"LogsDirectory", "LOGS_DIRECTORY", ExitLogsDirectory, func(r Roots) string { return r.Logs },
		func(s *units.Sandbox) (units.List, *units.FileMode) { return s.LogsDirectory, s.LogsDirectoryMode }},
	{"ConfigurationDirectory", "CONFIGURATION_DIRECTORY", ExitConfigDirectory, func(r Roots) string { return r.Configuration },
		func(s *units.Sandbox) (units.List, *units.FileMode) {
			return s.ConfigurationDirectory, s.ConfigurationDirectoryMode
		}},
}

// Capability numbers dropped by the Protect* settings.
const (
	capSysModule = 16
	capSysRawio  = 17
	capSysTime   = 25
	capMknod     = 27
	capSyslog    = 34
	capWakeAlarm = 35
)

// NewSandbox turns the sandboxing keys of unit name into what the helper
// applies, and returns the environment variables systemd sets for them
// (RUNTIME_DIRECTORY=...). It returns a nil sandbox when s asks for
// nothing.
func NewSandbox(name string, s *units.Sandbox, roots Roots) (*Sandbox, []string, error) {
	sb := &Sandbox{
		ProtectSystem: choice(s.ProtectSystem), ProtectHome: choice(s.ProtectHome),
		ReadWrite: words(s.ReadWritePaths), ReadOnly: words(s.ReadOnlyPaths), Inaccessible: words(s.InaccessiblePaths),
		TempFS: words(s.TemporaryFileSystem), PrivateDevices: s.PrivateDevices,
		KernelTunables: s.ProtectKernelTunables, KernelModules: s.ProtectKernelModules, KernelLogs: s.ProtectKernelLogs,
		ControlGroups: s.ProtectControlGroups, ProtectHostname: s.ProtectHostname, PrivateNetwork: s.PrivateNetwork,
		PrivateUsers: s.PrivateUsers, NoNewPrivileges: s.NoNewPrivileges, OOMScoreAdjust: s.OOMScoreAdjust,
		PrivateMounts: s.PrivateMounts, ExecPaths: words(s.ExecPaths), NoExecPaths: words(s.NoExecPaths),
	}
	if s.ProcSubset == "pid" {
		sb.ProcSubset = "pid"
	}
	if p, ok := s.IOPriority(); ok {
		sb.IOPriority = &p
	}
	if s.ProtectProc != "" && s.ProtectProc != "default" {
		sb.ProtectProc = s.ProtectProc
	}
	var env []string
	for _, k := range dirKinds {
		list, mode := k.list(s)
		var paths []string
		for _, d := range words(list) {
			m := uint32(0o755)
			if mode != nil {
				m = uint32(*mode)
			}
			p := filepath.Join(k.root(roots), d)
			sb.Dirs = append(sb.Dirs, Dir{Path: p, Mode: m, Owned: k.key != "ConfigurationDirectory", Exit: k.exit})
			paths = append(paths, p)
		}
		if len(paths) > 0 {
			env = append(env, k.env+"="+strings.Join(paths, ":"))
		}
	}
	if s.PrivateTmp {
		sb.PrivateTmp = filepath.Join(roots.Tmp, "sysmaster-private-"+name)
	}
	for _, b := range [][2]any{{s.BindPaths, false}, {s.BindReadOnlyPaths, true}} {
		for _, w := range words(b[0].(units.List)) {
			bind, err := parseBind(w, b[1].(bool))
			if err != nil {
				return nil, nil, err
			}
			sb.Binds = append(sb.Binds, bind)
		}
	}
	if len(s.CapabilityBoundingSet) > 0 || s.PrivateDevices || s.ProtectKernelModules || s.ProtectKernelLogs || s.ProtectClock {
		mask := uint64(1)<<(lastCap()+1) - 1
		if len(s.CapabilityBoundingSet) > 0 {
			m, err := units.Capabilities(s.CapabilityBoundingSet)
			if err != nil {
				return nil, nil, fmt.Errorf("CapabilityBoundingSet: %w", err)
			}
			mask = m
		}
		drop := func(on bool, caps ...uint) {
			for _, c := range caps {
				if on {
					mask &^= 1 << c
				}
			}
		}
		drop(s.PrivateDevices, capMknod, capSysRawio)
		drop(s.ProtectKernelModules, capSysModule)
		drop(s.ProtectKernelLogs, capSyslog)
		drop(s.ProtectClock, capSysTime, capWakeAlarm)
		sb.BoundingSet = &mask
		sb.BoundingImplied = len(s.CapabilityBoundingSet) == 0
	}
	var err error
	if sb.Ambient, err = units.Capabilities(s.AmbientCapabilities); err != nil {
		return nil, nil, fmt.Errorf("AmbientCapabilities: %w", err)
	}
	if sb.SecureBits, err = units.SecureBitsMask(s.SecureBits); err != nil {
		return nil, nil, fmt.Errorf("SecureBits: %w", err)
	}
	if s.CPUSchedulingPolicy != "" || s.CPUSchedulingPriority != nil {
		pol := units.SchedulingPolicies["other"]
		if s.CPUSchedulingPolicy != "" {
			pol = units.SchedulingPolicies[s.CPUSchedulingPolicy]
		}
		sb.SchedPolicy = &pol
		if s.CPUSchedulingPriority != nil {
			sb.SchedPriority = *s.CPUSchedulingPriority
		}
	}
	if sc := s.Seccomp(); !sc.Empty() {
		if _, err := seccomp.Compile(sc); err != nil {
			return nil, nil, err
		}
		sb.Seccomp = &sc
	}
	if sb.needsNamespace() || sb.PrivateUsers {
		sb.Stage = roots.Stage
	}
	if sb.empty() {
		return nil, env, nil
	}
	return sb, env, nil
}

func choice(c units.Choice) string {
	if c.Enabled() {
		return string(c)
	}
	return ""
}

// words splits list entries on blanks, as systemd reads these keys.
func words(l units.List) []string {
	var out []string
	for _, e := range l {
		out = append(out, strings.Fields(e)...)
	}
	return out
}

// parseBind reads [-]SRC[:DST[:OPTIONS]].
func parseBind(w string, ro bool) (Bind, error) {
	b := Bind{ReadOnly: ro, Recursive: true}
	w, b.Optional = strings.CutPrefix(w, "-")
	parts := strings.SplitN(w, ":", 3)
	b.Src, b.Dst = parts[0], parts[0]
	if len(parts) > 1 && parts[1] != "" {
		b.Dst = parts[1]
	}
	if len(parts) > 2 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "rbind":
				b.Recursive = true
			case "norbind":
				b.Recursive = false
			default:
				return b, fmt.Errorf("BindPaths: %q: unknown option %q (want rbind or norbind)", w, o)
			}
		}
	}
	if !filepath.IsAbs(b.Src) || !filepath.IsAbs(b.Dst) {
		return b, fmt.Errorf("BindPaths: %q: want absolute paths", w)
	}
	return b, nil
}

func (sb *Sandbox) empty() bool {
	return len(sb.Dirs) == 0 && !sb.needsNamespace() && !sb.PrivateUsers && !sb.ProtectHostname &&
		!sb.PrivateNetwork && !sb.NoNewPrivileges && sb.BoundingSet == nil && sb.Ambient == 0 &&
		sb.SecureBits == 0 && sb.OOMScoreAdjust == nil && sb.SchedPolicy == nil && sb.Seccomp == nil &&
		sb.IOPriority == nil
}

// needsPrivilege reports whether an unprivileged manager can only apply
// sb inside a user namespace of the helper's own.
func (sb *Sandbox) needsPrivilege() bool {
	return sb.needsNamespace() || sb.ProtectHostname || sb.PrivateNetwork
}

// needsNamespace reports whether a mount namespace is needed.
func (sb *Sandbox) needsNamespace() bool {
	return sb.PrivateTmp != "" || sb.ProtectSystem != "" || sb.ProtectHome != "" || len(sb.ReadWrite) > 0 ||
		len(sb.ReadOnly) > 0 || len(sb.Inaccessible) > 0 || len(sb.TempFS) > 0 || len(sb.Binds) > 0 ||
		sb.PrivateDevices || sb.KernelTunables || sb.KernelModules || sb.KernelLogs || sb.ControlGroups ||
		sb.ProtectProc != "" || sb.ProcSubset != "" || sb.PrivateMounts || len(sb.ExecPaths) > 0 || len(sb.NoExecPaths) > 0
}

// lastCap is the highest capability the running kernel knows.
func lastCap() uint {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		var n uint
		if _, err := fmt.Sscanf(string(b), "%d", &n); err == nil && n < 64 {
			return n
		}
	}
	return uint(len(units.CapabilityNames) - 1)
}

// Cleanup removes what a unit's sandbox left on the host once the service
// has stopped for good: its RuntimeDirectory= entries (unless preserved)
// and its PrivateTmp= directories. restarting keeps what
// RuntimeDirectoryPreserve=restart asks to keep.
func Cleanup(name string, s *units.Sandbox, roots Roots, restarting bool) error {
	var errs []string
	preserve := s.RuntimeDirectoryPreserve
	if preserve != "yes" && !(preserve == "restart" && restarting) {
		for _, d := range words(s.RuntimeDirectory) {
			if err := os.RemoveAll(filepath.Join(roots.Runtime, d)); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if s.PrivateTmp && !restarting {
		if err := os.RemoveAll(filepath.Join(roots.Tmp, "sysmaster-private-"+name)); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("clean up %s: %s", name, strings.Join(errs, "; "))
	}
	return nil
}
