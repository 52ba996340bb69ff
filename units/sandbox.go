package units

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/execute/seccomp"
)

// Sandbox holds the sandboxing and execution-environment keys of
// [Service], applied by the exec helper between fork and exec as systemd
// does. It is embedded in ServiceSection, so its keys sit in [Service].
type Sandbox struct {
	// Directories created before the service starts, owned by User= and
	// Group= (except ConfigurationDirectory): relative names under /run,
	// /var/lib, /var/cache, /var/log and /etc (in user mode the XDG
	// directories), passed as $RUNTIME_DIRECTORY and so on.
	RuntimeDirectory       List
	StateDirectory         List
	CacheDirectory         List
	LogsDirectory          List
	ConfigurationDirectory List
	// The *DirectoryMode keys are the modes of those directories, set at
	// every start.
	RuntimeDirectoryMode       *FileMode
	StateDirectoryMode         *FileMode
	CacheDirectoryMode         *FileMode
	LogsDirectoryMode          *FileMode
	ConfigurationDirectoryMode *FileMode
	// RuntimeDirectoryPreserve: no (removed when the service stops), yes,
	// or restart (kept across a restart).
	RuntimeDirectoryPreserve Choice

	PrivateTmp          bool   // a /tmp and /var/tmp of the unit's own, shared by its processes, removed at stop
	ProtectSystem       Choice // yes: /usr, /boot and /efi read-only; full: /etc too; strict: everything but /dev, /proc, /sys
	ProtectHome         Choice // yes: /home, /root and /run/user hidden; read-only; tmpfs: an empty read-only tmpfs
	ReadWritePaths      List   // paths kept writable inside a read-only tree; "-" first ignores a missing path
	ReadOnlyPaths       List   // paths made read-only; "-" first ignores a missing path
	InaccessiblePaths   List   // paths hidden behind an empty node of mode 0; "-" first ignores a missing path
	TemporaryFileSystem List   // PATH[:OPTIONS]: an empty tmpfs over PATH ("ro" makes it read-only)
	BindPaths           List   // [-]SRC[:DST[:rbind|norbind]]: SRC bound at DST
	BindReadOnlyPaths   List   // as BindPaths, read-only
	PrivateDevices      bool   // a /dev with only null, zero, full, random, urandom, tty, pts and shm; no CAP_MKNOD or raw I/O
	// ProtectKernelTunables makes /proc/sys, /sys and other kernel knobs
	// read-only and hides /proc/kallsyms and /proc/kcore.
	ProtectKernelTunables bool
	// ProtectKernelModules hides the module directories, drops
	// CAP_SYS_MODULE and denies the module system calls.
	ProtectKernelModules bool
	// ProtectKernelLogs hides /proc/kmsg and /dev/kmsg, drops CAP_SYSLOG
	// and denies syslog(2).
	ProtectKernelLogs    bool
	ProtectControlGroups bool   // /sys/fs/cgroup read-only
	ProtectProc          string // default, invisible, noaccess or ptraceable: hides other users' processes in /proc
	ProcSubset           string // all (default) or pid: /proc shows processes only
	ProtectClock         bool   // drops CAP_SYS_TIME and CAP_WAKE_ALARM and denies the calls that set the clock
	ProtectHostname      bool   // a UTS namespace of its own: setting the hostname stays inside
	PrivateNetwork       bool   // a network namespace with only a loopback interface, up
	PrivateUsers         bool   // a user namespace mapping root and User= to themselves and every other id to nobody
	PrivateMounts        bool   // a mount namespace of its own, nothing else changed
	ExecPaths            List   // paths where exec is allowed again under NoExecPaths
	NoExecPaths          List   // paths mounted noexec

	NoNewPrivileges       bool   // no_new_privs: setuid bits and file capabilities do not raise privileges
	CapabilityBoundingSet List   // capability names kept in the bounding set; "~" first lists those dropped
	AmbientCapabilities   List   // capabilities kept across the switch to User= (ambient set)
	SecureBits            List   // keep-caps, keep-caps-locked, no-setuid-fixup, no-setuid-fixup-locked, noroot, noroot-locked
	OOMScoreAdjust        *int   // -1000..1000, written to /proc/self/oom_score_adj
	IOSchedulingClass     string // none, realtime, best-effort or idle (ioprio_set)
	IOSchedulingPriority  *int   // 0 (highest)..7 within the class
	SupplementaryGroups   List   // groups added to Group='s
	RemoveIPC             bool   // at stop, remove the System V and POSIX IPC objects of User=
	CPUSchedulingPolicy   string // other, batch, idle, fifo or rr
	CPUSchedulingPriority *int   // 1..99 for fifo and rr

	SystemCallFilter        List   // names and @groups allowed, or denied with "~" first; a name may end in ":ERRNO"
	SystemCallArchitectures List   // only "native": calls through another ABI kill the service
	SystemCallErrorNumber   string // errno name returned by denied calls; unset or "kill" kills with SIGSYS
	RestrictAddressFamilies List   // AF_* families socket(2) may use; "~" first lists those denied; "none"
	RestrictNamespaces      Choice // yes, no, or the namespace types allowed ("~" first: denied): cgroup ipc net mnt pid user uts time
	RestrictRealtime        bool   // realtime scheduling policies refused
	RestrictSUIDSGID        bool   // setting setuid and setgid bits on files refused
	MemoryDenyWriteExecute  bool   // writable and executable memory, or making memory executable, refused
	LockPersonality         bool   // personality(2) locked to the default
}

// words splits list entries on blanks.
func words(l List) []string {
	var out []string
	for _, e := range l {
		out = append(out, strings.Fields(e)...)
	}
	return out
}

// IOPriority returns the ioprio_set(2) value of IOSchedulingClass= and
// IOSchedulingPriority=, and whether either is set.
func (s *Sandbox) IOPriority() (int, bool) {
	if s.IOSchedulingClass == "" && s.IOSchedulingPriority == nil {
		return 0, false
	}
	class := map[string]int{"none": 0, "realtime": 1, "best-effort": 2, "idle": 3, "0": 0, "1": 1, "2": 2, "3": 3}[s.IOSchedulingClass]
	prio := 4
	if s.IOSchedulingPriority != nil {
		prio = *s.IOSchedulingPriority
	}
	if s.IOSchedulingClass == "" || class == 0 {
		class = 2 // a priority alone means best-effort, as systemd
	}
	if class == 3 {
		prio = 0
	}
	return class<<13 | prio, true
}

// Choice is a value that is either a boolean or one of a few words, like
// ProtectSystem = true or ProtectSystem = "strict". Booleans are stored as
// "yes" and "no"; "" means unset.
type Choice string

// UnmarshalTOML accepts a boolean or a string.
func (c *Choice) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case bool:
		*c = "no"
		if v {
			*c = "yes"
		}
		return nil
	case string:
		switch strings.ToLower(v) {
		case "true", "yes", "on", "1":
			*c = "yes"
		case "false", "no", "off", "0":
			*c = "no"
		default:
			*c = Choice(v)
		}
		return nil
	}
	return fmt.Errorf("want a boolean or a string, got %T", v)
}

// Enabled reports whether c is set to anything but "no".
func (c Choice) Enabled() bool { return c != "" && c != "no" }

// Seccomp returns the seccomp settings of s; extra calls are denied for
// ProtectClock=, ProtectKernelModules=, ProtectKernelLogs= and
// PrivateDevices=, as systemd does.
func (s *Sandbox) Seccomp() seccomp.Settings {
	out := seccomp.Settings{
		SystemCallFilter:       s.SystemCallFilter,
		ErrorNumber:            s.SystemCallErrorNumber,
		Architectures:          s.SystemCallArchitectures,
		AddressFamilies:        s.RestrictAddressFamilies,
		Namespaces:             string(s.RestrictNamespaces),
		Realtime:               s.RestrictRealtime,
		SUIDSGID:               s.RestrictSUIDSGID,
		MemoryDenyWriteExecute: s.MemoryDenyWriteExecute,
		LockPersonality:        s.LockPersonality,
	}
	if s.ProtectClock {
		out.Deny = append(out.Deny, "@clock")
	}
	if s.ProtectKernelModules {
		out.Deny = append(out.Deny, "@module")
	}
	if s.ProtectKernelLogs {
		out.Deny = append(out.Deny, "syslog")
	}
	if s.PrivateDevices {
		out.Deny = append(out.Deny, "@raw-io")
	}
	return out
}

// Capabilities parses a capability list (CapabilityBoundingSet= style)
// into a mask. An empty list is the empty set; "~" before the first name
// inverts the set.
func Capabilities(l List) (uint64, error) {
	words := strings.Fields(strings.Join(l, " "))
	invert := len(words) > 0 && strings.HasPrefix(words[0], "~")
	if invert {
		words[0] = strings.TrimPrefix(words[0], "~")
		if words[0] == "" {
			words = words[1:]
		}
	}
	var mask uint64
	for _, w := range words {
		n, ok := capabilityNumber(w)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", w)
		}
		mask |= 1 << n
	}
	if invert {
		mask = ^mask & (1<<(unix.CAP_LAST_CAP+1) - 1)
	}
	return mask, nil
}

// CapabilityNames are the capabilities by number, as systemd spells them.
var CapabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

func capabilityNumber(name string) (int, bool) {
	up := strings.ToUpper(name)
	if !strings.HasPrefix(up, "CAP_") {
		up = "CAP_" + up
	}
	for i, n := range CapabilityNames {
		if n == up {
			return i, true
		}
	}
	return 0, false
}

// secureBits maps SecureBits= words to their bits (<linux/securebits.h>).
var secureBits = map[string]int{
	"noroot": 1 << 0, "noroot-locked": 1 << 1, "no-setuid-fixup": 1 << 2, "no-setuid-fixup-locked": 1 << 3,
	"keep-caps": 1 << 4, "keep-caps-locked": 1 << 5,
}

// SecureBitsMask parses SecureBits=.
func SecureBitsMask(l List) (int, error) {
	bits := 0
	for _, w := range strings.Fields(strings.Join(l, " ")) {
		b, ok := secureBits[w]
		if !ok {
			return 0, fmt.Errorf("unknown secure bit %q", w)
		}
		bits |= b
	}
	return bits, nil
}

// SchedulingPolicies maps CPUSchedulingPolicy= to the kernel's numbers.
var SchedulingPolicies = map[string]int{
	"other": unix.SCHED_NORMAL, "batch": unix.SCHED_BATCH, "idle": unix.SCHED_IDLE,
	"fifo": unix.SCHED_FIFO, "rr": unix.SCHED_RR,
}

// validateSandbox checks the sandboxing keys of a service.
func (p *parsed) validateSandbox() error {
	s := &p.u.Service.Sandbox
	choice := func(key string, v *Choice, set ...string) error {
		if *v == "" || *v == "no" || *v == "yes" || oneOf(string(*v), set...) {
			return nil
		}
		return p.errAt("Service", key, "%q is not a boolean or one of %s", string(*v), strings.Join(set, ", "))
	}
	if err := choice("ProtectSystem", &s.ProtectSystem, "full", "strict"); err != nil {
		return err
	}
	if err := choice("ProtectHome", &s.ProtectHome, "read-only", "tmpfs"); err != nil {
		return err
	}
	if err := choice("RuntimeDirectoryPreserve", &s.RuntimeDirectoryPreserve, "restart"); err != nil {
		return err
	}
	if s.ProcSubset != "" && !oneOf(s.ProcSubset, "all", "pid") {
		return p.errAt("Service", "ProcSubset", "%q is not all or pid", s.ProcSubset)
	}
	if s.IOSchedulingClass != "" && !oneOf(s.IOSchedulingClass, "none", "realtime", "best-effort", "idle", "0", "1", "2", "3") {
		return p.errAt("Service", "IOSchedulingClass", "%q is not one of none, realtime, best-effort, idle", s.IOSchedulingClass)
	}
	if s.IOSchedulingPriority != nil && (*s.IOSchedulingPriority < 0 || *s.IOSchedulingPriority > 7) {
		return p.errAt("Service", "IOSchedulingPriority", "%d is not in 0..7", *s.IOSchedulingPriority)
	}
	for _, g := range words(s.SupplementaryGroups) {
		if strings.ContainsAny(g, ":/") {
			return p.errAt("Service", "SupplementaryGroups", "%q is not a group name or number", g)
		}
	}
	if s.ProtectProc != "" && !oneOf(s.ProtectProc, "default", "invisible", "noaccess", "ptraceable") {
		return p.errAt("Service", "ProtectProc", "%q is not one of default, invisible, noaccess, ptraceable", s.ProtectProc)
	}
	for _, d := range []struct {
		key string
		l   List
	}{{"RuntimeDirectory", s.RuntimeDirectory}, {"StateDirectory", s.StateDirectory}, {"CacheDirectory", s.CacheDirectory},
		{"LogsDirectory", s.LogsDirectory}, {"ConfigurationDirectory", s.ConfigurationDirectory}} {
		for _, e := range d.l {
			for _, w := range strings.Fields(e) {
				if path.IsAbs(w) || path.Clean(w) != w || strings.HasPrefix(w, "..") {
					return p.errAt("Service", d.key, "%q: want a relative path without \"..\"", w)
				}
			}
		}
	}
	for _, d := range []struct {
		key string
		l   List
	}{{"ReadWritePaths", s.ReadWritePaths}, {"ReadOnlyPaths", s.ReadOnlyPaths}, {"InaccessiblePaths", s.InaccessiblePaths},
		{"ExecPaths", s.ExecPaths}, {"NoExecPaths", s.NoExecPaths},
		{"TemporaryFileSystem", s.TemporaryFileSystem}, {"BindPaths", s.BindPaths}, {"BindReadOnlyPaths", s.BindReadOnlyPaths}} {
		for _, e := range d.l {
			for _, w := range strings.Fields(e) {
				if !path.IsAbs(strings.TrimLeft(w, "-+")) {
					return p.errAt("Service", d.key, "%q is not an absolute path", w)
				}
			}
		}
	}
	for _, c := range []struct {
		key string
		l   List
	}{{"CapabilityBoundingSet", s.CapabilityBoundingSet}, {"AmbientCapabilities", s.AmbientCapabilities}} {
		if _, err := Capabilities(c.l); err != nil {
			return p.errAt("Service", c.key, "%v", err)
		}
	}
	if _, err := SecureBitsMask(s.SecureBits); err != nil {
		return p.errAt("Service", "SecureBits", "%v", err)
	}
	if s.OOMScoreAdjust != nil && (*s.OOMScoreAdjust < -1000 || *s.OOMScoreAdjust > 1000) {
		return p.errAt("Service", "OOMScoreAdjust", "%d is not in -1000..1000", *s.OOMScoreAdjust)
	}
	if s.CPUSchedulingPolicy != "" {
		if _, ok := SchedulingPolicies[s.CPUSchedulingPolicy]; !ok {
			return p.errAt("Service", "CPUSchedulingPolicy", "%q is not one of other, batch, idle, fifo, rr", s.CPUSchedulingPolicy)
		}
	}
	if s.CPUSchedulingPriority != nil && (*s.CPUSchedulingPriority < 0 || *s.CPUSchedulingPriority > 99) {
		return p.errAt("Service", "CPUSchedulingPriority", "%d is not in 0..99", *s.CPUSchedulingPriority)
	}
	if _, err := seccomp.Compile(s.Seccomp()); err != nil {
		key, _, _ := strings.Cut(err.Error(), ":")
		if !p.isSet("Service", key) {
			key = "SystemCallFilter"
		}
		return p.errAt("Service", key, "%v", err)
	}
	return nil
}
