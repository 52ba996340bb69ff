package units

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConvertINIService(t *testing.T) {
	src := `# sshd
[Unit]
Description=OpenSSH server daemon
Documentation=man:sshd(8) man:sshd_config(5)
After=network.target sshd-keygen.target
Wants=sshd-keygen.target
ConditionPathExists=!/etc/ssh/sshd_not_to_be_run
StopWhenUnneeded=no

[Service]
Type=notify
EnvironmentFile=-/etc/sysconfig/sshd
Environment="A=1 2" B=3
ExecStartPre=/usr/sbin/sshd -t
ExecStartPre=+/usr/bin/setup
ExecStart=/usr/sbin/sshd -D $OPTIONS
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
KillSignal=TERM
Restart=on-failure
RestartSec=42s
TimeoutStopSec=1min 30s
SendSIGKILL=no
LimitNOFILE=16384
MemoryMax=1G
Nice=5
UMask=0027
ProtectSystem=strict
PrivateTmp=yes
StandardOutput=journal
Type=idle
ExecStartPost=/bin/a \
  --long

[Install]
WantedBy=multi-user.target
Also=sshd.socket
`
	out, unsupported, err := ConvertINI("/lib/systemd/system/sshd.service", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	u, err := Parse("sshd.service.toml", out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	wantUnsupported := []string{
		"Unit.StopWhenUnneeded (line 8): not supported: units are not stopped when nothing needs them",
		"Service.Type (line 31): ignored: Type=idle is started as simple: jobs are not held back for console output",
	}
	if !reflect.DeepEqual(unsupported, wantUnsupported) {
		t.Errorf("unsupported:\n got %q\nwant %q", unsupported, wantUnsupported)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Description", u.Unit.Description, "OpenSSH server daemon"},
		{"Documentation", u.Unit.Documentation, List{"man:sshd(8)", "man:sshd_config(5)"}},
		{"After", u.Unit.After, List{"network.target", "sshd-keygen.target"}},
		{"Condition", u.Unit.ConditionPathExists, List{"!/etc/ssh/sshd_not_to_be_run"}},
		{"Type", u.Service.Type, "simple"},
		{"Environment", u.Service.Environment, List{"A=1 2", "B=3"}},
		{"EnvironmentFile", u.Service.EnvironmentFile, List{"-/etc/sysconfig/sshd"}},
		{"ExecStartPre", len(u.Service.ExecStartPre), 2},
		{"ExecStartPre +", u.Service.ExecStartPre[1].Privileged, true},
		{"Also", u.Install.Also, List{"sshd.socket"}},
		{"ExecStart", u.Service.ExecStart[0].Argv, []string{"/usr/sbin/sshd", "-D", "$OPTIONS"}},
		{"ExecStartPost", u.Service.ExecStartPost[0].Argv, []string{"/bin/a", "--long"}},
		{"KillSignal", u.Service.KillSignal, "SIGTERM"},
		{"KillMode", u.Service.KillMode, "process"},
		{"RestartSec", u.Service.RestartSec.D(), 42 * time.Second},
		{"TimeoutStopSec", u.Service.TimeoutStopSec.D(), 90 * time.Second},
		{"SendSIGKILL", *u.Service.SendSIGKILL, false},
		{"LimitNOFILE", *u.Service.LimitNOFILE, Rlimit{16384, 16384}},
		{"MemoryMax", u.Service.MemoryMax, Bytes(1 << 30)},
		{"Nice", *u.Service.Nice, 5},
		{"UMask", *u.Service.UMask, FileMode(0o027)},
		{"StandardOutput", u.Service.StandardOutput, "log"},
		{"WantedBy", u.Install.WantedBy, List{"multi-user.target"}},
		{"ProtectSystem", u.Service.ProtectSystem, Choice("strict")},
		{"PrivateTmp", u.Service.PrivateTmp, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestConvertINIKinds(t *testing.T) {
	tests := []struct {
		name, src   string
		unsupported int
		check       func(u *Unit) bool
	}{
		{"backup.timer", "[Timer]\nOnCalendar=Mon *-*-* 00:00\nOnCalendar=daily\nPersistent=true\nRandomizedDelaySec=1h\n[Install]\nWantedBy=timers.target\n", 0,
			func(u *Unit) bool {
				return len(u.Timer.OnCalendar) == 2 && u.Timer.Persistent && u.Timer.Unit == "backup.service"
			}},
		{"web.socket", "[Socket]\nListenStream=80\nListenStream=[::1]:8080\nListenDatagram=/run/x\nAccept=no\nSocketMode=0600\n", 0,
			func(u *Unit) bool { l, _ := u.Socket.Listeners(); return len(l) == 3 && *u.Socket.SocketMode == 0o600 }},
		{"web.socket", "[Socket]\nListenStream=80\nAccept=yes\n", 1, func(u *Unit) bool { return !u.Socket.Accept }},
		{"mnt-data.mount", "[Mount]\nWhat=/dev/vdb\nWhere=/mnt/data\nType=ext4\nOptions=noatime,nodev\nLazyUnmount=yes\n", 1,
			func(u *Unit) bool { return u.Mount.Options == "noatime,nodev" }},
		{"rescue.target", "[Unit]\nDescription=Rescue\nRequires=sysinit.target rescue.service\nAllowIsolate=yes\n[Service]\nType=simple\n", 2,
			func(u *Unit) bool { return len(u.Unit.Requires) == 2 }},
		{"getty@.service", "[Unit]\nDescription=Getty on %I\n[Service]\nExecStart=-/sbin/agetty -o '-p -- \\\\u' %I $TERM\nExecStart=\nExecStart=/sbin/agetty %I\n", 0,
			func(u *Unit) bool { return len(u.Service.ExecStart) == 1 && u.Service.ExecStart[0].Argv[1] == "%I" }},
		{"a.service", "[Service]\nExecStart=/bin/a\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\nUser=\n", 0,
			func(u *Unit) bool {
				return reflect.DeepEqual(u.Service.Environment, List{"B=2"}) && u.Service.User == ""
			}},
		{"q.service", "[Service]\nExecStart=/bin/echo \"quote\\\" and \\\\ tab\t\"\n", 0,
			func(u *Unit) bool { return u.Service.ExecStart[0].Argv[1] == "quote\" and \\ tab\t" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, unsupported, err := ConvertINI(tt.name, []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			u, err := Parse(tt.name+".toml", out)
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out)
			}
			if len(unsupported) != tt.unsupported || !tt.check(u) {
				t.Errorf("unsupported %q; output:\n%s", unsupported, out)
			}
		})
	}
}

func TestConvertINIErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"a.service", "[Service]\nType=simple\n", "Service.ExecStart: missing"},
		{"a.service", "ExecStart=/bin/a\n", "a.service:1: ExecStart= outside of a section"},
		{"a.service", "[Service\n", "a.service:1: bad section header"},
		{"a.service", "[Service]\njunk\n", "a.service:2: want KEY=VALUE"},
		{"a.conf", "", "unit name"},
	}
	for _, tt := range tests {
		if _, _, err := ConvertINI(tt.name, []byte(tt.src)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ConvertINI(%q) = %v, want %q", tt.src, err, tt.want)
		}
	}
}

func TestConvertINIRewrites(t *testing.T) {
	tests := []struct {
		name, src string
		check     func(u *Unit) any
		want      any
		note      string // a Dropped entry must contain this
	}{
		{"StartLimit in Service", "[Service]\nExecStart=/bin/a\nStartLimitInterval=5s\nStartLimitBurst=3\n",
			func(u *Unit) any { return []any{u.Unit.StartLimitIntervalSec.D().String(), u.Unit.StartLimitBurst} }, []any{"5s", 3}, ""},
		{"ReadWriteDirectories", "[Service]\nExecStart=/bin/a\nReadWriteDirectories=/var/x\n",
			func(u *Unit) any { return u.Service.ReadWritePaths }, List{"/var/x"}, ""},
		{"PermissionsStartOnly", "[Service]\nExecStart=/bin/a\nExecStartPre=/bin/b\nPermissionsStartOnly=yes\nUser=nobody\n",
			func(u *Unit) any {
				return []bool{u.Service.ExecStart[0].Privileged, u.Service.ExecStartPre[0].Privileged}
			}, []bool{false, true}, ""},
		{"Type=dbus", "[Service]\nType=dbus\nBusName=org.x\nExecStart=/bin/a\n",
			func(u *Unit) any { return u.Service.Type }, "simple", "Type=dbus is started as simple"},
		{"journal+console", "[Service]\nExecStart=/bin/a\nStandardOutput=journal+console\n",
			func(u *Unit) any { return u.Service.StandardOutput }, "log", "journal+console"},
		{"After automount", "[Unit]\nAfter=boot.automount network.target\n[Service]\nExecStart=/bin/a\n",
			func(u *Unit) any { return u.Unit.After }, List{"network.target"}, "boot.automount left out"},
		{"Slice system", "[Service]\nExecStart=/bin/a\nSlice=system.slice\n",
			func(u *Unit) any { return u.Service.Type }, "simple", "system.slice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Convert("a.service", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if lost := c.Lost(); len(lost) > 0 {
				t.Errorf("lost: %v", lost)
			}
			u, err := Parse("a.service.toml", c.TOML)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(u); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v\n%s", got, tt.want, c.TOML)
			}
			if tt.note != "" && !strings.Contains(fmt.Sprint(c.Dropped), tt.note) {
				t.Errorf("no note %q in %v", tt.note, c.Dropped)
			}
		})
	}
}
