package units

// harmless lists systemd directives that the converter leaves out because
// they change nothing a service can observe here, with the reason.
var harmless = map[string]string{
	"Service.CPUAccounting":           "accounting only: the manager reads cgroup figures where there are cgroups",
	"Service.MemoryAccounting":        "accounting only: the manager reads cgroup figures where there are cgroups",
	"Service.TasksAccounting":         "accounting only: the manager reads cgroup figures where there are cgroups",
	"Service.IOAccounting":            "accounting only",
	"Service.IPAccounting":            "accounting only",
	"Service.BlockIOAccounting":       "accounting only",
	"Service.BusName":                 "there is no D-Bus broker managed here; the service starts as Type=simple",
	"Service.SyslogIdentifier":        "output is captured by the manager and labelled with the unit's name",
	"Service.SyslogFacility":          "output is captured by the manager, not sent to syslog",
	"Service.SyslogLevel":             "output is captured by the manager, not sent to syslog",
	"Service.SyslogLevelPrefix":       "output is captured by the manager, not sent to syslog",
	"Service.LogLevelMax":             "a journal filter; there is no journal",
	"Service.LogRateLimitIntervalSec": "a journal rate limit; there is no journal",
	"Service.LogRateLimitBurst":       "a journal rate limit; there is no journal",
	"Service.LogNamespace":            "a journal namespace; there is no journal",
	"Service.LogExtraFields":          "journal fields; there is no journal",
	"Service.UtmpIdentifier":          "utmp records are not written",
	"Service.UtmpMode":                "utmp records are not written",
	"Unit.SourcePath":                 "the generator's source file: informational",
	"Unit.CollectMode":                "units are not garbage-collected here",
	"Install.DefaultInstance":         "instances are named explicitly when enabled",
}

// unsupportedWhy says why a directive that changes behaviour is not
// supported, where there is more to say than "not supported".
var unsupportedWhy = map[string]string{
	"Service.DynamicUser":            "no dynamic users: name a User= from /etc/passwd",
	"Service.DeviceAllow":            "no device cgroup controller (cgroup v2 needs BPF for it)",
	"Service.DevicePolicy":           "no device cgroup controller (cgroup v2 needs BPF for it)",
	"Service.FileDescriptorStoreMax": "the fd store is the manager's own, not offered to services",
	"Service.RemoveIPC":              "System V IPC objects are not tracked per user",
	"Service.KeyringMode":            "the kernel keyring is left as the manager's",
	"Service.OOMPolicy":              "the kernel's OOM killer decides alone",
	"Unit.JoinsNamespaceOf":          "namespaces are per process, not shared between units",
	"Unit.StopWhenUnneeded":          "units are not stopped when nothing needs them",
	"Unit.RefuseManualStart":         "every unit can be started by hand",
	"Unit.RefuseManualStop":          "every unit can be stopped by hand",
	"Unit.AllowIsolate":              "every target can be isolated",
}
