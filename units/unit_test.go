package units

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"/bin/echo a b", []string{"/bin/echo", "a", "b"}, false},
		{`/bin/sh -c 'echo "hi there"'`, []string{"/bin/sh", "-c", `echo "hi there"`}, false},
		{`/bin/x "a b"c d\ e`, []string{"/bin/x", "a bc", "d e"}, false},
		{`/bin/x ""`, []string{"/bin/x", ""}, false},
		{`/bin/x "open`, nil, true},
		{`/bin/x \`, nil, true},
		// systemd's C escapes, inside quotes too.
		{`/bin/x \x41\102 "\u00e9\U0001F600" a\sb \a\v\;`, []string{"/bin/x", "AB", "é😀", "a b", "\a\v;"}, false},
		{`/bin/x \x4`, nil, true},
		{`/bin/x \xzz`, nil, true},
		{`/bin/x \x00`, nil, true},
		{`/bin/x \400`, nil, true},
		{`/bin/x \ud800`, nil, true},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if (err != nil) != tt.err || (!tt.err && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90s", 90 * time.Second, false},
		{"5min", 5 * time.Minute, false},
		{"1h 30min", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"2", 2 * time.Second, false},
		{"infinity", time.Duration(Infinity), false},
		{"5 parsecs", 0, true},
		{"", 0, true},
		{"s", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || (!tt.err && got.D() != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, err=%v", tt.in, got.D(), err, tt.want, tt.err)
		}
	}
}

func TestParseGood(t *testing.T) {
	src := `
[Unit]
Description = "web"
After = ["network.target"]
Wants = "network.target"

[Service]
Type = "oneshot"
ExecStart = ["/bin/prep --x", "-/bin/may-fail"]
RestartSec = 3
Environment = ["A=1", "B=two words"]

[Install]
WantedBy = ["default.target"]
`
	u, err := Parse("/etc/web.service.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "web.service" || u.Kind() != "service" {
		t.Errorf("name %q kind %q", u.Name, u.Kind())
	}
	if len(u.Service.ExecStart) != 2 || !u.Service.ExecStart[1].IgnoreFailure || u.Service.ExecStart[0].Argv[1] != "--x" {
		t.Errorf("ExecStart = %+v", u.Service.ExecStart)
	}
	if u.Service.RestartSec.D() != 3*time.Second || u.Service.Restart != "no" {
		t.Errorf("defaults/values wrong: %+v", u.Service)
	}
	if !reflect.DeepEqual(u.Unit.Wants, List{"network.target"}) {
		t.Errorf("Wants = %v", u.Unit.Wants)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"unknown key suggests", "a.service.toml", "[Service]\nExecStrat = \"/bin/true\"\n", `a.service.toml:2: Service.ExecStrat: unknown key (did you mean ExecStart?)`},
		{"unknown section", "a.service.toml", "[Servce]\nExecStart = \"/bin/true\"\n", `a.service.toml:1: unknown section [Servce] (did you mean [Service]?)`},
		{"wrong type", "a.service.toml", "[Service]\nExecStart = \"/bin/true\"\nRestart = 5\n", "a.service.toml:3"},
		{"bad value", "a.service.toml", "[Service]\nExecStart = \"/bin/true\"\nRestart = \"sometimes\"\n", `a.service.toml:3: Service.Restart: "sometimes" is not one of`},
		{"syntax", "a.service.toml", "[Service]\nExecStart = \n", "a.service.toml:2"},
		{"relative exec", "a.service.toml", "[Service]\nExecStart = \"true\"\n", "not an absolute path"},
		{"bad signal", "a.service.toml", "[Service]\nExecStart = \"/bin/true\"\nKillSignal = \"SIGFOO\"\n", "a.service.toml:3: Service.KillSignal"},
		{"no exec", "a.service.toml", "[Service]\nType = \"simple\"\n", "Service.ExecStart: missing"},
		{"bad name", "a b.service.toml", "", "unit name"},
		{"bad kind", "a.bogus.toml", "", "want NAME.KIND"},
		{"bad dep", "a.service.toml", "[Unit]\nAfter = [\"x y\"]\n[Service]\nExecStart = \"/bin/true\"\n", "a.service.toml:2: Unit.After"},
		{"service section in target", "a.target.toml", "[Service]\nType = \"simple\"\n", "[Service] section in a target unit"},
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

func TestShippedUnitsLoad(t *testing.T) {
	good, bad, err := LoadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("shipped units fail to load: %v", bad)
	}
	if good["default.target"] == nil || good["shell.service"] == nil {
		t.Fatalf("shipped units missing: %v", good)
	}
}

func TestLoadDirSkipsBad(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.service.toml"), []byte("[Service]\nExecStart=\"/bin/true\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.service.toml"), []byte("[Service]\nExecStart=\n"), 0o644)
	good, bad, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if good["ok.service"] == nil || bad["broken.service"] == nil || len(good) != 1 {
		t.Fatalf("good=%v bad=%v", good, bad)
	}
}

// TestParseNamesEveryMistake: one error names each unknown key, unknown
// section (once, however many keys it has) and bad value of a file. (A
// value the decoder itself refuses, such as a bad duration, still stops
// the file there.)
func TestParseNamesEveryMistake(t *testing.T) {
	src := "[Unit]\nDescripton = \"x\"\n[Service]\nExecStart = \"/bin/true\"\nRestrat = \"always\"\nRestart = \"sometimes\"\n[Instal]\nWantedBy = [\"a.target\"]\nAlias = [\"b.service\"]\n"
	_, err := Parse("a.service.toml", []byte(src))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := []string{
		"a.service.toml:2: Unit.Descripton: unknown key (did you mean Description?)",
		"a.service.toml:5: Service.Restrat: unknown key (did you mean Restart?)",
		"a.service.toml:7: unknown section [Instal] (did you mean [Install]?)",
		`a.service.toml:6: Service.Restart: "sometimes" is not one of`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if n := strings.Count(err.Error(), "[Instal]"); n != 1 {
		t.Errorf("[Instal] named %d times:\n%v", n, err)
	}
	var ue *Error
	if !errors.As(err, &ue) || ue.File != "a.service.toml" {
		t.Errorf("errors.As(*Error) = %+v", ue)
	}
}
