package pid1_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core/reap"
)

var smbox string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smbox-init-test")
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

// supervised is init --user running a user-mode manager.
type supervised struct {
	t      testing.TB
	dir    string
	socket string
	cmd    *exec.Cmd
}

func startSupervised(t testing.TB, units map[string]string, liveness string) *supervised {
	t.Helper()
	dir := t.TempDir()
	udir, state := filepath.Join(dir, "units"), filepath.Join(dir, "state")
	wants := filepath.Join(udir, "default.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	units["default.target"] = "[Unit]\nDescription = \"test\"\n"
	for name, body := range units {
		if err := os.WriteFile(filepath.Join(udir, name+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, "[Install]") {
			os.Symlink("../"+name+".toml", filepath.Join(wants, name))
		}
	}
	s := &supervised{t: t, dir: dir, socket: filepath.Join(state, "control.sock")}
	s.cmd = exec.Command(smbox, "init", "--user", "--socket", s.socket, "--liveness", liveness, "--",
		"--user", "--units", udir, "--state", state)
	out, err := os.Create(filepath.Join(dir, "console"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { s.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				s.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "console"))
			t.Logf("console:\n%s", b)
		}
	})
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "manager answers")
	return s
}

type response struct {
	Code  int          `json:"code"`
	Out   string       `json:"out"`
	Err   string       `json:"err"`
	Units []unitStatus `json:"units"`
	raw   []byte
}

func (s *supervised) call(cmd string, units ...string) (response, error) {
	c, err := net.DialTimeout("unix", s.socket, time.Second)
	if err != nil {
		return response{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := json.Marshal(map[string]any{"cmd": cmd, "units": units, "json": true})
	c.Write(append(req, '\n'))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return response{}, err
	}
	r := response{raw: line}
	return r, json.Unmarshal(line, &r)
}

func (s *supervised) waitFor(cond func() bool, what string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type unitStatus struct {
	Name     string `json:"name"`
	Active   string `json:"active"`
	MainPID  int    `json:"main_pid"`
	Restarts int    `json:"restarts"`
}

func (s *supervised) units() map[string]unitStatus {
	s.t.Helper()
	r, err := s.call("list-units")
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]unitStatus{}
	for _, st := range r.Units {
		out[st.Name] = st
	}
	return out
}

// corePID finds the manager: init's child whose argv[0] is "sysmaster"
// (its comm is the binary's name).
func (s *supervised) corePID() int {
	for _, pid := range reap.Children(s.cmd.Process.Pid) {
		argv, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.HasPrefix(string(argv), "sysmaster\x00") {
			return pid
		}
	}
	return 0
}

func (s *supervised) console() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "console"))
	return string(b)
}

// TestCoreKilledManyTimes kills the manager with SIGKILL 100 times at
// random moments while 200 services run: after each restart every service
// keeps its process, none is restarted, and the manager answers.
func TestCoreKilledManyTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	units := map[string]string{}
	for i := 0; i < 200; i++ {
		var body string
		switch i % 4 {
		case 0, 1:
			body = "[Service]\nExecStart = \"/bin/sleep 100000\"\n"
		case 2:
			body = "[Service]\nType = \"notify\"\nNotifyAccess = \"all\"\nExecStart = \"/bin/sh -c '" + smbox + " notify --ready; exec sleep 100000'\"\n"
		case 3:
			body = "[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = \"/bin/true\"\n"
		}
		units[fmt.Sprintf("s%03d.service", i)] = body + "[Install]\nWantedBy = [\"default.target\"]\n"
	}
	s := startSupervised(t, units, "0")
	s.waitFor(func() bool { return s.units()["default.target"].Active == "active" }, "default.target active")
	before := s.units()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100; i++ {
		pid := s.corePID()
		if pid <= 0 {
			t.Fatalf("kill %d: no manager process", i)
		}
		// At random moments: right away, or while it is busy answering.
		time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		go s.call("list-units")
		syscall.Kill(pid, syscall.SIGKILL)
		s.waitFor(func() bool { p := s.corePID(); return p != 0 && p != pid }, "init restarts the manager")
		s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "new manager answers")
	}
	after := s.units()
	for name, b := range before {
		a := after[name]
		if a.Active != b.Active || a.MainPID != b.MainPID || a.Restarts != 0 {
			t.Errorf("%s: before %+v, after %+v", name, b, a)
		}
	}
	if n := strings.Count(s.console(), "restarting it in"); n != 100 {
		t.Errorf("init reported %d restarts, want 100", n)
	}
}

// TestHungCoreIsRestarted stops the manager (SIGSTOP): init's liveness
// check finds it does not answer and restarts it.
func TestHungCoreIsRestarted(t *testing.T) {
	s := startSupervised(t, map[string]string{
		"a.service": "[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n",
	}, "200ms")
	s.waitFor(func() bool { return s.units()["a.service"].Active == "active" }, "a.service active")
	a := s.units()["a.service"]
	pid := s.corePID()
	if pid <= 0 {
		t.Fatal("no manager process")
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	s.waitFor(func() bool { p := s.corePID(); return p != 0 && p != pid }, "hung manager replaced")
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "new manager answers")
	if got := s.units()["a.service"]; got.MainPID != a.MainPID || got.Active != "active" {
		t.Fatalf("a.service %+v, before %+v", got, a)
	}
	if !strings.Contains(s.console(), "does not answer") {
		t.Fatalf("hang not reported:\n%s", s.console())
	}
}

// TestUserInitStopsEverything: SIGTERM to init --user stops the manager,
// which stops its services, and init exits.
func TestUserInitStopsEverything(t *testing.T) {
	s := startSupervised(t, map[string]string{
		"a.service": "[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n",
	}, "0")
	s.waitFor(func() bool { return s.units()["a.service"].Active == "active" }, "a.service active")
	a := s.units()["a.service"]
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("init --user exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("init --user did not exit")
	}
	if err := syscall.Kill(a.MainPID, 0); err == nil {
		t.Fatalf("service %d still runs", a.MainPID)
	}
}

// BenchmarkRecovery measures the time from kill -9 of the manager to a
// new manager answering list-units with every service re-attached, for
// 10, 100 and 1000 running services; the peer is a manager starting the
// same services from nothing, the work a recovery spares.
func BenchmarkRecovery(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			units := map[string]string{}
			for i := 0; i < n; i++ {
				units[fmt.Sprintf("s%04d.service", i)] = "[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n"
			}
			s := startSupervised(b, units, "0")
			s.waitFor(func() bool { return s.units()["default.target"].Active == "active" }, "default.target active")
			var total time.Duration
			for i := 0; i < b.N; i++ {
				pid := s.corePID()
				start := time.Now()
				syscall.Kill(pid, syscall.SIGKILL)
				for {
					// The killed manager cannot answer: any answer is the new one's.
					if r, err := s.call("list-units"); err == nil && bytes.Count(r.raw, []byte(`"active":"active"`)) == n+1 {
						break
					}
					if time.Since(start) > time.Minute {
						b.Fatal("no recovery within a minute")
					}
					time.Sleep(500 * time.Microsecond)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-recover")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestReexecInit re-executes init in place: same pid, same manager, and
// it still supervises (a killed manager is restarted).
func TestReexecInit(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "web.sock")
	late := filepath.Join(t.TempDir(), "late.sock")
	s := startSupervised(t, map[string]string{
		"a.service":   "[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n",
		"web.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n[Install]\nWantedBy = [\"default.target\"]\n", sock),
		"web.service": "[Service]\nExecStart = \"/bin/sleep 100000\"\n",
		// Started only after the manager's re-exec: its socket reaches
		// init's store through the re-executed manager.
		"late.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n", late),
		"late.service": "[Service]\nExecStart = \"/bin/sleep 100000\"\n",
	}, "0")
	s.waitFor(func() bool { return s.units()["a.service"].Active == "active" }, "a.service active")
	s.waitFor(func() bool { return s.units()["web.socket"].Active == "active" }, "web.socket listening")
	core := s.corePID()
	// The manager's own hot upgrade keeps its line to init's fd store.
	if r, err := s.call("daemon-reexec"); err != nil || r.Code != 0 {
		t.Fatalf("daemon-reexec: %+v %v", r, err)
	}
	// The old process answers until it execs: wait for the new one's word.
	s.waitFor(func() bool {
		_, after, ok := strings.Cut(s.console(), "re-executing ")
		return ok && strings.Contains(after, "restored state")
	}, "re-executed manager restored its state")
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "re-executed manager answers")
	if r, err := s.call("start", "late.socket"); err != nil || r.Code != 0 {
		t.Fatalf("start late.socket: %+v %v", r, err)
	}
	if r, err := s.call("reexec-init"); err != nil || r.Code != 0 {
		t.Fatalf("reexec-init: %+v %v", r, err)
	}
	s.waitFor(func() bool { return strings.Contains(s.console(), "re-executed; core is pid "+strconv.Itoa(core)) }, "init re-executed")
	if p := s.corePID(); p != core {
		t.Fatalf("manager pid %d, was %d", p, core)
	}
	// The new init still holds the manager's sockets: with the manager
	// dead, clients queue instead of being refused.
	syscall.Kill(core, syscall.SIGKILL)
	for _, p := range []string{sock, late} {
		if c, err := net.Dial("unix", p); err != nil {
			t.Fatalf("after reexec-init and a crash, %s refused a client: %v", p, err)
		} else {
			c.Close()
		}
	}
	s.waitFor(func() bool { p := s.corePID(); return p != 0 && p != core }, "re-executed init restarts the manager")
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "new manager answers")
	if !strings.Contains(s.console(), "web.socket") || s.units()["web.socket"].Active != "active" {
		t.Fatalf("web.socket not active after the restart: %+v", s.units()["web.socket"])
	}
}

// TestSocketsSurviveCrash: init holds the manager's listening sockets, so
// connecting while the manager is dead or restarting never fails.
func TestSocketsSurviveCrash(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "web.sock")
	s := startSupervised(t, map[string]string{
		"web.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n[Install]\nWantedBy = [\"default.target\"]\n", sock),
		"web.service": "[Service]\nExecStart = \"/bin/sleep 100000\"\n",
	}, "0")
	s.waitFor(func() bool { return s.units()["web.socket"].Active == "active" }, "web.socket listening")
	for i := 0; i < 20; i++ {
		pid := s.corePID()
		if pid <= 0 {
			t.Fatal("no manager process")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		// Straight away, while no manager runs.
		if c, err := net.Dial("unix", sock); err != nil {
			t.Fatalf("kill %d: socket unit refused a client: %v", i, err)
		} else {
			c.Close()
		}
		// A request the dying manager had accepted may be reset; the
		// socket itself must never refuse.
		for try := 0; ; try++ {
			r, err := s.call("ping")
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
				t.Fatalf("kill %d: control socket refused: %v", i, err)
			}
			if err == nil && strings.Contains(r.Out, "pong") {
				break
			}
			if try == 50 {
				t.Fatalf("kill %d: control socket: %+v %v", i, r, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestExitStatusReportedByInit: a service that ends after its manager was
// killed is reaped by init, which tells the new manager its exit status.
func TestExitStatusReportedByInit(t *testing.T) {
	s := startSupervised(t, map[string]string{
		"short.service": "[Service]\nExecStart = \"/bin/sh -c 'sleep 0.5; exit 3'\"\n[Install]\nWantedBy = [\"default.target\"]\n",
	}, "0")
	s.waitFor(func() bool { return s.units()["short.service"].Active == "active" }, "short.service active")
	syscall.Kill(s.corePID(), syscall.SIGKILL)
	s.waitFor(func() bool { return s.units()["short.service"].Active == "failed" }, "short.service failed")
	if !strings.Contains(s.console(), "short.service: main process exited, status=3/FAILURE") {
		t.Fatalf("exit status not carried over:\n%s", s.console())
	}
}

// TestExitWhileNoCoreRuns: a service ends while no manager runs at all
// (the restarted one cannot start); init keeps its exit status and hands
// it to the manager that finally comes up.
func TestExitWhileNoCoreRuns(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	s := startSupervised(t, map[string]string{
		"short.service": fmt.Sprintf("[Service]\nExecStart = \"/bin/sh -c 'while [ ! -e %s ]; do sleep 0.05; done; exit 3'\"\n[Install]\nWantedBy = [\"default.target\"]\n", gate),
	}, "0")
	s.waitFor(func() bool { return s.units()["short.service"].Active == "active" }, "short.service active")
	pid := s.units()["short.service"].MainPID
	udir := filepath.Join(s.dir, "units")
	if err := os.Rename(udir, udir+".off"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(s.corePID(), syscall.SIGKILL)
	s.waitFor(func() bool { return strings.Contains(s.console(), "no unit directory found") }, "the new manager fails to start")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH }, "the service exited and was reaped")
	if err := os.Rename(udir+".off", udir); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "a manager is up again")
	s.waitFor(func() bool { return s.units()["short.service"].Active == "failed" }, "short.service failed")
	if !strings.Contains(s.console(), "short.service: main process exited, status=3/FAILURE") {
		t.Fatalf("exit status not carried over:\n%s", s.console())
	}
}

// TestServiceLogSurvivesCrash: a service that keeps writing to its
// captured output is not killed by a manager crash or a daemon-reexec
// (no broken pipe, even
// with SIGPIPE at its default action), and what it writes afterwards
// reaches the new manager's log.
func TestServiceLogSurvivesCrash(t *testing.T) {
	s := startSupervised(t, map[string]string{
		"talk.service": "[Service]\nExecStart = \"/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.05; done'\"\nIgnoreSIGPIPE = false\n[Install]\nWantedBy = [\"default.target\"]\n",
	}, "0")
	s.waitFor(func() bool { return s.units()["talk.service"].Active == "active" }, "talk.service active")
	pid := s.units()["talk.service"].MainPID
	for i := 0; i < 3; i++ {
		syscall.Kill(s.corePID(), syscall.SIGKILL)
		time.Sleep(300 * time.Millisecond)
		s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "manager back")
	}
	// A hot upgrade hands the pipes over as well.
	if _, err := s.call("daemon-reexec"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	s.waitFor(func() bool { _, err := s.call("ping"); return err == nil }, "manager re-executed")
	time.Sleep(300 * time.Millisecond)
	if got := s.units()["talk.service"]; got.MainPID != pid || got.Active != "active" {
		t.Fatalf("talk.service after the crashes: %+v, want pid %d active", got, pid)
	}
	r, err := s.call("log", "talk.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Out, "tick") {
		t.Fatalf("no output captured after the crashes: %q", r.Out)
	}
}
