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
	"github.com/sysmaster-go/sysmaster/core/notify"
	"github.com/sysmaster-go/sysmaster/core/sctl"
	"github.com/sysmaster-go/sysmaster/units"
)

// self is the test binary, run as a service by the role tests.
func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func role(t *testing.T, r string) string {
	return fmt.Sprintf("ExecStart = %q\nEnvironment = [\"SM_TEST_ROLE=%s\"]\n", self(t), r)
}

const enabled = "[Install]\nWantedBy = [\"default.target\"]\n"

func TestNotifyService(t *testing.T) {
	m := newManager(t, map[string]string{
		"n.service":     "[Service]\nType = \"notify\"\n" + role(t, "notify") + enabled,
		"after.service": "[Unit]\nAfter = [\"n.service\"]\n[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "after") + "\"\n" + enabled,
		"never.service": "[Service]\nType = \"notify\"\nTimeoutStartSec = \"500ms\"\n" + role(t, "notify-never"),
	})
	m.start()
	st := m.status("n.service")
	if st.Active != core.Activating {
		t.Fatalf("before READY=1: %+v", st)
	}
	st = m.waitState("n.service", core.Active)
	if st.Status != "serving" {
		t.Errorf("STATUS = %q, want serving", st.Status)
	}
	// Ordering waits for readiness, not for the fork.
	m.waitState("after.service", core.Inactive)
	if n := len(readLines(t, filepath.Join(m.dir, "log"))); n != 1 {
		t.Fatalf("after.service ran %d times", n)
	}
	if r := m.call("start", "never.service"); r.Code == 0 {
		t.Fatalf("a notify service that never says READY=1 started: %+v", r)
	}
	if st := m.waitState("never.service", core.Failed); st.Result != "timeout" {
		t.Fatalf("never.service result %q, want timeout", st.Result)
	}
	m.stop()
}

func TestNotifyFromOtherProcessRejected(t *testing.T) {
	m := newManager(t, map[string]string{
		"n.service": "[Service]\nType = \"notify\"\nTimeoutStartSec = \"1s\"\n" + role(t, "notify-never"),
	})
	m.start()
	go sctl.Call(m.socket, core.Request{Cmd: "start", Units: []string{"n.service"}})
	m.waitState("n.service", core.Activating)
	// The test process is not the service's main process: ignored.
	if err := notify.Send(filepath.Join(m.state, "notify.sock"), "READY=1"); err != nil {
		t.Fatal(err)
	}
	m.waitState("n.service", core.Failed)
	if !strings.Contains(m.output(), "ignored: not a process allowed to notify") {
		t.Fatalf("foreign notification not reported:\n%s", m.output())
	}
	m.stop()
}

func TestWatchdog(t *testing.T) {
	m := newManager(t, map[string]string{
		"w.service": "[Service]\nType = \"notify\"\nWatchdogSec = \"300ms\"\nRestart = \"on-failure\"\n" + role(t, "watchdog") + enabled,
	})
	m.start()
	m.waitFor(func() bool { return strings.Contains(m.output(), "watchdog timeout") }, "watchdog fires")
	m.stop()
}

func TestSocketActivation(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	m := newManager(t, map[string]string{
		"echo.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n", sock) + "[Install]\nWantedBy = [\"default.target\"]\n",
		"echo.service": "[Service]\n" + role(t, "socket"),
	})
	m.start()
	m.waitState("echo.socket", core.Active)
	if st := m.status("echo.service"); st.Active != core.Inactive {
		t.Fatalf("service started before any client: %+v", st)
	}
	read := func() string {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("read from activated service: %v\n%s", err, m.output())
		}
		return line
	}
	line := read()
	st := m.waitState("echo.service", core.Active)
	if want := fmt.Sprintf("hello from %d (echo)\n", st.MainPID); line != want {
		t.Fatalf("got %q, want %q", line, want)
	}
	// Stopping the service keeps the socket: the next client starts it again.
	if r := m.call("stop", "echo.service"); r.Code != 0 {
		t.Fatal(r)
	}
	if line := read(); !strings.HasPrefix(line, "hello from ") {
		t.Fatalf("after restart: %q", line)
	}
	m.stop()
}

func TestTimers(t *testing.T) {
	m := newManager(t, map[string]string{
		"tick.timer":     "[Timer]\nOnActiveSec = \"100ms\"\nOnUnitActiveSec = \"200ms\"\n" + enabled,
		"tick.service":   "[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "tick") + "\"\n",
		"cal.timer":      "[Timer]\nOnCalendar = \"*:*:0/1\"\nUnit = \"calsvc.service\"\n" + enabled,
		"calsvc.service": "[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "cal") + "\"\n",
	})
	m.start()
	m.waitFor(func() bool {
		n := 0
		for _, l := range readLines(t, filepath.Join(m.dir, "log")) {
			if l == "tick" {
				n++
			}
		}
		return n >= 3
	}, "tick.service started three times by its timer")
	m.waitFor(func() bool {
		return strings.Contains(strings.Join(readLines(t, filepath.Join(m.dir, "log")), " "), "cal")
	},
		"calendar timer fires")
	if st := m.status("tick.timer"); st.Active != core.Active || st.Sub != "waiting" {
		t.Fatalf("tick.timer: %+v", st)
	}
	m.stop()
}

func TestConditionsAndAsserts(t *testing.T) {
	m := newManager(t, map[string]string{
		"cond.service":   "[Unit]\nConditionPathExists = \"/nonexistent\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"notdir.service": "[Unit]\nConditionPathIsDirectory = \"!/\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"ok.service":     "[Unit]\nConditionPathIsDirectory = \"/\"\nConditionKernelCommandLine = \"!sysmaster.nonsense\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"assert.service": "[Unit]\nAssertPathExists = \"/nonexistent\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n",
	})
	m.start()
	m.waitState("ok.service", core.Active)
	m.waitState("default.target", core.Active)
	for _, n := range []string{"cond.service", "notdir.service"} {
		if st := m.status(n); st.Active != core.Inactive {
			t.Errorf("%s: %+v, want skipped", n, st)
		}
	}
	if r := m.call("start", "assert.service"); r.Code == 0 {
		t.Errorf("a failed assertion started the unit")
	}
	if !strings.Contains(m.output(), "assertion AssertPathExists=/nonexistent failed") {
		t.Errorf("assertion not reported:\n%s", m.output())
	}
	m.stop()
}

func TestForkingWithPIDFile(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "d.pid")
	m := newManager(t, map[string]string{
		"d.service": fmt.Sprintf("[Service]\nType = \"forking\"\nPIDFile = %q\nExecStart = \"/bin/sh -c '(sleep 1000 & echo $! > %s) ; exit 0'\"\n", pidfile, pidfile) + enabled,
	})
	m.start()
	st := m.waitState("d.service", core.Active)
	b, _ := os.ReadFile(pidfile)
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); st.MainPID != want || want == 0 {
		t.Fatalf("main pid %d, PIDFile says %q", st.MainPID, b)
	}
	m.call("stop", "d.service")
	m.waitFor(func() bool { return syscall.Kill(st.MainPID, 0) != nil || isZombie(st.MainPID) }, "daemon killed on stop")
	m.stop()
}

func TestStopKillsDoubleForkedProcesses(t *testing.T) {
	dir := t.TempDir()
	// The grandchild is orphaned at once: only the session (or cgroup)
	// still ties it to the service.
	script := filepath.Join(dir, "df.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n(sleep 1000 & echo $! > "+dir+"/gc) &\nexec sleep 1000\n"), 0o755)
	m := newManager(t, map[string]string{
		"df.service": fmt.Sprintf("[Service]\nExecStart = %q\n", "/bin/sh "+script) + enabled,
	})
	m.start()
	m.waitState("df.service", core.Active)
	var gc int
	m.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "gc"))
		gc, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return gc > 0
	}, "grandchild pid")
	m.call("stop", "df.service")
	m.waitFor(func() bool { return syscall.Kill(gc, 0) != nil || isZombie(gc) }, "double-forked grandchild killed on stop")
	m.stop()
}

func TestDependencyKinds(t *testing.T) {
	sleep := "[Service]\nExecStart = \"/bin/sleep 1000\"\n"
	m := newManager(t, map[string]string{
		"base.service":        sleep,
		"req.service":         "[Unit]\nRequires = [\"base.service\"]\nAfter = [\"base.service\"]\n" + sleep,
		"bound.service":       "[Unit]\nBindsTo = [\"base.service\"]\nAfter = [\"base.service\"]\n" + sleep,
		"part.service":        "[Unit]\nPartOf = [\"base.service\"]\n" + sleep,
		"requisite.service":   "[Unit]\nRequisite = [\"base.service\"]\n" + sleep,
		"broken.service":      "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/false\"\n[Unit]\nOnFailure = [\"rescue.service\"]\n",
		"needsbroken.service": "[Unit]\nRequires = [\"broken.service\"]\nAfter = [\"broken.service\"]\n" + sleep,
		"rescue.service":      "[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "rescue") + "\"\n",
		"a.service":           "[Unit]\nConflicts = [\"b.service\"]\n" + sleep,
		"b.service":           sleep,
	})
	m.start()
	// Requisite fails while base is down and does not pull it in.
	if r := m.call("start", "requisite.service"); r.Code == 0 {
		t.Fatalf("requisite started without its requisite: %+v", r)
	}
	if st := m.status("base.service"); st.Active != core.Inactive {
		t.Fatalf("Requisite pulled base in: %+v", st)
	}
	// Requires pulls in, and its failure fails the requirer.
	if r := m.call("start", "req.service", "bound.service", "part.service", "requisite.service"); r.Code != 0 {
		t.Fatalf("start: %+v", r)
	}
	m.waitState("base.service", core.Active)
	// Stopping base stops everything that requires, binds to or is part of it.
	m.call("stop", "base.service")
	for _, n := range []string{"req.service", "bound.service", "part.service"} {
		m.waitState(n, core.Inactive)
	}
	// BindsTo also follows a crash of base.
	m.call("start", "bound.service")
	base := m.waitState("base.service", core.Active)
	syscall.Kill(base.MainPID, syscall.SIGKILL)
	m.waitState("bound.service", core.Inactive)

	if r := m.call("start", "needsbroken.service"); r.Code == 0 {
		t.Fatalf("a unit whose requirement failed started")
	}
	m.waitFor(func() bool {
		return strings.Contains(strings.Join(readLines(t, filepath.Join(m.dir, "log")), " "), "rescue")
	}, "OnFailure unit ran")

	m.call("start", "b.service")
	m.waitState("b.service", core.Active)
	m.call("start", "a.service")
	m.waitState("a.service", core.Active)
	m.waitState("b.service", core.Inactive)
	m.stop()
}

func TestOrderingCycleIsReported(t *testing.T) {
	sleep := "[Service]\nExecStart = \"/bin/sleep 1000\"\n"
	m := newManager(t, map[string]string{
		"x.service": "[Unit]\nAfter = [\"y.service\"]\n" + sleep + enabled,
		"y.service": "[Unit]\nAfter = [\"z.service\"]\n" + sleep + enabled,
		"z.service": "[Unit]\nAfter = [\"x.service\"]\n" + sleep + enabled,
		"a.service": "[Unit]\nRequires = [\"b.service\"]\nAfter = [\"b.service\"]\n" + sleep,
		"b.service": "[Unit]\nRequires = [\"a.service\"]\nAfter = [\"a.service\"]\n" + sleep,
	})
	m.start()
	m.waitState("default.target", core.Active)
	// Only wanted: the start of one unit of the cycle is dropped.
	active := 0
	for _, n := range []string{"x.service", "y.service", "z.service"} {
		if m.status(n).Active == core.Active {
			active++
		}
	}
	if active != 2 {
		t.Errorf("%d of the 3 units in the cycle started, want 2", active)
	}
	out := m.output()
	if !strings.Contains(out, "ordering cycle:") || !strings.Contains(out, "x.service") || !strings.Contains(out, "z.service") {
		t.Fatalf("cycle not reported with its units:\n%s", out)
	}
	// Required both ways: the transaction is refused.
	r := m.call("start", "a.service")
	if r.Code == 0 || !strings.Contains(r.Err, "ordering cycle") {
		t.Fatalf("start of a required cycle: %+v", r)
	}
	if m.status("a.service").Active != core.Inactive || m.status("b.service").Active != core.Inactive {
		t.Fatalf("a refused transaction started units")
	}
	m.stop()
}

func TestEnableDisableAndReload(t *testing.T) {
	m := newManager(t, map[string]string{
		"svc.service":    "[Service]\nExecStart = \"/bin/sleep 1000\"\n[Install]\nWantedBy = [\"multi.target\"]\n",
		"multi.target":   "[Unit]\nDescription = \"multi\"\n",
		"static.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n",
	})
	m.start()
	if r := m.call("is-enabled", "svc.service"); r.Code == 0 || r.Out != "disabled\n" {
		t.Fatalf("is-enabled before enable: %+v", r)
	}
	if r := m.call("is-enabled", "static.service"); r.Code != 0 || r.Out != "static\n" {
		t.Fatalf("is-enabled static: %+v", r)
	}
	if r := m.call("enable", "svc.service"); r.Code != 0 || !strings.Contains(r.Out, "multi.target.wants") {
		t.Fatalf("enable: %+v", r)
	}
	if _, err := os.Lstat(filepath.Join(m.units, "multi.target.wants", "svc.service")); err != nil {
		t.Fatal(err)
	}
	m.call("start", "multi.target")
	m.waitState("svc.service", core.Active)
	if r := m.call("disable", "svc.service"); r.Code != 0 {
		t.Fatalf("disable: %+v", r)
	}
	if r := m.call("is-enabled", "svc.service"); r.Out != "disabled\n" {
		t.Fatalf("is-enabled after disable: %+v", r)
	}
	// daemon-reload picks up a new unit and keeps running ones running.
	before := m.status("svc.service")
	os.WriteFile(filepath.Join(m.units, "new.service.toml"), []byte("[Service]\nExecStart = \"/bin/sleep 1000\"\n"), 0o644)
	if r := m.call("daemon-reload"); r.Code != 0 {
		t.Fatal(r)
	}
	if st := m.status("svc.service"); st.MainPID != before.MainPID || st.Active != core.Active {
		t.Fatalf("reload disturbed a running unit: %+v", st)
	}
	if r := m.call("start", "new.service"); r.Code != 0 {
		t.Fatalf("new unit after reload: %+v", r)
	}
	m.stop()
}

func TestLogCaptureAndStatus(t *testing.T) {
	m := newManager(t, map[string]string{
		"talk.service": "[Service]\nStandardOutput = \"log\"\nExecStart = \"/bin/sh -c 'echo line-one; echo line-two >&2; exec sleep 1000'\"\n" + enabled,
	})
	m.start()
	m.waitState("talk.service", core.Active)
	m.waitFor(func() bool { return strings.Contains(m.call("log", "talk.service").Out, "line-two") }, "log has both lines")
	r := m.call("log", "talk.service")
	if !strings.Contains(r.Out, "line-one") {
		t.Fatalf("log: %q", r.Out)
	}
	// The manager answers data; sctl renders the text.
	st, _ := m.sctl("status", "talk.service")
	if !strings.Contains(st, "line-one") || !strings.Contains(st, "Tasks:") || !strings.Contains(st, "sleep 1000") {
		t.Fatalf("status lacks output or processes:\n%s", st)
	}
	if !strings.Contains(m.output(), "talk.service: line-one") {
		t.Fatalf("output not mirrored to the console:\n%s", m.output())
	}
	m.stop()
}

func TestExecSettings(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=\"yes it is\"\n"), 0o644)
	m := newManager(t, map[string]string{
		"ex.service": fmt.Sprintf("[Service]\nType = \"oneshot\"\nEnvironmentFile = [%q, \"-/nonexistent\"]\nEnvironment = [\"DIRECT=1\"]\nWorkingDirectory = %q\nUMask = \"0077\"\nNice = 5\nLimitNOFILE = 123\nExecStart = \"/bin/sh -c 'echo $FROM_FILE/$DIRECT/$(pwd)/$(umask)/$(ulimit -n)/$(cut -d\\\" \\\" -f19 /proc/self/stat) > out'\"\n", envFile, dir) + enabled,
	})
	m.start()
	m.waitState("default.target", core.Active)
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatalf("%v\n%s", err, m.output())
	}
	if want := "yes it is/1/" + dir + "/0077/123/5\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	m.stop()
}

// A shell script notifies through the notify applet: a short-lived process
// that is not the main one, accepted with NotifyAccess="all".
func TestNotifyFromScript(t *testing.T) {
	m := newManager(t, map[string]string{
		"script.service": fmt.Sprintf("[Service]\nType = \"notify\"\nNotifyAccess = \"all\"\nExecStart = \"/bin/sh -c '%s notify --ready --status=scripted; exec sleep 1000'\"\n", smbox) + enabled,
	})
	m.start()
	if st := m.waitState("script.service", core.Active); st.Status != "scripted" {
		t.Fatalf("status %+v", st)
	}
	m.stop()
}

func TestTemplateInstanceOnDemand(t *testing.T) {
	m := newManager(t, map[string]string{
		"greet@.service": "[Unit]\nDescription = \"greet %i\"\n[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = \"" + fmt.Sprintf(appendTo, "hello-%i-%n") + "\"\n",
	})
	m.start()
	if r := m.call("start", "greet@world.service"); r.Code != 0 {
		t.Fatalf("start instance: %+v", r)
	}
	if got := strings.Join(readLines(t, filepath.Join(m.dir, "log")), " "); got != "hello-world-greet@world.service" {
		t.Fatalf("instance ran %q", got)
	}
	if st := m.status("greet@world.service"); st.Description != "greet world" {
		t.Fatalf("description %q", st.Description)
	}
	m.stop()
}

func TestAccessControl(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	m := newManager(t, map[string]string{"svc.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n"})
	m.start()
	for _, d := range []string{filepath.Dir(m.dir), m.dir, m.state} {
		os.Chmod(d, 0o755)
	}
	os.Chmod(filepath.Dir(smbox), 0o755)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(smbox, append([]string{"sctl", "--socket", m.socket}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("status", "svc.service"); code != 3 || !strings.Contains(out, "inactive") {
		t.Fatalf("status as nobody: %d %q", code, out)
	}
	if out, code := run("start", "svc.service"); code != 4 || !strings.Contains(out, "access denied") {
		t.Fatalf("start as nobody: %d %q", code, out)
	}
	if st := m.status("svc.service"); st.Active != core.Inactive {
		t.Fatalf("nobody started a unit: %+v", st)
	}
	m.stop()
}

func TestMountUnitsAndFstab(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b c")
	fstab := filepath.Join(dir, "fstab")
	os.WriteFile(fstab, []byte("# test\ntmpfs "+strings.ReplaceAll(b, " ", `\040`)+" tmpfs size=1m,nosuid 0 0\nbroken line\n"), 0o644)
	aUnit := units.UnitNameFromPath(a, "mount")
	bUnit := units.UnitNameFromPath(b, "mount")
	m := newManager(t, map[string]string{
		aUnit: fmt.Sprintf("[Mount]\nWhat = \"tmpfs\"\nWhere = %q\nType = \"tmpfs\"\nOptions = \"size=1m,ro\"\n", a) + enabled,
	})
	m.args = []string{"--fstab", fstab}
	m.start()
	m.waitState(aUnit, core.Active)
	m.waitState(bUnit, core.Active)
	if err := os.WriteFile(filepath.Join(a, "x"), nil, 0o644); err == nil {
		t.Errorf("Options=ro not applied")
	}
	if !strings.Contains(m.output(), "fstab:3") {
		t.Errorf("bad fstab line not reported:\n%s", m.output())
	}
	m.stop()
	for _, p := range []string{a, b} {
		if mounted(p) {
			t.Errorf("%s still mounted after shutdown", p)
			syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
}

func mounted(p string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	return strings.Contains(string(b), " "+strings.ReplaceAll(p, " ", `\040`)+" ")
}

func TestSctlQueries(t *testing.T) {
	m := newManager(t, map[string]string{
		"app.service": "[Unit]\nDescription = \"the app\"\nWants = [\"db.service\"]\nAfter = [\"db.service\"]\n[Service]\nExecStart = \"/bin/sleep 1000\"\nExecReload = \"" + fmt.Sprintf(appendTo, "reloaded") + "\"\n" + enabled,
		"db.service":  "[Service]\nExecStart = \"/bin/sleep 1000\"\n",
	})
	os.MkdirAll(filepath.Join(m.units, "app.service.d"), 0o755)
	os.WriteFile(filepath.Join(m.units, "app.service.d", "10-env.toml"), []byte("[Service]\nEnvironment = [\"X=1\"]\n"), 0o644)
	m.start()
	app := m.waitState("app.service", core.Active)
	tests := []struct {
		cmd   string
		units []string
		code  int
		want  []string
	}{
		{"list-dependencies", []string{"default.target"}, 0, []string{"default.target", "  * app.service", "    * db.service"}},
		{"cat", []string{"app.service"}, 0, []string{"# " + filepath.Join(m.units, "app.service.toml"), "Description = \"the app\"", "10-env.toml", "X=1"}},
		{"show", []string{"app.service"}, 0, []string{"Id=app.service", "ActiveState=active", "SubState=running", fmt.Sprintf("MainPID=%d", app.MainPID), "After=db.service", "UnitFileState=enabled"}},
		{"reload", []string{"app.service"}, 0, nil},
		{"reload", []string{"db.service"}, 1, nil},
		{"try-restart", []string{"app.service"}, 0, nil},
		{"is-failed", []string{"app.service"}, 1, []string{"active"}},
	}
	for _, tt := range tests {
		r := m.call(tt.cmd, tt.units...)
		if r.Code != tt.code {
			t.Errorf("%s %v: code %d, want %d (%+v)", tt.cmd, tt.units, r.Code, tt.code, r)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.Out, w) {
				t.Errorf("%s %v: output lacks %q:\n%s", tt.cmd, tt.units, w, r.Out)
			}
		}
	}
	if got := readLines(t, filepath.Join(m.dir, "log")); len(got) != 1 || got[0] != "reloaded" {
		t.Errorf("ExecReload ran: %v", got)
	}
	if st := m.waitState("app.service", core.Active); st.MainPID == app.MainPID {
		t.Errorf("try-restart did not restart app.service")
	}
	r, _ := sctl.Call(m.socket, core.Request{Cmd: "list-units", Type: "service", State: "active"})
	var names []string
	for _, u := range r.Units {
		names = append(names, u.Name)
	}
	if strings.Join(names, " ") != "app.service db.service" {
		t.Errorf("list-units --type service --state active: %v", names)
	}
	if out, _ := m.sctl("list-units", "--type", "service"); !strings.Contains(out, "app.service") || !strings.Contains(out, "units listed.") {
		t.Errorf("sctl list-units:\n%s", out)
	}
	m.stop()
}

func TestDatagramSocketActivation(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "dgram.sock")
	m := newManager(t, map[string]string{
		"dg.socket":  fmt.Sprintf("[Socket]\nListenDatagram = [%q]\nFileDescriptorName = \"dgram\"\n", sock) + enabled,
		"dg.service": fmt.Sprintf("[Service]\nExecStart = \"/bin/sh -c 'echo $LISTEN_FDS:$LISTEN_FDNAMES:$(readlink /proc/$$$$/fd/3 | cut -c1-7) > %s/env; exec sleep 1000'\"\n", dir),
	})
	m.start()
	m.waitState("dg.socket", core.Active)
	if err := notify.Send(sock, "ping"); err != nil {
		t.Fatal(err)
	}
	m.waitState("dg.service", core.Active)
	m.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "env"))
		return string(b) == "1:dgram:socket:\n"
	}, "datagram service got its socket as fd 3")
	m.stop()
}
