package units

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path -> content) under a new temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, "/") {
			continue
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoaderPrecedenceAndDropIns(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/web.service.toml":        "[Service]\nExecStart = \"/bin/etc-web\"\n",
		"lib/web.service.toml":        "[Service]\nExecStart = \"/bin/lib-web\"\n",
		"lib/web.service.d/10-a.toml": "[Unit]\nAfter = [\"a.target\", \"b.target\"]\n[Service]\nEnvironment = [\"A=lib\"]\n",
		"etc/web.service.d/10-a.toml": "[Service]\nEnvironment = [\"A=etc\"]\n",
		"lib/web.service.d/20-b.toml": "[Unit]\nAfter = []\nDescription = \"web server\"\n",
		"etc/web.service.d/30-c.toml": "[Service]\nRestart = \"always\"\n",
		"lib/web.service.d/README":    "not a drop-in",
	})
	l := &Loader{Dirs: []string{filepath.Join(root, "etc"), filepath.Join(root, "lib")}}
	u, err := l.Load("web.service")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Service.ExecStart[0].Argv[0]; got != "/bin/etc-web" {
		t.Errorf("ExecStart = %q: /etc should win over /lib", got)
	}
	if !reflect.DeepEqual(u.Service.Environment, List{"A=etc"}) {
		t.Errorf("Environment = %q: /etc's 10-a.toml should shadow /lib's", u.Service.Environment)
	}
	if len(u.Unit.After) != 0 || u.Unit.Description != "web server" || u.Service.Restart != "always" {
		t.Errorf("drop-ins not applied in order: After=%q Description=%q Restart=%q", u.Unit.After, u.Unit.Description, u.Service.Restart)
	}
	wantDropIns := []string{
		filepath.Join(root, "etc/web.service.d/10-a.toml"),
		filepath.Join(root, "lib/web.service.d/20-b.toml"),
		filepath.Join(root, "etc/web.service.d/30-c.toml"),
	}
	if !reflect.DeepEqual(u.DropIns, wantDropIns) {
		t.Errorf("DropIns = %q, want %q", u.DropIns, wantDropIns)
	}
}

func TestLoaderDropInErrors(t *testing.T) {
	tests := []struct {
		name, dropIn, want string
	}{
		{"bad value", "[Unit]\nDescription = \"x\"\n[Service]\nRestart = \"never\"\n", "web.service.d/50-x.toml:4: Service.Restart"},
		{"unknown key", "[Service]\nRestrat = \"always\"\n", "web.service.d/50-x.toml:2: Service.Restrat: unknown key (did you mean Restart?)"},
		{"wrong section", "\n[Socket]\nBacklog = 1\n", "web.service.d/50-x.toml:2: [Socket] section in a service unit"},
		{"reset ExecStart", "[Service]\nExecStart = []\n", "web.service.toml:1: Service.ExecStart: missing"},
		{"syntax", "[Service\n", "web.service.d/50-x.toml:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{
				"web.service.toml":           "[Service]\nExecStart = \"/bin/web\"\n",
				"web.service.d/50-x.toml":    tt.dropIn,
				"other.service.toml":         "[Service]\nExecStart = \"/bin/other\"\n",
				"other.service.d/00-ok.toml": "[Unit]\nDescription = \"fine\"\n",
			})
			good, bad, err := LoadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			if e := bad["web.service"]; e == nil || !strings.Contains(e.Error(), tt.want) {
				t.Errorf("bad[web.service] = %v, want %q", e, tt.want)
			}
			if good["other.service"] == nil || good["other.service"].Unit.Description != "fine" {
				t.Errorf("other.service = %+v", good["other.service"])
			}
		})
	}
}

func TestLoaderTemplates(t *testing.T) {
	root := writeTree(t, map[string]string{
		"getty@.service.toml": `[Unit]
Description = "Getty on %I (%n, %N, %p, %P, %f, %H, 100%%)"
BindsTo = ["dev-%i.device.target"]
[Service]
ExecStart = "/sbin/getty -L %I 115200 vt100 %i"
Environment = ["TTY=%I", "HOST=%H"]
WorkingDirectory = "%f"
`,
		"getty@.service.d/10-t.toml":              "[Service]\nRestart = \"always\"\n",
		"getty@ttyS0.service.d/20-i.toml":         "[Service]\nRestartSec = 5\n",
		"serial@.target.toml":                     "[Unit]\nWants = [\"getty@%i.service\"]\n",
		"default.target.toml":                     "[Unit]\nWants = [\"serial@ttyS0.target\"]\n",
		"default.target.wants/getty@tty1.service": "",
		"broken@.service.toml":                    "[Service]\nExecStart = \"/bin/x %z\"\n",
		"other.service.toml":                      "[Unit]\nWants = [\"broken@a.service\", \"missing@a.service\"]\n[Service]\nExecStart = \"/bin/o\"\n",
	})
	l := &Loader{Dirs: []string{root}, Hostname: "board"}
	u, err := l.Load("getty@ttyS0.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Getty on ttyS0 (getty@ttyS0.service, getty@ttyS0, getty, getty, /ttyS0, board, 100%)"; u.Unit.Description != want {
		t.Errorf("Description = %q, want %q", u.Unit.Description, want)
	}
	if want := []string{"/sbin/getty", "-L", "ttyS0", "115200", "vt100", "ttyS0"}; !reflect.DeepEqual(u.Service.ExecStart[0].Argv, want) {
		t.Errorf("ExecStart = %q", u.Service.ExecStart[0].Argv)
	}
	if !reflect.DeepEqual(u.Service.Environment, List{"TTY=ttyS0", "HOST=board"}) || u.Service.WorkingDirectory != "/ttyS0" {
		t.Errorf("Environment = %q WorkingDirectory = %q", u.Service.Environment, u.Service.WorkingDirectory)
	}
	if u.Service.Restart != "always" || u.Service.RestartSec.D().Seconds() != 5 || u.Instance() != "ttyS0" {
		t.Errorf("template and instance drop-ins: Restart=%q RestartSec=%v", u.Service.Restart, u.Service.RestartSec.D())
	}
	if _, err := l.Load("getty@.service"); err == nil {
		t.Error("loading a template succeeded")
	}
	if _, err := l.Load("nope.service"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(nope.service) = %v, want fs.ErrNotExist", err)
	}

	good, bad, err := l.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"getty@tty1.service", "serial@ttyS0.target", "getty@ttyS0.service", "default.target", "other.service"} {
		if good[n] == nil {
			t.Errorf("LoadAll did not load %s (bad: %v)", n, bad[n])
		}
	}
	if good["getty@.service"] != nil || good["getty@ttyS0.service"].Unit.BindsTo[0] != "dev-ttyS0.device.target" {
		t.Errorf("templates must not load themselves: %v", good["getty@.service"])
	}
	if e := bad["broken@a.service"]; e == nil || !strings.Contains(e.Error(), "broken@.service.toml:2: Service.ExecStart: \"%z\": unknown specifier %z") {
		t.Errorf("bad[broken@a.service] = %v", e)
	}
	if len(bad) != 1 {
		t.Errorf("bad = %v", bad)
	}
}

func TestParseTemplate(t *testing.T) {
	u, err := Parse("getty@.service.toml", []byte("[Service]\nExecStart = \"/sbin/getty %I\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !u.IsTemplate() || u.Service.ExecStart[0].Argv[1] != "%I" {
		t.Errorf("template = %+v", u.Service)
	}
	if _, err := Parse("getty@.service.toml", []byte("[Service]\nExecStart = \"/sbin/getty %Q\"\n")); err == nil || !strings.Contains(err.Error(), "getty@.service.toml:2: Service.ExecStart") {
		t.Errorf("bad template: %v", err)
	}
}

func TestLoaderWantsDirs(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/multi-user.target.toml":                 "[Unit]\nWants = [\"a.service\"]\n",
		"etc/multi-user.target.wants/b.service":      "",
		"lib/multi-user.target.wants/a.service":      "",
		"lib/multi-user.target.wants/c.service.toml": "",
		"lib/multi-user.target.requires/d.service":   "",
		"lib/multi-user.target.d/reset.toml":         "[Unit]\nWants = []\n",
		"etc/bad.target.toml":                        "",
		"etc/bad.target.wants/README":                "",
	})
	l := &Loader{Dirs: []string{filepath.Join(root, "etc"), filepath.Join(root, "lib")}}
	good, bad, err := l.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	u := good["multi-user.target"]
	if u == nil {
		t.Fatalf("multi-user.target: %v", bad["multi-user.target"])
	}
	if want := (List{"b.service", "a.service", "c.service"}); !reflect.DeepEqual(u.Unit.Wants, want) {
		t.Errorf("Wants = %q, want %q", u.Unit.Wants, want)
	}
	if want := (List{"d.service"}); !reflect.DeepEqual(u.Unit.Requires, want) {
		t.Errorf("Requires = %q, want %q", u.Unit.Requires, want)
	}
	if e := bad["bad.target"]; e == nil || !strings.Contains(e.Error(), "bad.target.wants/README") {
		t.Errorf("bad[bad.target] = %v", e)
	}
}

func TestLoaderDirs(t *testing.T) {
	root := writeTree(t, map[string]string{"a.service.toml": "[Service]\nExecStart = \"/bin/a\"\n", "x y.service.toml": ""})
	good, bad, err := (&Loader{Dirs: []string{filepath.Join(root, "missing"), root}}).LoadAll()
	if err != nil || good["a.service"] == nil || bad["x y.service"] == nil {
		t.Errorf("LoadAll = %v, %v, %v", good, bad, err)
	}
	if _, _, err := (&Loader{Dirs: []string{filepath.Join(root, "missing")}}).LoadAll(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAll with no directory = %v", err)
	}
	if _, _, err := LoadDir(filepath.Join(root, "missing")); err == nil {
		t.Error("LoadDir of a missing directory succeeded")
	}
}

// BenchmarkLoadAll decodes a directory of 24 services as a board's manager
// does at every boot (before it has a unit cache).
func BenchmarkLoadAll(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 24; i++ {
		body := fmt.Sprintf("[Unit]\nDescription = \"service %d on %%H\"\nAfter = [\"setup.service\"]\n[Service]\nExecStart = \"/bin/sleep %d\"\nEnvironment = [\"N=%%n\"]\n[Install]\nWantedBy = [\"default.target\"]\n", i, 1000+i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%02d.service.toml", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		l := &Loader{Dirs: []string{dir}}
		if good, _, err := l.LoadAll(); err != nil || len(good) != 24 {
			b.Fatalf("LoadAll: %d units, %v", len(good), err)
		}
	}
}
