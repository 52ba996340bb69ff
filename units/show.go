package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Properties returns the unit's settings as systemd's D-Bus properties,
// with systemctl show's names and value formats: booleans as yes/no,
// times as timespans under *USec names, signals as numbers, limits as
// numbers or "infinity", commands as { path=… ; argv[]=… ; … } records.
// Runtime properties (ActiveState, MainPID, …) are the manager's to add.
func (u *Unit) Properties() [][2]string {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	us := &u.Unit
	add("DefaultDependencies", yesNo(us.HasDefaultDependencies()))
	// 0 leaves the manager's defaults, systemd's own: 5 starts in 10s.
	interval, burst := us.StartLimitIntervalSec.D(), us.StartLimitBurst
	if interval == 0 {
		interval = 10 * time.Second
	}
	if burst == 0 {
		burst = 5
	}
	add("StartLimitIntervalUSec", timespan(interval))
	add("StartLimitBurst", strconv.Itoa(burst))
	add("Documentation", strings.Join(us.Documentation, " "))
	if u.Kind() != "service" {
		return out
	}
	s := &u.Service
	add("Type", s.Type)
	add("Restart", s.Restart)
	add("PIDFile", s.PIDFile)
	add("NotifyAccess", s.NotifyAccess)
	add("RestartUSec", timespan(s.RestartSec.D()))
	add("TimeoutStartUSec", timespan(s.TimeoutStartSec.D()))
	add("TimeoutStopUSec", timespan(s.TimeoutStopSec.D()))
	add("WatchdogUSec", timespan(s.WatchdogSec.D()))
	add("RemainAfterExit", yesNo(s.RemainAfterExit))
	for _, e := range []struct {
		k string
		c Commands
	}{{"ExecCondition", s.ExecCondition}, {"ExecStartPre", s.ExecStartPre}, {"ExecStart", s.ExecStart}, {"ExecStartPost", s.ExecStartPost},
		{"ExecReload", s.ExecReload}, {"ExecStop", s.ExecStop}, {"ExecStopPost", s.ExecStopPost}} {
		var recs []string
		for _, c := range e.c {
			recs = append(recs, execRecord(c))
		}
		add(e.k, strings.Join(recs, " "))
	}
	add("Environment", strings.Join(quoteAll(s.Environment), " "))
	var files []string
	for _, f := range s.EnvironmentFiles() {
		files = append(files, fmt.Sprintf("%s (ignore_errors=%s)", f.Path, yesNo(f.Optional)))
	}
	add("EnvironmentFiles", strings.Join(files, " "))
	add("WorkingDirectory", s.WorkingDirectory)
	add("User", s.User)
	add("Group", s.Group)
	add("SupplementaryGroups", strings.Join(words(s.SupplementaryGroups), " "))
	umask := "0022"
	if s.UMask != nil {
		umask = s.UMask.String()
	}
	add("UMask", umask)
	nice := 0
	if s.Nice != nil {
		nice = *s.Nice
	}
	add("Nice", strconv.Itoa(nice))
	for _, name := range []string{"CPU", "FSIZE", "CORE", "STACK", "AS", "NOFILE", "NPROC", "MEMLOCK"} {
		if l, ok := s.Rlimits()[name]; ok {
			add("Limit"+name, limit(l.Hard))
			add("Limit"+name+"Soft", limit(l.Soft))
		}
	}
	add("MemoryMax", limitOrInfinity(uint64(s.MemoryMax)))
	add("TasksMax", limitOrInfinity(uint64(s.TasksMax)))
	weight := "[not set]"
	if s.CPUWeight != 0 {
		weight = strconv.Itoa(s.CPUWeight)
	}
	add("CPUWeight", weight)
	add("KillMode", s.KillMode)
	add("KillSignal", strconv.Itoa(int(unix.SignalNum(s.KillSignal))))
	add("SendSIGKILL", yesNo(*s.SendSIGKILL))
	add("IgnoreSIGPIPE", yesNo(s.IgnoreSIGPIPE == nil || *s.IgnoreSIGPIPE))
	stdin := s.StandardInput
	if stdin == "" {
		stdin = "null"
	}
	add("StandardInput", stdin)
	stdout := s.StandardOutput
	if stdout == "" || stdout == "log" {
		stdout = "journal"
	}
	add("StandardOutput", stdout)
	stderr := s.StandardError
	if stderr == "" || stderr == "inherit" {
		stderr = "inherit"
	} else if stderr == "log" {
		stderr = "journal"
	}
	add("StandardError", stderr)
	return append(out, u.Service.Sandbox.properties()...)
}

func (s *Sandbox) properties() [][2]string {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	for _, b := range []struct {
		k string
		v bool
	}{
		{"PrivateTmp", s.PrivateTmp}, {"PrivateDevices", s.PrivateDevices}, {"PrivateNetwork", s.PrivateNetwork},
		{"PrivateUsers", s.PrivateUsers}, {"PrivateMounts", s.PrivateMounts}, {"ProtectKernelTunables", s.ProtectKernelTunables},
		{"ProtectKernelModules", s.ProtectKernelModules}, {"ProtectKernelLogs", s.ProtectKernelLogs},
		{"ProtectControlGroups", s.ProtectControlGroups}, {"ProtectClock", s.ProtectClock}, {"ProtectHostname", s.ProtectHostname},
		{"NoNewPrivileges", s.NoNewPrivileges}, {"RestrictRealtime", s.RestrictRealtime}, {"RestrictSUIDSGID", s.RestrictSUIDSGID},
		{"MemoryDenyWriteExecute", s.MemoryDenyWriteExecute}, {"LockPersonality", s.LockPersonality}, {"RemoveIPC", s.RemoveIPC},
	} {
		add(b.k, yesNo(b.v))
	}
	add("ProtectSystem", choiceOr(s.ProtectSystem, "no"))
	add("ProtectHome", choiceOr(s.ProtectHome, "no"))
	add("ProtectProc", orDefault(s.ProtectProc, "default"))
	add("ProcSubset", orDefault(s.ProcSubset, "all"))
	for _, d := range []struct {
		k    string
		l    List
		mode *FileMode
	}{{"RuntimeDirectory", s.RuntimeDirectory, s.RuntimeDirectoryMode}, {"StateDirectory", s.StateDirectory, s.StateDirectoryMode},
		{"CacheDirectory", s.CacheDirectory, s.CacheDirectoryMode}, {"LogsDirectory", s.LogsDirectory, s.LogsDirectoryMode},
		{"ConfigurationDirectory", s.ConfigurationDirectory, s.ConfigurationDirectoryMode}} {
		mode := FileMode(0o755)
		if d.mode != nil {
			mode = *d.mode
		}
		add(d.k+"Mode", mode.String())
		add(d.k, strings.Join(words(d.l), " "))
	}
	add("RuntimeDirectoryPreserve", choiceOr(s.RuntimeDirectoryPreserve, "no"))
	add("ReadWritePaths", strings.Join(words(s.ReadWritePaths), " "))
	add("ReadOnlyPaths", strings.Join(words(s.ReadOnlyPaths), " "))
	add("InaccessiblePaths", strings.Join(words(s.InaccessiblePaths), " "))
	bounding := uint64(1)<<len(CapabilityNames) - 1
	if len(s.CapabilityBoundingSet) > 0 {
		bounding, _ = Capabilities(s.CapabilityBoundingSet)
	}
	add("CapabilityBoundingSet", capabilityList(bounding))
	ambient, _ := Capabilities(s.AmbientCapabilities)
	add("AmbientCapabilities", capabilityList(ambient))
	if s.OOMScoreAdjust != nil {
		add("OOMScoreAdjust", strconv.Itoa(*s.OOMScoreAdjust))
	}
	if s.SystemCallErrorNumber != "" {
		add("SystemCallErrorNumber", s.SystemCallErrorNumber)
	}
	add("SystemCallArchitectures", strings.Join(words(s.SystemCallArchitectures), " "))
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func choiceOr(c Choice, def string) string {
	if c == "" {
		return def
	}
	return string(c)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// capabilityList writes a set as systemd does: lower-case names.
func capabilityList(mask uint64) string {
	var names []string
	for i, n := range CapabilityNames {
		if mask&(1<<i) != 0 {
			names = append(names, strings.ToLower(n))
		}
	}
	return strings.Join(names, " ")
}

func limit(v uint64) string {
	if v == Unlimited {
		return "infinity"
	}
	return strconv.FormatUint(v, 10)
}

func limitOrInfinity(v uint64) string {
	if v == 0 || v == Unlimited {
		return "infinity"
	}
	return strconv.FormatUint(v, 10)
}

func quoteAll(l List) []string {
	out := make([]string, len(l))
	for i, s := range l {
		if strings.ContainsAny(s, " \t\"'\\") {
			s = strconv.Quote(s)
		}
		out[i] = s
	}
	return out
}

// execRecord is one command as systemctl show prints an ExecStart= entry
// of a unit that has not run it yet.
func execRecord(c Command) string {
	path := c.Path
	if path == "" {
		path = c.Argv[0]
	}
	return fmt.Sprintf("{ path=%s ; argv[]=%s ; ignore_errors=%s ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }",
		path, strings.Join(c.Argv, " "), yesNo(c.IgnoreFailure))
}

// timespan formats d as systemd's format_timespan does at full accuracy,
// as systemctl show uses it: the largest units first ("1min 30s",
// "100ms"); under a minute a remainder is written in dot notation
// ("1.500000s"); "0" for zero, "infinity" for none.
func timespan(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d < 0 || d >= time.Duration(Unlimited>>1) {
		return "infinity"
	}
	units := []struct {
		name string
		d    time.Duration
	}{
		{"y", 31557600 * time.Second}, {"month", 2629800 * time.Second}, {"w", 7 * 24 * time.Hour},
		{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second},
		{"ms", time.Millisecond}, {"us", time.Microsecond},
	}
	var parts []string
	for _, u := range units {
		if d < u.d {
			continue
		}
		a, b := d/u.d, d%u.d
		digits := len(strconv.FormatInt(int64(u.d/time.Microsecond), 10)) - 1
		if d < time.Minute && b > 0 && digits > 0 {
			parts = append(parts, fmt.Sprintf("%d.%0*d%s", a, digits, b/time.Microsecond, u.name))
			break
		}
		parts = append(parts, fmt.Sprintf("%d%s", a, u.name))
		d = b
		if d == 0 {
			break
		}
	}
	return strings.Join(parts, " ")
}
