package units

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, whatever the file name and
// content.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("*.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p, data)
	}
	for _, s := range []struct{ name, src string }{
		{"a.service.toml", svcHead + "LimitNOFILE = \"1K:infinity\"\nUMask = \"0022\"\nNice = 3\nRestartPreventExitStatus = [1, \"SIGTERM\"]\n"},
		{"a@.service.toml", "[Unit]\nWants = [\"b@%i.service\"]\n" + svcHead + "Environment = \"X=%I %f %%\"\n"},
		{"a.socket.toml", "[Socket]\nListenStream = [\"[::1]:80\", \"@x\", \"/run/a\"]\nSocketMode = \"0600\"\n"},
		{"mnt-data.mount.toml", "[Mount]\nWhat = \"/dev/vda\"\nWhere = \"/mnt/data\"\n"},
		{"a.timer.toml", "[Timer]\nOnCalendar = \"daily\"\nOnBootSec = 5\n"},
		{"a.target.toml", "[Unit]\nConditionKernelCommandLine = \"!quiet\"\nDefaultDependencies = false\n"},
		{"a.service.toml", "[Service]\nExecStart = [\"/bin/a\", 1]\n[[Service]]\n"},
	} {
		f.Add(s.name, []byte(s.src))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		u, err := Parse(name, data)
		if err == nil && u == nil {
			t.Fatal("Parse returned neither a unit nor an error")
		}
		if err == nil && !u.IsTemplate() {
			u.CheckConditions(fakeHost{})
			if _, err := u.Socket.Listeners(); err != nil && u.Kind() == "socket" {
				t.Fatalf("valid socket with bad listeners: %v", err)
			}
		}
	})
}

// FuzzConvertINI checks that ConvertINI never panics and that what it
// returns without an error parses.
func FuzzConvertINI(f *testing.F) {
	f.Add("a.service", []byte("[Unit]\nAfter=b.target\n[Service]\nExecStart=/bin/a\nEnvironment=\"A=1 2\"\nLimitNOFILE=1:2\n"))
	f.Add("a.timer", []byte("[Timer]\nOnCalendar=daily\n[X]\nY=z\n"))
	f.Add("a@.socket", []byte("[Socket]\nListenStream=/run/%i\nAccept=yes\n"))
	f.Add("b.service", []byte("[Service]\nExecStart=@/bin/a a \\\n# comment\n  -x \"q \\\" w\" $X ${Y}\nExecStartPre=+!/bin/b\nProtectSystem=strict\nSystemCallFilter=@system-service\nSystemCallFilter=~@mount:EPERM\nStartLimitBurst=3\nType=dbus\nPermissionsStartOnly=yes\n[Unit]\nAfter=x.automount\nConditionPathExists=|!/x\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, _, err := ConvertINI(name, data)
		if err != nil {
			return
		}
		if _, err := Parse(name+".toml", out); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
	})
}
