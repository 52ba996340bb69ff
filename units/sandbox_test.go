package units

import (
	"reflect"
	"strings"
	"testing"
)

func TestSandboxKeys(t *testing.T) {
	tests := []struct {
		name, src string
		got       func(s *Sandbox) any
		want      any
	}{
		{"ProtectSystem bool", "ProtectSystem = true\n", func(s *Sandbox) any { return s.ProtectSystem }, Choice("yes")},
		{"ProtectSystem word", "ProtectSystem = \"strict\"\n", func(s *Sandbox) any { return s.ProtectSystem }, Choice("strict")},
		{"ProtectHome off", "ProtectHome = \"no\"\n", func(s *Sandbox) any { return s.ProtectHome.Enabled() }, false},
		{"RuntimeDirectory", "RuntimeDirectory = [\"a\", \"b/c\"]\nRuntimeDirectoryMode = \"0750\"\n",
			func(s *Sandbox) any { return []any{s.RuntimeDirectory, *s.RuntimeDirectoryMode} }, []any{List{"a", "b/c"}, FileMode(0o750)}},
		{"CapabilityBoundingSet", "CapabilityBoundingSet = \"CAP_NET_ADMIN cap_chown\"\n",
			func(s *Sandbox) any { m, _ := Capabilities(s.CapabilityBoundingSet); return m }, uint64(1<<12 | 1)},
		{"SecureBits", "SecureBits = \"keep-caps noroot\"\n", func(s *Sandbox) any { m, _ := SecureBitsMask(s.SecureBits); return m }, 0x11},
		{"SystemCallFilter", "SystemCallFilter = [\"@system-service\", \"~@privileged\"]\n", func(s *Sandbox) any { return s.SystemCallFilter }, List{"@system-service", "~@privileged"}},
		{"RestrictNamespaces list", "RestrictNamespaces = \"~user net\"\n", func(s *Sandbox) any { return s.RestrictNamespaces }, Choice("~user net")},
		{"OOMScoreAdjust", "OOMScoreAdjust = -500\n", func(s *Sandbox) any { return *s.OOMScoreAdjust }, -500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse("a.service.toml", []byte(svcHead+tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(&u.Service.Sandbox); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSandboxKeysBad(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"ProtectSystem", "ProtectSystem = \"very\"\n", "a.service.toml:3: Service.ProtectSystem: \"very\" is not a boolean or one of full, strict"},
		{"ProtectHome type", "ProtectHome = 3\n", "a.service.toml:3"},
		{"ProtectProc", "ProtectProc = \"hidden\"\n", "a.service.toml:3: Service.ProtectProc"},
		{"RuntimeDirectory absolute", "RuntimeDirectory = \"/run/x\"\n", "a.service.toml:3: Service.RuntimeDirectory: \"/run/x\": want a relative path"},
		{"StateDirectory dotdot", "StateDirectory = \"../x\"\n", "a.service.toml:3: Service.StateDirectory"},
		{"ReadOnlyPaths relative", "ReadOnlyPaths = \"-etc\"\n", "a.service.toml:3: Service.ReadOnlyPaths: \"-etc\" is not an absolute path"},
		{"capability", "CapabilityBoundingSet = \"CAP_FLY\"\n", "a.service.toml:3: Service.CapabilityBoundingSet: unknown capability \"CAP_FLY\""},
		{"ambient", "AmbientCapabilities = \"CAP_X\"\n", "a.service.toml:3: Service.AmbientCapabilities"},
		{"securebits", "SecureBits = \"nope\"\n", "a.service.toml:3: Service.SecureBits: unknown secure bit"},
		{"OOMScoreAdjust", "OOMScoreAdjust = 2000\n", "a.service.toml:3: Service.OOMScoreAdjust: 2000 is not in -1000..1000"},
		{"CPUSchedulingPolicy", "CPUSchedulingPolicy = \"fast\"\n", "a.service.toml:3: Service.CPUSchedulingPolicy"},
		{"group", "SystemCallFilter = \"@nope\"\n", "a.service.toml:3: Service.SystemCallFilter: SystemCallFilter: unknown system call group \"@nope\""},
		{"errno", "SystemCallFilter = \"~@mount\"\nSystemCallErrorNumber = \"EWHAT\"\n", "a.service.toml:4: Service.SystemCallErrorNumber"},
		{"family", "RestrictAddressFamilies = \"AF_WHAT\"\n", "a.service.toml:3: Service.RestrictAddressFamilies"},
		{"namespaces", "RestrictNamespaces = \"space\"\n", "a.service.toml:3: Service.RestrictNamespaces"},
		{"typo", "PrivateTemp = true\n", "did you mean PrivateTmp?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("a.service.toml", []byte(svcHead+tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPercentLimits(t *testing.T) {
	u, err := Parse("a.service.toml", []byte(svcHead+"TasksMax = \"50%\"\nMemoryMax = \"10%\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Service.TasksMax == 0 || uint64(u.Service.TasksMax) > maxTasks()/2 {
		t.Errorf("TasksMax = %d, want half of %d", u.Service.TasksMax, maxTasks())
	}
	if u.Service.MemoryMax == 0 {
		t.Error("MemoryMax 10% resolved to 0")
	}
	if _, err := Parse("a.service.toml", []byte(svcHead+"TasksMax = \"150%\"\n")); err == nil {
		t.Error("TasksMax 150%: no error")
	}
}
