// Package units is the TOML unit format: one file per unit, named
// NAME.KIND.toml, with systemd's sections and key names.
package units

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/sysmaster-go/sysmaster/units/suggest"
	"github.com/sysmaster-go/sysmaster/units/tomlerr"
)

// Kinds of unit this format describes.
var Kinds = []string{"service", "target", "socket", "mount", "timer", "device", "path"}

// Unit is one decoded unit file, with its drop-ins applied.
type Unit struct {
	Name string `toml:"-"` // e.g. "sshd.service"
	Path string `toml:"-"` // the main file; for an instance, its template's file
	// DropIns are the drop-in files applied on top of Path, in order.
	DropIns []string       `toml:"-"`
	Unit    UnitSection    `toml:"Unit"`
	Service ServiceSection `toml:"Service"`
	Socket  SocketSection  `toml:"Socket"`
	Mount   MountSection   `toml:"Mount"`
	Timer   TimerSection   `toml:"Timer"`
	// PathUnit is [Path] (Path is the file).
	PathUnit PathSection    `toml:"Path"`
	Install  InstallSection `toml:"Install"`
}

// Kind is the unit's kind: the suffix of its name.
func (u *Unit) Kind() string { return u.Name[strings.LastIndexByte(u.Name, '.')+1:] }

// IsTemplate reports whether the unit is a template (NAME@.KIND): it is
// never started itself, only instantiated.
func (u *Unit) IsTemplate() bool { return IsTemplate(u.Name) }

// Instance is the part between "@" and the kind suffix, "" for a plain unit.
func (u *Unit) Instance() string { _, inst, _ := splitName(u.Name); return inst }

// UnitSection is [Unit].
type UnitSection struct {
	Description   string // shown by sctl status and in state changes
	Documentation List   // URLs or man pages, informational
	// Requires starts the units with this one and stops this one when they stop;
	// it fails when they fail to start.
	Requires List
	// Requisite fails the start unless the units are active already.
	Requisite List
	Wants     List // units started with this one; also the entries of TARGET.wants/ directories
	BindsTo   List // as Requires, and this unit stops when they stop for any reason
	PartOf    List // stopped and restarted with the units named
	OnFailure List // units started when this one fails
	After     List // ordering: this unit starts after these, and stops before them
	Before    List // ordering: this unit starts before these, and stops after them
	Conflicts List // units stopped when this one starts, and the other way round
	// PropagatesReloadTo reloads the units named, those active, whenever
	// this one is reloaded; ReloadPropagatedFrom is the same edge seen
	// from the other end.
	PropagatesReloadTo   List
	ReloadPropagatedFrom List
	IgnoreOnIsolate      bool // isolate leaves the unit as it is

	// StartLimitBurst starts within StartLimitIntervalSec are allowed;
	// 0 leaves the manager's default.
	StartLimitBurst       int
	StartLimitIntervalSec Duration
	// DefaultDependencies is never nil after loading (default true).
	DefaultDependencies *bool

	// Conditions skip the unit when false; asserts fail its start. Each
	// value may be negated with a leading "!".
	ConditionPathExists        List
	ConditionPathIsDirectory   List
	ConditionFileNotEmpty      List
	ConditionKernelCommandLine List
	ConditionVirtualization    List
	// Globs, links, emptiness and modes are read at start; Capability
	// tests the manager's bounding set; ACPower is true without batteries.
	ConditionPathExistsGlob     List
	ConditionPathIsSymbolicLink List
	ConditionPathIsReadWrite    List
	ConditionDirectoryNotEmpty  List
	ConditionFileIsExecutable   List
	ConditionCapability         List
	ConditionACPower            List
	AssertPathExists            List
	AssertPathIsDirectory       List
	AssertFileNotEmpty          List
	AssertKernelCommandLine     List
	AssertVirtualization        List
	AssertPathExistsGlob        List
	AssertPathIsReadWrite       List
	AssertDirectoryNotEmpty     List
	AssertFileIsExecutable      List
	AssertCapability            List

	// RequiresMountsFor adds Requires= and After= on the mount units of
	// each path and of its parents, those that exist.
	RequiresMountsFor List
}

// MountUnitsFor lists the mount units RequiresMountsFor names: those of
// each path and of every parent up to "/", parents first.
func (s *UnitSection) MountUnitsFor() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range s.RequiresMountsFor {
		for _, p := range strings.Fields(m) {
			var chain []string
			for p = filepath.Clean(p); ; p = filepath.Dir(p) {
				chain = append([]string{UnitNameFromPath(p, "mount")}, chain...)
				if p == "/" {
					break
				}
			}
			for _, n := range chain {
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// HasDefaultDependencies reports DefaultDependencies, true when unset.
func (s *UnitSection) HasDefaultDependencies() bool {
	return s.DefaultDependencies == nil || *s.DefaultDependencies
}

// ServiceSection is [Service].
type ServiceSection struct {
	Type    string // simple (default), exec, oneshot, forking, notify
	PIDFile string // the daemon's pid file for Type="forking"; removed after stop for any type
	// ExecCondition runs first: an exit of 1..254 skips the start (the
	// unit stays inactive, not failed), 255 or a signal fails it.
	ExecCondition Commands

	// Exec* are command lines, in order: before the main process, the main
	// process (several only for oneshot), after it started, on reload, to
	// stop it and after it stopped. Prefixes "-", "@", "+", "!" and ":"
	// are systemd's; $NAME and ${NAME} are expanded from the environment.
	ExecStartPre  Commands
	ExecStart     Commands
	ExecStartPost Commands
	ExecReload    Commands
	ExecStop      Commands
	ExecStopPost  Commands

	// RemainAfterExit keeps the service active once its processes exited.
	RemainAfterExit bool
	// Restart is when the service restarts after it ended: no, on-success,
	// on-failure, on-abnormal, on-abort, on-watchdog or always.
	Restart    string
	RestartSec Duration // wait before a restart
	// RestartPreventExitStatus lists exits that never cause a restart.
	RestartPreventExitStatus ExitStatusSet
	// RestartForceExitStatus lists exits that cause a restart whatever
	// Restart= says.
	RestartForceExitStatus ExitStatusSet
	// SuccessExitStatus lists exits of the main process that count as a
	// clean exit, beside 0 and SIGHUP, SIGINT, SIGTERM and SIGPIPE.
	SuccessExitStatus ExitStatusSet
	// NonBlocking sets O_NONBLOCK on the sockets passed to the service.
	NonBlocking bool
	// IgnoreSIGPIPE starts the service with SIGPIPE ignored; never nil
	// after loading (default true).
	IgnoreSIGPIPE *bool
	// TimeoutSec sets TimeoutStartSec and TimeoutStopSec where those are unset.
	TimeoutSec      Duration
	TimeoutStartSec Duration
	TimeoutStopSec  Duration
	WatchdogSec     Duration
	KillSignal      string
	KillMode        string // control-group (default), process, mixed, none
	// SendSIGKILL is never nil after loading (default true).
	SendSIGKILL  *bool
	NotifyAccess string // none, main, exec, all; "main" by default for notify

	Environment List // NAME=VALUE assignments, in order; later ones win
	// EnvironmentFile lists files of NAME=VALUE lines; a "-" prefix makes
	// a missing file not an error (see EnvironmentFiles).
	EnvironmentFile  List
	WorkingDirectory string
	User             string
	Group            string
	UMask            *FileMode
	Nice             *int

	StandardInput  string // null (default) or tty
	StandardOutput string // inherit, console, null, tty, log or kmsg; "journal" is read as "log"
	StandardError  string // as StandardOutput; unset follows it
	TTYPath        string // the terminal for StandardInput="tty"; /dev/console by default

	// Limit* set the resource limits (setrlimit) of the service.
	LimitCPU     *Rlimit
	LimitFSIZE   *Rlimit
	LimitCORE    *Rlimit
	LimitSTACK   *Rlimit
	LimitAS      *Rlimit
	LimitNOFILE  *Rlimit
	LimitNPROC   *Rlimit
	LimitMEMLOCK *Rlimit

	MemoryMax Bytes // 0: no limit
	CPUWeight int   // 1..10000, 0: unset
	TasksMax  Count // 0: no limit
	// Delegate hands the service's cgroup to it: "yes" (every controller
	// the manager has), "no" (default) or the controllers to enable, space
	// separated. The cgroup and its control files go to User=/Group=.
	Delegate string

	Sandbox
}

// DelegateControllers says whether Delegate= asks for delegation and
// which controllers it names (nil: all there are).
func (s *ServiceSection) DelegateControllers() ([]string, bool) {
	switch strings.ToLower(s.Delegate) {
	case "", "no", "false", "0", "off":
		return nil, false
	case "yes", "true", "1", "on":
		return nil, true
	}
	return strings.Fields(s.Delegate), true
}

// EnvironmentFile is one entry of EnvironmentFile.
type EnvironmentFile struct {
	Path     string
	Optional bool // "-" prefix: skip silently when missing
}

// EnvironmentFiles returns EnvironmentFile with the "-" prefixes decoded.
func (s *ServiceSection) EnvironmentFiles() []EnvironmentFile {
	out := make([]EnvironmentFile, 0, len(s.EnvironmentFile))
	for _, f := range s.EnvironmentFile {
		p, opt := strings.CutPrefix(f, "-")
		out = append(out, EnvironmentFile{Path: p, Optional: opt})
	}
	return out
}

// Rlimits returns the set Limit* keys by the RLIMIT_ name's suffix
// ("NOFILE", "CORE", …).
func (s *ServiceSection) Rlimits() map[string]Rlimit {
	out := map[string]Rlimit{}
	for _, l := range []struct {
		name string
		v    *Rlimit
	}{
		{"CPU", s.LimitCPU}, {"FSIZE", s.LimitFSIZE}, {"CORE", s.LimitCORE}, {"STACK", s.LimitSTACK},
		{"AS", s.LimitAS}, {"NOFILE", s.LimitNOFILE}, {"NPROC", s.LimitNPROC}, {"MEMLOCK", s.LimitMEMLOCK},
	} {
		if l.v != nil {
			out[l.name] = *l.v
		}
	}
	return out
}

// SocketSection is [Socket]. Only Accept=false sockets are supported: the
// listening sockets are passed to one service.
type SocketSection struct {
	// Listen* are the addresses listened on: "/run/x.sock", "@abstract",
	// "8080", "127.0.0.1:8080" or "[::1]:80".
	ListenStream           List
	ListenDatagram         List
	ListenSequentialPacket List
	Accept                 bool // only false: one service gets the listening sockets
	// Service is the unit started on traffic; NAME.service by default.
	Service            string
	SocketMode         *FileMode // 0666 by default
	FileDescriptorName string    // NAME by default
	Backlog            int       // connections waiting to be accepted (stream, seqpacket); 0: SOMAXCONN
	RemoveOnStop       bool      // remove the socket files when the socket stops
	// BindIPv6Only sets IPV6_V6ONLY on IPv6 sockets: "default" (the
	// kernel's net.ipv6.bindv6only), "both" (IPv4 too, through mapped
	// addresses) or "ipv6-only".
	BindIPv6Only string
	// SocketUser and SocketGroup own the socket files; root by default.
	SocketUser  string
	SocketGroup string
}

// MountSection is [Mount]. The unit's name must be the escaped Where.
type MountSection struct {
	What          string    // the device, file or remote to mount
	Where         string    // the mount point; the unit's name is its escaped path
	Type          string    // the file system type, as mount -t
	Options       string    // mount options, comma-separated, as mount -o
	DirectoryMode *FileMode // 0755 by default
	TimeoutSec    Duration  // 90s by default
}

// TimerSection is [Timer].
type TimerSection struct {
	// On*Sec fire that long after boot, after the manager started, after
	// the timer started, after the unit last started or last stopped.
	OnBootSec         Duration
	OnStartupSec      Duration
	OnActiveSec       Duration
	OnUnitActiveSec   Duration
	OnUnitInactiveSec Duration
	// OnCalendar is only checked for being non-empty here: its syntax
	// belongs to the calendar parser.
	OnCalendar         List
	Unit               string   // NAME.service by default
	Persistent         bool     // a calendar timer missed while down fires once at start
	AccuracySec        Duration // how late a timer may fire, to group wakeups
	RandomizedDelaySec Duration // a random delay up to this is added to each firing
	// FixedRandomDelay makes that delay the same at every firing, drawn
	// from the machine id and the timer's name: stable across restarts
	// and reboots, different between machines.
	FixedRandomDelay bool
}

// PathSection is [Path]: a unit started when a path changes.
type PathSection struct {
	PathExists        List      // start the unit once the path exists
	PathExistsGlob    List      // start the unit once a path matches the glob
	PathChanged       List      // written and closed, or moved, created or removed
	PathModified      List      // PathChanged, and every write
	DirectoryNotEmpty List      // start the unit once the directory holds a file
	Unit              string    // NAME.service by default
	MakeDirectory     bool      // create the watched directories first
	DirectoryMode     *FileMode // their mode; 0755 by default
}

// InstallSection is [Install].
type InstallSection struct {
	WantedBy   List // enabling adds this unit to each target's .wants
	RequiredBy List // enabling adds this unit to each unit's .requires
	Alias      List // other names of the unit, made links when enabled
	// Also names units enabled and disabled together with this one.
	Also List
	// DefaultInstance is the instance a template is enabled as when none
	// is named.
	DefaultInstance string
}

// List is a list value: a TOML array of strings, or one string.
type List []string

// UnmarshalTOML accepts an array of strings or a single string.
func (l *List) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = List{v}
		return nil
	case []any:
		out := make(List, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want an array of strings, got an element of type %T", e)
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("want an array of strings, got %T", v)
}

// Error is a problem in a unit file, with the line and key where known.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// validName is NAME[@INSTANCE].KIND: NAME of letters, digits and ":_.\-",
// INSTANCE of those and "@" (heartbeat-failed@frr@x.service, as in
// systemd), KIND one of Kinds.
func validName(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || !oneOf(name[dot+1:], Kinds...) {
		return false
	}
	prefix, inst, hasInst := strings.Cut(name[:dot], "@")
	return prefix != "" && nameChars(prefix, false) && (!hasInst || nameChars(inst, true))
}

func nameChars(s string, at bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ':' || c == '_' || c == '.' || c == '\\' || c == '-':
		case c == '@' && at:
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether name is a valid unit name with a known kind.
func ValidName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("unit name %q: longer than 255 characters", name)
	}
	if !validName(name) {
		return fmt.Errorf("unit name %q: want NAME.KIND with KIND one of %s", name, strings.Join(Kinds, ", "))
	}
	return nil
}

// IsTemplate reports whether name is a template name like "getty@.service".
func IsTemplate(name string) bool {
	_, inst, kind := splitName(name)
	return kind != "" && inst == "" && strings.Contains(name, "@.")
}

// TemplateOf returns the template of an instance name
// ("getty@tty1.service" -> "getty@.service"), or "" when name is none.
func TemplateOf(name string) string {
	prefix, inst, kind := splitName(name)
	if inst == "" {
		return ""
	}
	return prefix + "@." + kind
}

// splitName splits "p@i.kind" into its parts; inst is "" without "@".
func splitName(name string) (prefix, inst, kind string) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return name, "", ""
	}
	base, kind := name[:dot], name[dot+1:]
	prefix, inst, _ = strings.Cut(base, "@")
	return prefix, inst, kind
}

// Load reads and decodes the unit file at path (…/NAME.KIND.toml), without
// drop-ins (see Loader).
func Load(path string) (*Unit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unit: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a unit file strictly: unknown sections or keys, wrong types
// and bad values are errors naming the line and the key. A template
// (NAME@.KIND) is checked by instantiating it, and returned as written:
// specifiers unexpanded and defaults unset.
func Parse(path string, data []byte) (*Unit, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".toml")
	if err := ValidName(name); err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	files := []source{{path: path, text: string(data)}}
	if IsTemplate(name) {
		prefix, _, kind := splitName(name)
		if _, err := build(prefix+"@instance."+kind, files, os.Hostname); err != nil {
			return nil, err
		}
		p := &parsed{u: &Unit{Name: name, Path: path}, origin: map[string]int{}}
		// build has checked it: unknown is nil.
		if _, err := p.decode(files[0]); err != nil {
			return nil, err
		}
		return p.u, nil
	}
	return build(name, files, os.Hostname)
}

// source is one file that contributes to a unit: its main file or a drop-in.
type source struct{ path, text string }

// parsed is a unit being built from its files.
type parsed struct {
	u      *Unit
	files  []source
	origin map[string]int // lower-case "section.key" -> index of the file that set it last
}

// build decodes files in order (main file, then drop-ins), expands
// specifiers and validates.
func build(name string, files []source, hostname func() (string, error)) (*Unit, error) {
	p := &parsed{u: &Unit{Name: name, Path: files[0].path}, origin: map[string]int{}}
	// Unknown keys leave the rest of a file decoded, so the checks of the
	// values still run and every mistake is named in one error; a file
	// that does not parse stops there.
	var unknown []error
	for _, f := range files {
		soft, err := p.decode(f)
		if err != nil {
			return nil, errors.Join(append(unknown, err)...)
		}
		unknown = append(unknown, soft)
		if len(p.files) > 1 {
			p.u.DropIns = append(p.u.DropIns, f.path)
		}
	}
	if err := p.expand(hostname); err != nil {
		return nil, errors.Join(append(unknown, err)...)
	}
	if err := errors.Join(append(unknown, p.validate())...); err != nil {
		return nil, err
	}
	return p.u, nil
}

// sectionsOf lists the sections each kind may have.
var sectionsOf = map[string][]string{
	"service": {"Unit", "Service", "Install"},
	"socket":  {"Unit", "Socket", "Install"},
	"mount":   {"Unit", "Mount", "Install"},
	"timer":   {"Unit", "Timer", "Install"},
	"path":    {"Unit", "Path", "Install"},
	"target":  {"Unit", "Install"},
	// A device unit exists because devmaster saw the device; a file for it
	// may only add a description and dependencies.
	"device": {"Unit"},
}

// decode reads f into the unit. err is a file that does not parse or
// holds a value of the wrong type; unknown names every key and section it
// does not know, and leaves the rest of the file decoded.
func (p *parsed) decode(f source) (unknown, err error) {
	p.files = append(p.files, f)
	md, err := toml.Decode(f.text, p.u)
	if err != nil {
		return nil, decodeError(f.path, f.text, err)
	}
	// Every unknown key and misplaced section at once, so that fixing a
	// file takes one round, not one per mistake; an unknown section is
	// named once, not for each of its keys.
	var errs []error
	unknownSections := map[string]bool{}
	for _, k := range md.Undecoded() {
		if _, ok := sections[k[0]]; !ok {
			if unknownSections[k[0]] {
				continue
			}
			unknownSections[k[0]] = true
		}
		errs = append(errs, unknownKey(f.path, f.text, k))
	}
	kind := p.u.Kind()
	for _, k := range md.Keys() {
		switch len(k) {
		case 1:
			if _, ok := sections[k[0]]; ok && !oneOf(k[0], sectionsOf[kind]...) {
				errs = append(errs, &Error{File: f.path, Line: sectionLine(f.text, k[0]), Msg: fmt.Sprintf("[%s] section in a %s unit", k[0], kind)})
			}
		case 2:
			p.origin[strings.ToLower(k[0]+"."+k[1])] = len(p.files) - 1
		}
	}
	return errors.Join(errs...), nil
}

// errAt is an error about sec.key, located in the file that set it last.
func (p *parsed) errAt(sec, key, format string, args ...any) error {
	f := p.files[0]
	if i, ok := p.origin[strings.ToLower(sec+"."+key)]; ok {
		f = p.files[i]
	}
	return &Error{File: f.path, Line: keyLine(f.text, sec, key), Key: sec + "." + key, Msg: fmt.Sprintf(format, args...)}
}

// isSet reports whether any file set sec.key.
func (p *parsed) isSet(sec, key string) bool {
	_, ok := p.origin[strings.ToLower(sec+"."+key)]
	return ok
}

func decodeError(path, text string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: path, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	if line, key, msg, ok := tomlerr.Parse(err.Error()); ok {
		return &Error{File: path, Line: line, Key: key, Msg: msg}
	}
	return &Error{File: path, Msg: err.Error()}
}

// sections maps each section name to its struct type.
var sections = map[string]reflect.Type{
	"Unit":    reflect.TypeOf(UnitSection{}),
	"Service": reflect.TypeOf(ServiceSection{}),
	"Socket":  reflect.TypeOf(SocketSection{}),
	"Mount":   reflect.TypeOf(MountSection{}),
	"Timer":   reflect.TypeOf(TimerSection{}),
	"Path":    reflect.TypeOf(PathSection{}),
	"Install": reflect.TypeOf(InstallSection{}),
}

func unknownKey(path, text string, k toml.Key) error {
	sec := k[0]
	typ, ok := sections[sec]
	if !ok {
		e := &Error{File: path, Line: sectionLine(text, sec), Msg: fmt.Sprintf("unknown section [%s]", sec)}
		if s := suggest.Nearest(sec, sortedKeys(sections)); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean [%s]?)", s)
		}
		if len(k) == 1 && e.Line == 0 {
			e.Line = keyLine(text, "", sec)
			e.Msg = fmt.Sprintf("key %q outside of a section", sec)
		}
		return e
	}
	key := k[len(k)-1]
	e := &Error{File: path, Line: keyLine(text, sec, key), Key: sec + "." + key, Msg: "unknown key"}
	var names []string
	for _, f := range reflect.VisibleFields(typ) {
		if !f.Anonymous {
			names = append(names, f.Name)
		}
	}
	if s := suggest.Nearest(key, names); s != "" {
		e.Msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return e
}

func sortedKeys(m map[string]reflect.Type) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sectionLine returns the 1-based line of "[sec]" in text, or 0.
func sectionLine(text, sec string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "["+sec+"]" {
			return i + 1
		}
	}
	return 0
}

// keyLine returns the 1-based line where key is set inside [sec], or 0.
// Keys match case-insensitively, as the decoder matches them.
func keyLine(text, sec, key string) int {
	cur := ""
	for i, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			cur = strings.Trim(t, "[] ")
			continue
		}
		if cur != sec {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.EqualFold(strings.Trim(strings.TrimSpace(k), `"`), key) {
			return i + 1
		}
	}
	return 0
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// LoadDir loads every unit in dir, with drop-ins and .wants directories.
// Units that fail to load are returned in bad, keyed by name, so the caller
// can report and skip them.
func LoadDir(dir string) (good map[string]*Unit, bad map[string]error, err error) {
	return (&Loader{Dirs: []string{dir}}).LoadAll()
}
