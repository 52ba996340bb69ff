package core_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/sctl"
)

// copyFile copies src to dst, with extra bytes appended so the copy is a
// different file of the same program.
func copyFile(t *testing.T, src, dst, extra string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.WriteString(extra)
	out.Close()
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func dialLine(t *testing.T, sock string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial %s: %v", sock, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return line
}

// TestDaemonReexec replaces the manager's binary and re-executes it: the
// pid stays, every service keeps its process, the listening sockets never
// close, and the new binary answers.
func TestDaemonReexec(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "smbox")
	copyFile(t, smbox, bin, "")
	sock := filepath.Join(dir, "echo.sock")
	m := newManager(t, map[string]string{
		"long.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"echo.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n", sock) + enabled,
		"echo.service": "[Service]\n" + role(t, "socket"),
		"tick.timer":   "[Timer]\nOnActiveSec = \"50ms\"\n" + enabled,
		"tick.service": "[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "tick") + "\"\n",
	})
	m.binary = bin
	m.start()
	long := m.waitState("long.service", core.Active)
	m.waitState("echo.socket", core.Active)
	m.waitFor(func() bool { return len(readLines(t, filepath.Join(m.dir, "log"))) == 1 }, "timer fired once")
	first := dialLine(t, sock)
	echo := m.waitState("echo.service", core.Active)
	exeBefore, _ := os.Stat(fmt.Sprintf("/proc/%d/exe", m.cmd.Process.Pid))

	copyFile(t, smbox, bin, "new build")
	if r := m.call("daemon-reexec"); r.Code != 0 {
		t.Fatalf("daemon-reexec: %+v", r)
	}
	m.waitFor(func() bool { return strings.Contains(m.output(), "restored state") }, "new binary restored its state")
	exeAfter, _ := os.Stat(fmt.Sprintf("/proc/%d/exe", m.cmd.Process.Pid))
	if os.SameFile(exeBefore, exeAfter) {
		t.Fatalf("the manager still runs the old binary")
	}
	for name, want := range map[string]int{"long.service": long.MainPID, "echo.service": echo.MainPID} {
		if st := m.status(name); st.MainPID != want || st.Active != core.Active {
			t.Errorf("%s after reexec: %+v, want pid %d", name, st, want)
		}
	}
	if line := dialLine(t, sock); line != first {
		t.Errorf("after reexec the service answers %q, before %q", line, first)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(readLines(t, filepath.Join(m.dir, "log"))); n != 1 {
		t.Errorf("the timer fired %d times: its last trigger was lost", n)
	}
	// The service stays a child of the manager: its exit is seen.
	syscall.Kill(long.MainPID, syscall.SIGKILL)
	m.waitState("long.service", core.Failed)
	m.stop()
}

// TestCrashedManagerReopensSockets: after kill -9 a new manager listens
// on the socket units' addresses again.
func TestCrashedManagerReopensSockets(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	m := newManager(t, map[string]string{
		"echo.socket":  fmt.Sprintf("[Socket]\nListenStream = [%q]\n", sock) + enabled,
		"echo.service": "[Service]\n" + role(t, "socket"),
	})
	m.start()
	m.waitState("echo.socket", core.Active)
	m.kill9()
	m.start()
	if line := dialLine(t, sock); !strings.HasPrefix(line, "hello from ") {
		t.Fatalf("after a crash: %q", line)
	}
	m.stop()
}

// TestCorruptStateIsRebuilt: a torn or truncated record is reported and
// rebuilt from the running process, which is re-attached, not restarted.
func TestCorruptStateIsRebuilt(t *testing.T) {
	m := newManager(t, map[string]string{
		"long.service": "[Service]\nExecStart = \"/bin/sh -c 'exec sleep 1000'\"\n" + enabled,
		"two.service":  "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
	})
	m.start()
	long := m.waitState("long.service", core.Active)
	two := m.waitState("two.service", core.Active)
	m.waitState("default.target", core.Active)
	m.kill9()
	os.WriteFile(filepath.Join(m.state, "units", "long.service.json"), []byte(`{"state":"act`), 0o600)
	os.WriteFile(filepath.Join(m.state, "units", "two.service.json"), []byte("\x00\x00garbage"), 0o600)
	m.start()
	for name, want := range map[string]int{"long.service": long.MainPID, "two.service": two.MainPID} {
		if st := m.status(name); st.Active != core.Active || st.MainPID != want {
			t.Errorf("%s: %+v, want pid %d", name, st, want)
		}
	}
	if !strings.Contains(m.output(), "state of long.service unusable") || !strings.Contains(m.output(), "rebuilt: main process") {
		t.Errorf("corruption not reported:\n%s", m.output())
	}
	// The bad records were replaced by good ones.
	b, _ := os.ReadFile(filepath.Join(m.state, "units", "long.service.json"))
	if !strings.Contains(string(b), fmt.Sprintf(`"main_pid":%d`, long.MainPID)) {
		t.Errorf("record not rewritten: %q", b)
	}
	m.stop()
}

// TestJobsInFlightAreReplanned kills the manager in the middle of a start
// (ExecStartPre running) and of a stop (ExecStop running): the next
// manager finishes both.
func TestJobsInFlightAreReplanned(t *testing.T) {
	m := newManager(t, map[string]string{
		"slowstart.service": "[Service]\nExecStartPre = \"/bin/sleep 0.5\"\nExecStart = \"/bin/sleep 1000\"\n",
		"slowstop.service":  "[Service]\nExecStart = \"/bin/sleep 1000\"\nExecStop = \"/bin/sleep 0.5\"\n" + enabled,
	})
	m.start()
	m.waitState("slowstop.service", core.Active)
	go sctl.Call(m.socket, core.Request{Cmd: "start", Units: []string{"slowstart.service"}})
	go sctl.Call(m.socket, core.Request{Cmd: "stop", Units: []string{"slowstop.service"}})
	m.waitState("slowstart.service", core.Activating)
	m.waitState("slowstop.service", core.Deactivating)
	m.kill9()
	m.start()
	m.waitState("slowstart.service", core.Active)
	m.waitState("slowstop.service", core.Inactive)
	if !strings.Contains(m.output(), "re-planning the start") || !strings.Contains(m.output(), "re-planning the stop") {
		t.Fatalf("re-planning not reported:\n%s", m.output())
	}
	m.stop()
}

// TestUnitFilesChangedWhileDown: a manager restarted after a crash resumes
// at once with the units it had, then notices the files changed and
// reads them again.
func TestUnitFilesChangedWhileDown(t *testing.T) {
	m := newManager(t, map[string]string{
		"a.service": "[Unit]\nDescription = \"first\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
	})
	m.start()
	m.waitState("a.service", core.Active)
	m.kill9()
	body := "[Unit]\nDescription = \"second\"\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled
	if err := os.WriteFile(filepath.Join(m.units, "a.service.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	m.waitFor(func() bool { return m.status("a.service").Description == "second" }, "the changed unit file read")
	if !strings.Contains(m.output(), "unit files changed while the manager was down; reloading") {
		t.Error("the reload is not reported")
	}
	m.stop()
}
