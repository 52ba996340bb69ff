package core_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/core/sctl"
)

var smbox string

func TestMain(m *testing.M) {
	// The test binary doubles as a service for the tests that need one
	// speaking sd_notify or socket activation.
	if role := os.Getenv("SM_TEST_ROLE"); role != "" {
		os.Exit(serviceRole(role))
	}
	dir, err := os.MkdirTemp("", "smbox-test")
	if err != nil {
		panic(err)
	}
	smbox = filepath.Join(dir, "smbox")
	cmd := exec.Command("go", "build", "-o", smbox, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building smbox: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// manager is a user-mode sysmaster process run by a test.
type manager struct {
	t      *testing.T
	dir    string
	units  string
	state  string
	socket string
	cmd    *exec.Cmd
	args   []string // extra manager flags
	binary string   // the smbox to run; the test build by default
}

func newManager(t *testing.T, files map[string]string) *manager {
	t.Helper()
	dir := t.TempDir()
	m := &manager{t: t, dir: dir, units: filepath.Join(dir, "units"), state: filepath.Join(dir, "state")}
	m.socket = filepath.Join(m.state, "control.sock")
	if err := os.MkdirAll(m.units, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := files["default.target"]; !ok {
		files["default.target"] = "[Unit]\nDescription = \"test target\"\n"
	}
	for name, body := range files {
		body = strings.ReplaceAll(body, "@DIR@", dir)
		if err := os.WriteFile(filepath.Join(m.units, name+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		// Enabled, as the image builder presets every unit with [Install].
		if strings.Contains(body, "WantedBy = [\"default.target\"]") {
			wants := filepath.Join(m.units, "default.target.wants")
			if err := os.MkdirAll(wants, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../"+name+".toml", filepath.Join(wants, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

func (m *manager) start() {
	m.t.Helper()
	bin := m.binary
	if bin == "" {
		bin = smbox
	}
	m.cmd = exec.Command(bin, append([]string{"sysmaster", "--user", "--units", m.units, "--state", m.state}, m.args...)...)
	// A file, not a pipe: services inherit the console and outlive a
	// killed manager.
	f, err := os.OpenFile(filepath.Join(m.dir, "console"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	m.cmd.Stdout, m.cmd.Stderr = f, f
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() {
		if m.cmd.ProcessState == nil {
			m.cmd.Process.Kill()
			m.cmd.Wait()
		}
		if m.t.Failed() {
			m.t.Logf("manager console:\n%s", m.output())
		}
	})
	m.waitFor(func() bool {
		r, err := sctl.Call(m.socket, core.Request{Cmd: "ping"})
		return err == nil && r.Code == 0
	}, "manager answers")
}

// kill9 kills the manager the hard way, as a crash would.
func (m *manager) kill9() {
	m.t.Helper()
	m.cmd.Process.Signal(syscall.SIGKILL)
	m.cmd.Wait()
}

// stop asks for an orderly shutdown and waits for the manager to exit.
func (m *manager) stop() {
	m.t.Helper()
	m.call("poweroff")
	errc := make(chan error, 1)
	go func() { errc <- m.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			m.t.Fatalf("manager exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		m.t.Fatal("manager did not exit after poweroff")
	}
}

func (m *manager) call(cmd string, units ...string) core.Response {
	m.t.Helper()
	r, err := sctl.Call(m.socket, core.Request{Cmd: cmd, Units: units})
	if err != nil {
		m.t.Fatal(err)
	}
	return r
}

func (m *manager) output() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "console"))
	return string(b)
}

func (m *manager) waitFor(cond func() bool, what string) {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("timed out waiting for: %s\nmanager output:\n%s", what, m.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *manager) status(unit string) core.UnitStatus {
	m.t.Helper()
	r, err := sctl.Call(m.socket, core.Request{Cmd: "list-units", JSON: true})
	if err != nil {
		m.t.Fatal(err)
	}
	for _, s := range r.Units {
		if s.Name == unit {
			return s
		}
	}
	m.t.Fatalf("unit %s not listed", unit)
	return core.UnitStatus{}
}

func (m *manager) waitState(unit string, want core.State) core.UnitStatus {
	m.t.Helper()
	var st core.UnitStatus
	m.waitFor(func() bool { st = m.status(unit); return st.Active == want }, unit+" "+string(want))
	return st
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

const appendTo = `/bin/sh -c 'echo %s >> @DIR@/log'`

func TestStartOrderAndStopInReverse(t *testing.T) {
	m := newManager(t, map[string]string{
		"first.service": `[Service]
Type = "oneshot"
ExecStart = ["` + fmt.Sprintf(appendTo, "first-1") + `", "/bin/sh -c 'sleep 0.2; echo first-2 >> @DIR@/log'"]
ExecStop = "` + fmt.Sprintf(appendTo, "stop-first") + `"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
		"second.service": `[Unit]
After = ["first.service"]
Wants = ["first.service"]
[Service]
ExecStartPre = "` + fmt.Sprintf(appendTo, "second") + `"
ExecStart = "/bin/sleep 1000"
ExecStopPost = "` + fmt.Sprintf(appendTo, "stop-second") + `"
[Install]
WantedBy = ["default.target"]
`,
	})
	m.start()
	st := m.waitState("second.service", core.Active)
	if st.MainPID == 0 || st.Sub != "running" {
		t.Fatalf("second.service: %+v", st)
	}
	m.waitState("default.target", core.Active)
	if s := m.status("first.service"); s.Active != core.Active || s.Sub != "exited" {
		t.Fatalf("first.service: %+v", s)
	}
	m.stop()
	got := strings.Join(readLines(t, filepath.Join(m.dir, "log")), " ")
	if want := "first-1 first-2 second stop-second stop-first"; got != want {
		t.Fatalf("order = %q, want %q", got, want)
	}
	if err := syscall.Kill(st.MainPID, 0); err == nil {
		t.Fatalf("main pid %d still alive after shutdown", st.MainPID)
	}
}

func TestRestartAlwaysAndStartLimit(t *testing.T) {
	m := newManager(t, map[string]string{
		"crashy.service": `[Service]
ExecStart = "` + fmt.Sprintf(appendTo, "run") + `"
Restart = "always"
RestartSec = "50ms"
[Install]
WantedBy = ["default.target"]
`,
	})
	m.start()
	st := m.waitState("crashy.service", core.Failed)
	if st.Result != "start-limit-hit" {
		t.Fatalf("result = %q, want start-limit-hit", st.Result)
	}
	if n := len(readLines(t, filepath.Join(m.dir, "log"))); n != 5 {
		t.Fatalf("ran %d times, want 5 (the start limit)", n)
	}
	m.stop()
}

func TestRestartOnFailureOnly(t *testing.T) {
	m := newManager(t, map[string]string{
		"ok.service": `[Service]
ExecStart = "` + fmt.Sprintf(appendTo, "ok") + `"
Restart = "on-failure"
[Install]
WantedBy = ["default.target"]
`,
	})
	m.start()
	m.waitState("ok.service", core.Inactive)
	time.Sleep(300 * time.Millisecond)
	if n := len(readLines(t, filepath.Join(m.dir, "log"))); n != 1 {
		t.Fatalf("ran %d times, want 1: a clean exit is not restarted by on-failure", n)
	}
	m.stop()
}

func TestBadUnitIsReportedAndSkipped(t *testing.T) {
	m := newManager(t, map[string]string{
		"broken.service": "[Service]\nExecStrat = \"/bin/true\"\n[Install]\nWantedBy = [\"default.target\"]\n",
		"good.service":   "[Service]\nExecStart = \"/bin/sleep 1000\"\n[Install]\nWantedBy = [\"default.target\"]\n",
	})
	m.start()
	m.waitState("good.service", core.Active)
	st := m.status("broken.service")
	if st.Load != "bad-setting" || !strings.Contains(st.Error, "broken.service.toml:2") || !strings.Contains(st.Error, "did you mean ExecStart?") {
		t.Fatalf("broken.service status: %+v", st)
	}
	if !strings.Contains(m.output(), "bad unit:") {
		t.Fatalf("bad unit not reported on the console:\n%s", m.output())
	}
	m.stop()
}

func TestCrashedManagerReattaches(t *testing.T) {
	m := newManager(t, map[string]string{
		"long.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n[Install]\nWantedBy = [\"default.target\"]\n",
		"once.service": "[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = \"" + fmt.Sprintf(appendTo, "once") + "\"\n[Install]\nWantedBy = [\"default.target\"]\n",
	})
	m.start()
	before := m.waitState("long.service", core.Active)
	m.waitState("default.target", core.Active)
	m.kill9()
	m.start()
	after := m.waitState("long.service", core.Active)
	if after.MainPID != before.MainPID {
		t.Fatalf("long.service pid %d -> %d: it was restarted", before.MainPID, after.MainPID)
	}
	if n := len(readLines(t, filepath.Join(m.dir, "log"))); n != 1 {
		t.Fatalf("once.service ran %d times, want 1", n)
	}
	// The adopted process is still managed: stop ends it.
	if r := m.call("stop", "long.service"); r.Code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	m.waitFor(func() bool { return syscall.Kill(before.MainPID, 0) != nil || isZombie(before.MainPID) }, "adopted process ends")
	m.stop()
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestControlRequests(t *testing.T) {
	m := newManager(t, map[string]string{
		"svc.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n",
	})
	m.start()
	tests := []struct {
		cmd   string
		units []string
		code  int
		out   string
	}{
		{"is-active", []string{"svc.service"}, 3, "inactive"},
		{"start", []string{"svc.service"}, 0, ""},
		{"is-active", []string{"svc.service"}, 0, "active"},
		{"start", []string{"nope.service"}, 5, ""},
		{"stop", []string{"svc.service"}, 0, ""},
		{"is-active", []string{"svc.service"}, 3, "inactive"},
		{"frobnicate", nil, 1, ""},
		{"start", nil, 1, ""},
	}
	for _, tt := range tests {
		r := m.call(tt.cmd, tt.units...)
		if r.Code != tt.code || !strings.Contains(r.Out, tt.out) {
			t.Errorf("%s %v = %+v, want code %d and %q", tt.cmd, tt.units, r, tt.code, tt.out)
		}
	}
	m.stop()
}

func TestMalformedRequestsDoNotHurt(t *testing.T) {
	m := newManager(t, map[string]string{})
	m.start()
	for _, raw := range []string{"not json\n", "{\"cmd\": 5}\n", strings.Repeat("x", core.MaxRequest+10) + "\n", "\n"} {
		c, err := net.Dial("unix", m.socket)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(raw))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.Contains(line, "bad request") {
			t.Errorf("request %.20q: answer %q, want a bad request error", raw, line)
		}
	}
	if r := m.call("ping"); r.Code != 0 {
		t.Fatalf("manager hurt by bad requests: %+v", r)
	}
	m.stop()
}

// TestPingLines: init's liveness check is answered with proto.Pong byte
// for byte; a ping written any other way still gets a JSON answer.
func TestPingLines(t *testing.T) {
	m := newManager(t, map[string]string{})
	m.start()
	for _, tc := range []struct{ send, want string }{
		{proto.Ping, proto.Pong},
		{`{ "cmd": "ping" }` + "\n", proto.Pong},
		{`{"cmd":"ping","units":[]}` + "\n", proto.Pong},
	} {
		c, err := net.Dial("unix", m.socket)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || got != tc.want {
			t.Errorf("%q: answer %q (%v), want %q", tc.send, got, err, tc.want)
		}
	}
}
