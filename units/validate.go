package units

import (
	"errors"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func (p *parsed) validate() error {
	// Each part is checked even when an earlier one failed, so a file's
	// mistakes in different sections are all named at once.
	return errors.Join(p.validateUnit(), p.validateInstall(), p.validateKind())
}

func (p *parsed) validateInstall() error {
	u := p.u
	for _, key := range []string{"WantedBy", "RequiredBy", "Alias"} {
		l := map[string]List{"WantedBy": u.Install.WantedBy, "RequiredBy": u.Install.RequiredBy, "Alias": u.Install.Alias}[key]
		for _, n := range l {
			if err := ValidName(n); err != nil {
				return p.errAt("Install", key, "%v", err)
			}
			if key == "Alias" && !strings.HasSuffix(n, "."+u.Kind()) {
				return p.errAt("Install", key, "%q: an alias must be a %s unit too", n, u.Kind())
			}
		}
	}
	return nil
}

func (p *parsed) validateKind() error {
	switch p.u.Kind() {
	case "service":
		return p.validateService()
	case "socket":
		return p.validateSocket()
	case "mount":
		return p.validateMount()
	case "timer":
		return p.validateTimer()
	case "path":
		return p.validatePath()
	}
	return nil
}

func (p *parsed) validateUnit() error {
	s := &p.u.Unit
	for _, dep := range []struct {
		key  string
		list List
	}{
		{"Requires", s.Requires}, {"Requisite", s.Requisite}, {"Wants", s.Wants}, {"BindsTo", s.BindsTo},
		{"PartOf", s.PartOf}, {"OnFailure", s.OnFailure}, {"After", s.After}, {"Before", s.Before},
		{"Conflicts", s.Conflicts},
	} {
		for _, n := range dep.list {
			if err := ValidName(n); err != nil {
				return p.errAt("Unit", dep.key, "%v", err)
			}
			if IsTemplate(n) {
				return p.errAt("Unit", dep.key, "%q is a template: name an instance", n)
			}
		}
	}
	for _, m := range s.RequiresMountsFor {
		for _, w := range strings.Fields(m) {
			if !strings.HasPrefix(w, "/") {
				return p.errAt("Unit", "RequiresMountsFor", "%q is not an absolute path", w)
			}
		}
	}
	if s.StartLimitBurst < 0 {
		return p.errAt("Unit", "StartLimitBurst", "%d is negative", s.StartLimitBurst)
	}
	if s.DefaultDependencies == nil {
		t := true
		s.DefaultDependencies = &t
	}
	for _, c := range s.checks() {
		for _, v := range c.values {
			arg := strings.TrimPrefix(strings.TrimPrefix(v, "|"), "!")
			switch c.test {
			case "PathExists", "PathIsDirectory", "FileNotEmpty", "PathExistsGlob", "PathIsSymbolicLink",
				"PathIsReadWrite", "DirectoryNotEmpty", "FileIsExecutable":
				if !strings.HasPrefix(arg, "/") {
					return p.errAt("Unit", c.key, "%q is not an absolute path", v)
				}
			case "Capability":
				if _, ok := capabilityNumber(arg); !ok {
					return p.errAt("Unit", c.key, "%q is not a capability name", v)
				}
			case "ACPower":
				if !oneOf(strings.ToLower(arg), "true", "false", "yes", "no", "1", "0") {
					return p.errAt("Unit", c.key, "%q is not a boolean", v)
				}
			case "KernelCommandLine", "Virtualization":
				if arg == "" || strings.ContainsAny(arg, " \t\n") {
					return p.errAt("Unit", c.key, "%q: want one word", v)
				}
			}
		}
	}
	return nil
}

// serviceTypes and friends are the accepted values, in the order messages list them.
var (
	serviceTypes = []string{"simple", "exec", "oneshot", "forking", "notify"}
	restarts     = []string{"no", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog", "always"}
	killModes    = []string{"control-group", "process", "mixed", "none"}
	notifyAccess = []string{"none", "main", "exec", "all"}
	stdinValues  = []string{"null", "tty"}
	stdoutValues = []string{"inherit", "console", "null", "tty", "journal", "log", "kmsg"}
	bindIPv6Only = []string{"default", "both", "ipv6-only"}
)

// cgroupController reports whether c has the shape of a cgroup v2
// controller's name.
func cgroupController(c string) bool {
	return c != "" && strings.Trim(c, "abcdefghijklmnopqrstuvwxyz_") == ""
}

// defaultTimeout is systemd's DefaultTimeoutStartSec, also used for mounts.
const defaultTimeout = Duration(90 * time.Second)

func (p *parsed) validateService() error {
	s := &p.u.Service
	enum := func(key string, v *string, def string, set []string) error {
		if *v == "" {
			*v = def
			return nil
		}
		if !oneOf(*v, set...) {
			return p.errAt("Service", key, "%q is not one of %s", *v, strings.Join(set, ", "))
		}
		return nil
	}
	if err := enum("Type", &s.Type, "simple", serviceTypes); err != nil {
		return err
	}
	if ctrls, _ := s.DelegateControllers(); ctrls != nil {
		for _, c := range ctrls {
			if !cgroupController(c) {
				return p.errAt("Service", "Delegate", "%q is not yes, no or a list of cgroup controllers", s.Delegate)
			}
		}
	}
	// A oneshot service may have only ExecStop= (with RemainAfterExit=),
	// as systemd allows.
	if len(s.ExecStart) == 0 && !(s.Type == "oneshot" && len(s.ExecStop) > 0) {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Service"), Key: "Service.ExecStart", Msg: "missing: a service needs ExecStart"}
	}
	if s.Type != "oneshot" && len(s.ExecStart) > 1 {
		return p.errAt("Service", "ExecStart", "only Type=\"oneshot\" may have more than one command")
	}
	if s.PIDFile != "" {
		// For other types, as systemd, the file is only removed after stop.
		if !strings.HasPrefix(s.PIDFile, "/") {
			return p.errAt("Service", "PIDFile", "%q is not an absolute path", s.PIDFile)
		}
	}
	if err := enum("Restart", &s.Restart, "no", restarts); err != nil {
		return err
	}
	if s.RestartSec == 0 {
		s.RestartSec = Duration(100 * time.Millisecond)
	}
	if s.TimeoutSec != 0 {
		if !p.isSet("Service", "TimeoutStartSec") {
			s.TimeoutStartSec = s.TimeoutSec
		}
		if !p.isSet("Service", "TimeoutStopSec") {
			s.TimeoutStopSec = s.TimeoutSec
		}
	}
	if s.TimeoutStartSec == 0 {
		s.TimeoutStartSec = defaultTimeout
	}
	if s.TimeoutStopSec == 0 {
		s.TimeoutStopSec = Duration(10 * time.Second)
	}
	if err := enum("KillMode", &s.KillMode, "control-group", killModes); err != nil {
		return err
	}
	if s.SendSIGKILL == nil {
		t := true
		s.SendSIGKILL = &t
	}
	if s.IgnoreSIGPIPE == nil {
		t := true
		s.IgnoreSIGPIPE = &t
	}
	defNotify := "none"
	if s.Type == "notify" {
		defNotify = "main"
	}
	if err := enum("NotifyAccess", &s.NotifyAccess, defNotify, notifyAccess); err != nil {
		return err
	}
	for _, kv := range s.Environment {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return p.errAt("Service", "Environment", "%q is not NAME=VALUE", kv)
		}
	}
	for _, f := range s.EnvironmentFiles() {
		if !strings.HasPrefix(f.Path, "/") {
			return p.errAt("Service", "EnvironmentFile", "%q is not an absolute path", f.Path)
		}
	}
	for _, id := range []struct{ key, v string }{{"User", s.User}, {"Group", s.Group}} {
		if strings.ContainsAny(id.v, " \t\n:/") {
			return p.errAt("Service", id.key, "%q is not a user or group name or number", id.v)
		}
	}
	if s.Nice != nil && (*s.Nice < -20 || *s.Nice > 19) {
		return p.errAt("Service", "Nice", "%d is not in -20..19", *s.Nice)
	}
	if s.CPUWeight != 0 && (s.CPUWeight < 1 || s.CPUWeight > 10000) {
		return p.errAt("Service", "CPUWeight", "%d is not in 1..10000", s.CPUWeight)
	}
	if s.UMask != nil && *s.UMask > 0o777 {
		return p.errAt("Service", "UMask", "%s is not a umask (at most 0777)", s.UMask)
	}
	if err := enum("StandardInput", &s.StandardInput, "", stdinValues); err != nil {
		return err
	}
	for _, o := range []struct {
		key string
		v   *string
	}{{"StandardOutput", &s.StandardOutput}, {"StandardError", &s.StandardError}} {
		if err := enum(o.key, o.v, "", stdoutValues); err != nil {
			return err
		}
		if *o.v == "journal" {
			*o.v = "log" // there is no journal: its stand-in is the manager's log
		}
	}
	if s.KillSignal == "" {
		s.KillSignal = "SIGTERM"
	}
	if unix.SignalNum(s.KillSignal) == 0 {
		return p.errAt("Service", "KillSignal", "%q is not a signal name like SIGTERM", s.KillSignal)
	}
	if s.StandardInput == "tty" && s.TTYPath == "" {
		s.TTYPath = "/dev/console"
	}
	if s.TTYPath != "" && !strings.HasPrefix(s.TTYPath, "/") {
		return p.errAt("Service", "TTYPath", "%q is not an absolute path", s.TTYPath)
	}
	return p.validateSandbox()
}

func (p *parsed) validateSocket() error {
	s := &p.u.Socket
	prefix, inst, _ := splitName(p.u.Name)
	if s.Accept {
		return p.errAt("Socket", "Accept", "Accept=true is not supported")
	}
	if _, err := s.Listeners(); err != nil {
		le := err.(*listenError) // the only error Listeners returns
		return p.errAt("Socket", le.key, "%v", le.err)
	}
	if len(s.ListenStream)+len(s.ListenDatagram)+len(s.ListenSequentialPacket) == 0 {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Socket"), Key: "Socket.ListenStream", Msg: "missing: a socket needs ListenStream, ListenDatagram or ListenSequentialPacket"}
	}
	if s.Service == "" {
		s.Service = strings.TrimSuffix(p.u.Name, ".socket") + ".service"
		if inst != "" {
			s.Service = prefix + "@" + inst + ".service"
		}
	}
	if err := ValidName(s.Service); err != nil || !strings.HasSuffix(s.Service, ".service") || IsTemplate(s.Service) {
		return p.errAt("Socket", "Service", "%q is not a service unit name", s.Service)
	}
	if s.SocketMode == nil {
		m := FileMode(0o666)
		s.SocketMode = &m
	}
	if *s.SocketMode > 0o7777 {
		return p.errAt("Socket", "SocketMode", "%s is not a mode", s.SocketMode)
	}
	if s.FileDescriptorName == "" {
		s.FileDescriptorName = strings.TrimSuffix(p.u.Name, ".socket")
	}
	if len(s.FileDescriptorName) > 255 || strings.ContainsFunc(s.FileDescriptorName, func(r rune) bool { return r == ':' || r < ' ' || r > '~' }) {
		return p.errAt("Socket", "FileDescriptorName", "%q: want at most 255 printable ASCII characters without \":\"", s.FileDescriptorName)
	}
	if s.Backlog < 0 {
		return p.errAt("Socket", "Backlog", "%d is negative", s.Backlog)
	}
	if s.BindIPv6Only == "" {
		s.BindIPv6Only = "default"
	}
	if !oneOf(s.BindIPv6Only, bindIPv6Only...) {
		return p.errAt("Socket", "BindIPv6Only", "%q is not one of %s", s.BindIPv6Only, strings.Join(bindIPv6Only, ", "))
	}
	return nil
}

func (p *parsed) validateMount() error {
	m := &p.u.Mount
	if m.Where == "" {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Mount"), Key: "Mount.Where", Msg: "missing: a mount needs Where"}
	}
	if !strings.HasPrefix(m.Where, "/") {
		return p.errAt("Mount", "Where", "%q is not an absolute path", m.Where)
	}
	if want := UnitNameFromPath(m.Where, "mount"); want != p.u.Name {
		return p.errAt("Mount", "Where", "%q belongs in a unit named %s", m.Where, want)
	}
	if m.What == "" {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Mount"), Key: "Mount.What", Msg: "missing: a mount needs What"}
	}
	if m.DirectoryMode == nil {
		d := FileMode(0o755)
		m.DirectoryMode = &d
	}
	if m.TimeoutSec == 0 {
		m.TimeoutSec = defaultTimeout
	}
	return nil
}

func (p *parsed) validatePath() error {
	s := &p.u.PathUnit
	prefix, inst, _ := splitName(p.u.Name)
	n := 0
	for _, l := range []struct {
		key   string
		paths List
	}{{"PathExists", s.PathExists}, {"PathExistsGlob", s.PathExistsGlob}, {"PathChanged", s.PathChanged},
		{"PathModified", s.PathModified}, {"DirectoryNotEmpty", s.DirectoryNotEmpty}} {
		for _, path := range l.paths {
			if !strings.HasPrefix(path, "/") {
				return p.errAt("Path", l.key, "%q is not an absolute path", path)
			}
			if l.key == "PathExistsGlob" {
				if _, err := filepath.Match(path, ""); err != nil {
					return p.errAt("Path", l.key, "%q: %v", path, err)
				}
			}
			n++
		}
	}
	if n == 0 {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Path"), Key: "Path.PathExists", Msg: "missing: a path unit needs PathExists, PathExistsGlob, PathChanged, PathModified or DirectoryNotEmpty"}
	}
	if s.Unit == "" {
		s.Unit = strings.TrimSuffix(p.u.Name, ".path") + ".service"
		if inst != "" {
			s.Unit = prefix + "@" + inst + ".service"
		}
	}
	if err := ValidName(s.Unit); err != nil || strings.HasSuffix(s.Unit, ".path") || IsTemplate(s.Unit) {
		return p.errAt("Path", "Unit", "%q is not a unit a path unit can start", s.Unit)
	}
	return nil
}

func (p *parsed) validateTimer() error {
	t := &p.u.Timer
	prefix, inst, _ := splitName(p.u.Name)
	for _, c := range t.OnCalendar {
		if strings.TrimSpace(c) == "" {
			return p.errAt("Timer", "OnCalendar", "empty calendar expression")
		}
	}
	if t.OnBootSec == 0 && t.OnStartupSec == 0 && t.OnActiveSec == 0 && t.OnUnitActiveSec == 0 &&
		t.OnUnitInactiveSec == 0 && len(t.OnCalendar) == 0 {
		f := p.files[0]
		return &Error{File: f.path, Line: sectionLine(f.text, "Timer"), Key: "Timer.OnCalendar", Msg: "missing: a timer needs OnCalendar or an On*Sec key"}
	}
	if t.Unit == "" {
		t.Unit = strings.TrimSuffix(p.u.Name, ".timer") + ".service"
		if inst != "" {
			t.Unit = prefix + "@" + inst + ".service"
		}
	}
	if err := ValidName(t.Unit); err != nil || strings.HasSuffix(t.Unit, ".timer") || IsTemplate(t.Unit) {
		return p.errAt("Timer", "Unit", "%q is not a unit a timer can start", t.Unit)
	}
	if t.AccuracySec == 0 {
		t.AccuracySec = Duration(time.Minute)
	}
	return nil
}
