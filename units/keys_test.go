package units

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const svcHead = "[Service]\nExecStart = \"/bin/true\"\n"

func TestKeysGood(t *testing.T) {
	tests := []struct {
		name, file, src string
		check           func(u *Unit) any // returns the got value
		want            any
	}{
		{"Requisite", "a.service.toml", "[Unit]\nRequisite = [\"b.service\"]\n" + svcHead, func(u *Unit) any { return u.Unit.Requisite }, List{"b.service"}},
		{"BindsTo", "a.service.toml", "[Unit]\nBindsTo = \"b.service\"\n" + svcHead, func(u *Unit) any { return u.Unit.BindsTo }, List{"b.service"}},
		{"PartOf", "a.service.toml", "[Unit]\nPartOf = [\"b.target\"]\n" + svcHead, func(u *Unit) any { return u.Unit.PartOf }, List{"b.target"}},
		{"OnFailure", "a.service.toml", "[Unit]\nOnFailure = [\"rescue.target\"]\n" + svcHead, func(u *Unit) any { return u.Unit.OnFailure }, List{"rescue.target"}},
		{"StartLimitBurst", "a.service.toml", "[Unit]\nStartLimitBurst = 3\n" + svcHead, func(u *Unit) any { return u.Unit.StartLimitBurst }, 3},
		{"StartLimitIntervalSec", "a.service.toml", "[Unit]\nStartLimitIntervalSec = \"1min\"\n" + svcHead, func(u *Unit) any { return u.Unit.StartLimitIntervalSec.D() }, time.Minute},
		{"DefaultDependencies default", "a.target.toml", "", func(u *Unit) any { return *u.Unit.DefaultDependencies }, true},
		{"DefaultDependencies false", "a.target.toml", "[Unit]\nDefaultDependencies = false\n", func(u *Unit) any { return u.Unit.HasDefaultDependencies() }, false},
		{"ConditionVirtualization", "a.target.toml", "[Unit]\nConditionVirtualization = \"!container\"\n", func(u *Unit) any { return u.Unit.ConditionVirtualization }, List{"!container"}},
		{"AssertFileNotEmpty", "a.target.toml", "[Unit]\nAssertFileNotEmpty = [\"/etc/x\"]\n", func(u *Unit) any { return u.Unit.AssertFileNotEmpty }, List{"/etc/x"}},
		{"Type forking PIDFile", "a.service.toml", "[Service]\nType = \"forking\"\nPIDFile = \"/run/a.pid\"\nExecStart = \"/bin/d\"\n", func(u *Unit) any { return u.Service.PIDFile }, "/run/a.pid"},
		{"notify default access", "a.service.toml", "[Service]\nType = \"notify\"\nExecStart = \"/bin/d\"\n", func(u *Unit) any { return u.Service.NotifyAccess }, "main"},
		{"simple default access", "a.service.toml", svcHead, func(u *Unit) any { return u.Service.NotifyAccess }, "none"},
		{"NotifyAccess all", "a.service.toml", svcHead + "NotifyAccess = \"all\"\n", func(u *Unit) any { return u.Service.NotifyAccess }, "all"},
		{"ExecReload", "a.service.toml", svcHead + "ExecReload = \"/bin/kill -HUP $MAINPID\"\n", func(u *Unit) any { return u.Service.ExecReload[0].Argv }, []string{"/bin/kill", "-HUP", "$MAINPID"}},
		{"EnvironmentFile", "a.service.toml", svcHead + "EnvironmentFile = [\"-/etc/default/a\", \"/etc/a.env\"]\n", func(u *Unit) any { return u.Service.EnvironmentFiles() },
			[]EnvironmentFile{{"/etc/default/a", true}, {"/etc/a.env", false}}},
		{"User Group", "a.service.toml", svcHead + "User = \"nobody\"\nGroup = \"nogroup\"\n", func(u *Unit) any { return u.Service.User + ":" + u.Service.Group }, "nobody:nogroup"},
		{"UMask", "a.service.toml", svcHead + "UMask = \"0027\"\n", func(u *Unit) any { return *u.Service.UMask }, FileMode(0o027)},
		{"UMask unset", "a.service.toml", svcHead, func(u *Unit) any { return u.Service.UMask == nil }, true},
		{"Nice", "a.service.toml", svcHead + "Nice = -5\n", func(u *Unit) any { return *u.Service.Nice }, -5},
		{"LimitNOFILE int", "a.service.toml", svcHead + "LimitNOFILE = 4096\n", func(u *Unit) any { return *u.Service.LimitNOFILE }, Rlimit{4096, 4096}},
		{"LimitNOFILE pair", "a.service.toml", svcHead + "LimitNOFILE = \"1024:8192\"\n", func(u *Unit) any { return *u.Service.LimitNOFILE }, Rlimit{1024, 8192}},
		{"LimitCORE infinity", "a.service.toml", svcHead + "LimitCORE = \"infinity\"\n", func(u *Unit) any { return *u.Service.LimitCORE }, Rlimit{Unlimited, Unlimited}},
		{"LimitMEMLOCK size", "a.service.toml", svcHead + "LimitMEMLOCK = \"64K:infinity\"\n", func(u *Unit) any { return *u.Service.LimitMEMLOCK }, Rlimit{64 << 10, Unlimited}},
		{"Rlimits", "a.service.toml", svcHead + "LimitNPROC = 10\nLimitSTACK = 8\nLimitAS = 1\nLimitFSIZE = 2\nLimitCPU = 3\n", func(u *Unit) any { return len(u.Service.Rlimits()) }, 5},
		{"TimeoutStartSec default", "a.service.toml", svcHead, func(u *Unit) any { return u.Service.TimeoutStartSec.D() }, 90 * time.Second},
		{"TimeoutSec sets both", "a.service.toml", svcHead + "TimeoutSec = 5\n", func(u *Unit) any { return []time.Duration{u.Service.TimeoutStartSec.D(), u.Service.TimeoutStopSec.D()} },
			[]time.Duration{5 * time.Second, 5 * time.Second}},
		{"TimeoutSec loses to specific", "a.service.toml", svcHead + "TimeoutStopSec = 7\nTimeoutSec = 5\n", func(u *Unit) any { return []time.Duration{u.Service.TimeoutStartSec.D(), u.Service.TimeoutStopSec.D()} },
			[]time.Duration{5 * time.Second, 7 * time.Second}},
		{"KillMode default", "a.service.toml", svcHead, func(u *Unit) any { return u.Service.KillMode }, "control-group"},
		{"KillMode mixed", "a.service.toml", svcHead + "KillMode = \"mixed\"\n", func(u *Unit) any { return u.Service.KillMode }, "mixed"},
		{"SendSIGKILL default", "a.service.toml", svcHead, func(u *Unit) any { return *u.Service.SendSIGKILL }, true},
		{"SendSIGKILL false", "a.service.toml", svcHead + "SendSIGKILL = false\n", func(u *Unit) any { return *u.Service.SendSIGKILL }, false},
		{"WatchdogSec", "a.service.toml", svcHead + "WatchdogSec = \"30s\"\n", func(u *Unit) any { return u.Service.WatchdogSec.D() }, 30 * time.Second},
		{"MemoryMax int", "a.service.toml", svcHead + "MemoryMax = 1000\n", func(u *Unit) any { return u.Service.MemoryMax }, Bytes(1000)},
		{"MemoryMax suffix", "a.service.toml", svcHead + "MemoryMax = \"64M\"\n", func(u *Unit) any { return u.Service.MemoryMax }, Bytes(64 << 20)},
		{"MemoryMax infinity", "a.service.toml", svcHead + "MemoryMax = \"infinity\"\n", func(u *Unit) any { return u.Service.MemoryMax }, Bytes(Unlimited)},
		{"CPUWeight", "a.service.toml", svcHead + "CPUWeight = 200\n", func(u *Unit) any { return u.Service.CPUWeight }, 200},
		{"TasksMax", "a.service.toml", svcHead + "TasksMax = 64\n", func(u *Unit) any { return u.Service.TasksMax }, Count(64)},
		{"TasksMax infinity", "a.service.toml", svcHead + "TasksMax = \"infinity\"\n", func(u *Unit) any { return u.Service.TasksMax }, Count(Unlimited)},
		{"RestartPreventExitStatus", "a.service.toml", svcHead + "RestartPreventExitStatus = [1, \"2 SIGTERM\", \"KILL\"]\n", func(u *Unit) any { return u.Service.RestartPreventExitStatus },
			ExitStatusSet{Codes: []int{1, 2}, Signals: []string{"SIGTERM", "SIGKILL"}}},
		{"journal is log", "a.service.toml", svcHead + "StandardOutput = \"journal\"\nStandardError = \"kmsg\"\n", func(u *Unit) any { return u.Service.StandardOutput + " " + u.Service.StandardError }, "log kmsg"},
		{"socket defaults", "web.socket.toml", "[Socket]\nListenStream = \"8080\"\n", func(u *Unit) any {
			return []string{u.Socket.Service, u.Socket.SocketMode.String(), u.Socket.FileDescriptorName}
		}, []string{"web.service", "0666", "web"}},
		{"socket keys", "web.socket.toml", "[Socket]\nListenStream = [\"/run/web.sock\"]\nListenDatagram = \"@log\"\nListenSequentialPacket = \"/run/p\"\nAccept = false\nService = \"httpd.service\"\nSocketMode = \"0600\"\nFileDescriptorName = \"http\"\nBacklog = 64\nRemoveOnStop = true\n",
			func(u *Unit) any {
				return []any{u.Socket.Service, *u.Socket.SocketMode, u.Socket.FileDescriptorName, u.Socket.Backlog, u.Socket.RemoveOnStop}
			},
			[]any{"httpd.service", FileMode(0o600), "http", 64, true}},
		{"socket instance service", "web@x.socket.toml", "[Socket]\nListenStream = \"/run/%i.sock\"\n", func(u *Unit) any { return u.Socket.Service + " " + u.Socket.ListenStream[0] }, "web@x.service /run/x.sock"},
		{"mount", "mnt-data.mount.toml", "[Mount]\nWhat = \"/dev/vda1\"\nWhere = \"/mnt/data\"\nType = \"ext4\"\nOptions = \"noatime\"\nDirectoryMode = \"0700\"\nTimeoutSec = 20\n",
			func(u *Unit) any {
				return []any{u.Mount.What, u.Mount.Type, u.Mount.Options, *u.Mount.DirectoryMode, u.Mount.TimeoutSec.D()}
			},
			[]any{"/dev/vda1", "ext4", "noatime", FileMode(0o700), 20 * time.Second}},
		{"root mount", "-.mount.toml", "[Mount]\nWhat = \"/dev/vda\"\nWhere = \"/\"\n", func(u *Unit) any { return *u.Mount.DirectoryMode }, FileMode(0o755)},
		{"timer", "backup.timer.toml", "[Timer]\nOnBootSec = \"5min\"\nOnStartupSec = 1\nOnActiveSec = 2\nOnUnitActiveSec = \"1h\"\nOnUnitInactiveSec = 3\nOnCalendar = [\"daily\", \"Mon *-*-* 00:00\"]\nPersistent = true\nAccuracySec = \"1s\"\nRandomizedDelaySec = 30\n",
			func(u *Unit) any {
				return []any{u.Timer.Unit, u.Timer.OnBootSec.D(), u.Timer.OnUnitActiveSec.D(), len(u.Timer.OnCalendar), u.Timer.Persistent, u.Timer.AccuracySec.D(), u.Timer.RandomizedDelaySec.D()}
			}, []any{"backup.service", 5 * time.Minute, time.Hour, 2, true, time.Second, 30 * time.Second}},
		{"timer unit", "backup.timer.toml", "[Timer]\nOnCalendar = \"daily\"\nUnit = \"other.target\"\n", func(u *Unit) any { return []any{u.Timer.Unit, u.Timer.AccuracySec.D()} }, []any{"other.target", time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse(tt.file, []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(u); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestKeysBad(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"Requisite name", "a.service.toml", "[Unit]\nRequisite = [\"b\"]\n" + svcHead, "a.service.toml:2: Unit.Requisite: unit name"},
		{"BindsTo name", "a.service.toml", "[Unit]\nBindsTo = \"x y.service\"\n" + svcHead, "a.service.toml:2: Unit.BindsTo: unit name"},
		{"PartOf name", "a.service.toml", "[Unit]\nPartOf = \"b.bogus\"\n" + svcHead, "a.service.toml:2: Unit.PartOf"},
		{"OnFailure template", "a.service.toml", "[Unit]\nOnFailure = \"b@.service\"\n" + svcHead, "a.service.toml:2: Unit.OnFailure: \"b@.service\" is a template"},
		{"StartLimitBurst type", "a.service.toml", "[Unit]\nStartLimitBurst = \"x\"\n" + svcHead, "a.service.toml:2"},
		{"StartLimitBurst negative", "a.service.toml", "[Unit]\nStartLimitBurst = -1\n" + svcHead, "a.service.toml:2: Unit.StartLimitBurst: -1 is negative"},
		{"StartLimitIntervalSec", "a.service.toml", "[Unit]\nStartLimitIntervalSec = \"soon\"\n" + svcHead, "a.service.toml:2: Unit.StartLimitIntervalSec"},
		{"DefaultDependencies", "a.service.toml", "[Unit]\nDefaultDependencies = \"yes\"\n" + svcHead, "a.service.toml:2"},
		{"ConditionPathIsDirectory", "a.target.toml", "[Unit]\nConditionPathIsDirectory = \"etc\"\n", "a.target.toml:2: Unit.ConditionPathIsDirectory: \"etc\" is not an absolute path"},
		{"ConditionFileNotEmpty", "a.target.toml", "[Unit]\nConditionFileNotEmpty = \"!x\"\n", "a.target.toml:2: Unit.ConditionFileNotEmpty"},
		{"ConditionKernelCommandLine", "a.target.toml", "[Unit]\nConditionKernelCommandLine = \"!\"\n", "a.target.toml:2: Unit.ConditionKernelCommandLine"},
		{"AssertVirtualization", "a.target.toml", "\n[Unit]\nAssertVirtualization = \"\"\n", "a.target.toml:3: Unit.AssertVirtualization"},
		{"AssertPathExists", "a.target.toml", "[Unit]\nAssertPathExists = \"rel\"\n", "a.target.toml:2: Unit.AssertPathExists"},
		{"Type", "a.service.toml", svcHead + "Type = \"idle\"\n", "a.service.toml:3: Service.Type: \"idle\" is not one of simple, exec, oneshot, forking, notify"},
		{"PIDFile relative", "a.service.toml", svcHead + "Type = \"forking\"\nPIDFile = \"a.pid\"\n", "a.service.toml:4: Service.PIDFile: \"a.pid\" is not an absolute path"},
		{"ExecReload", "a.service.toml", svcHead + "ExecReload = \"kill\"\n", "a.service.toml:3: Service.ExecReload"},
		{"EnvironmentFile", "a.service.toml", svcHead + "EnvironmentFile = \"-etc/a\"\n", "a.service.toml:3: Service.EnvironmentFile: \"etc/a\" is not an absolute path"},
		{"User", "a.service.toml", svcHead + "User = \"a b\"\n", "a.service.toml:3: Service.User"},
		{"Group", "a.service.toml", svcHead + "Group = 5\n", "a.service.toml:3"},
		{"UMask digits", "a.service.toml", svcHead + "UMask = \"0089\"\n", "a.service.toml:3: Service.UMask: \"0089\" is not an octal mode"},
		{"UMask int", "a.service.toml", svcHead + "UMask = 18\n", "a.service.toml:3: Service.UMask: want an octal string"},
		{"UMask range", "a.service.toml", svcHead + "UMask = \"1777\"\n", "a.service.toml:3: Service.UMask: 1777 is not a umask"},
		{"Nice", "a.service.toml", svcHead + "Nice = 20\n", "a.service.toml:3: Service.Nice: 20 is not in -20..19"},
		{"LimitNOFILE word", "a.service.toml", svcHead + "LimitNOFILE = \"lots\"\n", "a.service.toml:3: Service.LimitNOFILE: \"lots\" is not a number"},
		{"LimitNPROC order", "a.service.toml", svcHead + "LimitNPROC = \"10:5\"\n", "a.service.toml:3: Service.LimitNPROC: \"10:5\": soft limit above hard limit"},
		{"LimitCPU negative", "a.service.toml", svcHead + "LimitCPU = -1\n", "a.service.toml:3: Service.LimitCPU: negative limit"},
		{"TimeoutStartSec", "a.service.toml", svcHead + "TimeoutStartSec = \"x\"\n", "a.service.toml:3: Service.TimeoutStartSec"},
		{"TimeoutSec", "a.service.toml", svcHead + "TimeoutSec = -4\n", "a.service.toml:3: Service.TimeoutSec: negative duration"},
		{"KillMode", "a.service.toml", svcHead + "KillMode = \"all\"\n", "a.service.toml:3: Service.KillMode: \"all\" is not one of control-group, process, mixed, none"},
		{"SendSIGKILL", "a.service.toml", svcHead + "SendSIGKILL = \"no\"\n", "a.service.toml:3"},
		{"WatchdogSec", "a.service.toml", svcHead + "WatchdogSec = \"1 fortnight\"\n", "a.service.toml:3: Service.WatchdogSec"},
		{"NotifyAccess", "a.service.toml", svcHead + "NotifyAccess = \"some\"\n", "a.service.toml:3: Service.NotifyAccess: \"some\" is not one of none, main, exec, all"},
		{"MemoryMax", "a.service.toml", svcHead + "MemoryMax = \"lots\"\n", "a.service.toml:3: Service.MemoryMax"},
		{"MemoryMax huge", "a.service.toml", svcHead + "MemoryMax = \"99999999999E\"\n", "a.service.toml:3: Service.MemoryMax: \"99999999999E\" is too large"},
		{"CPUWeight", "a.service.toml", svcHead + "CPUWeight = 10001\n", "a.service.toml:3: Service.CPUWeight: 10001 is not in 1..10000"},
		{"TasksMax", "a.service.toml", svcHead + "TasksMax = \"many\"\n", "a.service.toml:3: Service.TasksMax: \"many\" is not a number"},
		{"RestartPreventExitStatus", "a.service.toml", svcHead + "RestartPreventExitStatus = \"SIGBOGUS\"\n", "a.service.toml:3: Service.RestartPreventExitStatus"},
		{"RestartPreventExitStatus range", "a.service.toml", svcHead + "RestartPreventExitStatus = 256\n", "a.service.toml:3: Service.RestartPreventExitStatus: exit code 256"},
		{"StandardOutput", "a.service.toml", svcHead + "StandardOutput = \"file\"\n", "a.service.toml:3: Service.StandardOutput: \"file\" is not one of inherit, console, null, tty, journal, log, kmsg"},
		{"Accept", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nAccept = true\n", "a.socket.toml:3: Socket.Accept: Accept=true is not supported"},
		{"ListenStream", "a.socket.toml", "[Socket]\nListenStream = \"localhost:80\"\n", "a.socket.toml:2: Socket.ListenStream: \"localhost:80\""},
		{"ListenStream port", "a.socket.toml", "[Socket]\nListenStream = \"70000\"\n", "a.socket.toml:2: Socket.ListenStream: \"70000\": port not in 1..65535"},
		{"ListenDatagram", "a.socket.toml", "[Socket]\nListenDatagram = \"@\"\n", "a.socket.toml:2: Socket.ListenDatagram"},
		{"ListenSequentialPacket", "a.socket.toml", "[Socket]\nListenSequentialPacket = \"8080\"\n", "a.socket.toml:2: Socket.ListenSequentialPacket: \"8080\": sequential packet"},
		{"no listen", "a.socket.toml", "[Socket]\nBacklog = 5\n", "a.socket.toml:1: Socket.ListenStream: missing"},
		{"Socket Service", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nService = \"b.target\"\n", "a.socket.toml:3: Socket.Service: \"b.target\" is not a service unit name"},
		{"SocketMode", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nSocketMode = \"rw\"\n", "a.socket.toml:3: Socket.SocketMode"},
		{"FileDescriptorName", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nFileDescriptorName = \"a:b\"\n", "a.socket.toml:3: Socket.FileDescriptorName"},
		{"Backlog", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nBacklog = -1\n", "a.socket.toml:3: Socket.Backlog: -1 is negative"},
		{"RemoveOnStop", "a.socket.toml", "[Socket]\nListenStream = \"80\"\nRemoveOnStop = 1\n", "a.socket.toml:3"},
		{"mount name", "data.mount.toml", "[Mount]\nWhat = \"/dev/vda\"\nWhere = \"/mnt/data\"\n", "data.mount.toml:3: Mount.Where: \"/mnt/data\" belongs in a unit named mnt-data.mount"},
		{"mount relative", "mnt.mount.toml", "[Mount]\nWhat = \"/dev/vda\"\nWhere = \"mnt\"\n", "mnt.mount.toml:3: Mount.Where: \"mnt\" is not an absolute path"},
		{"mount no what", "mnt.mount.toml", "[Mount]\nWhere = \"/mnt\"\n", "mnt.mount.toml:1: Mount.What: missing"},
		{"mount no where", "mnt.mount.toml", "[Mount]\nWhat = \"/dev/x\"\n", "mnt.mount.toml:1: Mount.Where: missing"},
		{"DirectoryMode", "mnt.mount.toml", "[Mount]\nWhat = \"/dev/x\"\nWhere = \"/mnt\"\nDirectoryMode = \"77777\"\n", "mnt.mount.toml:4: Mount.DirectoryMode"},
		{"Mount TimeoutSec", "mnt.mount.toml", "[Mount]\nWhat = \"/dev/x\"\nWhere = \"/mnt\"\nTimeoutSec = \"x\"\n", "mnt.mount.toml:4: Mount.TimeoutSec"},
		{"timer empty", "a.timer.toml", "[Timer]\nPersistent = true\n", "a.timer.toml:1: Timer.OnCalendar: missing"},
		{"OnCalendar", "a.timer.toml", "[Timer]\nOnCalendar = [\" \"]\n", "a.timer.toml:2: Timer.OnCalendar: empty calendar expression"},
		{"OnBootSec", "a.timer.toml", "[Timer]\nOnBootSec = \"later\"\n", "a.timer.toml:2: Timer.OnBootSec"},
		{"Timer Unit", "a.timer.toml", "[Timer]\nOnBootSec = 1\nUnit = \"b.timer\"\n", "a.timer.toml:3: Timer.Unit: \"b.timer\" is not a unit a timer can start"},
		{"AccuracySec", "a.timer.toml", "[Timer]\nOnBootSec = 1\nAccuracySec = true\n", "a.timer.toml:3"},
		{"Alias kind", "a.service.toml", svcHead + "[Install]\nAlias = [\"b.target\"]\n", "a.service.toml:4: Install.Alias: \"b.target\": an alias must be a service unit too"},
		{"Service in timer", "a.timer.toml", "[Timer]\nOnBootSec = 1\n[Service]\nType = \"simple\"\n", "a.timer.toml:3: [Service] section in a timer unit"},
		{"Socket in service", "a.service.toml", svcHead + "[Socket]\n", "a.service.toml:3: [Socket] section in a service unit"},
		{"Timer in mount", "mnt.mount.toml", "[Timer]\nOnBootSec = 1\n", "[Timer] section in a mount unit"},
		{"unknown specifier", "a.service.toml", "[Service]\nExecStart = \"/bin/date +%z\"\n", "a.service.toml:2: Service.ExecStart: \"+%z\": unknown specifier %z"},
		{"lone percent", "a.service.toml", svcHead + "[Unit]\nDescription = \"100%\"\n", "a.service.toml:4: Unit.Description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
