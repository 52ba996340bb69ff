package core_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A local user cannot tie up the control socket: its connections beyond
// the limit are refused with a reason, idle ones end, and root still gets
// through meanwhile.
func TestControlSocketLimits(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as another uid")
	}
	m := newManager(t, map[string]string{})
	m.args = []string{"--max-conns-per-uid", "4", "--request-timeout", "1s"}
	m.start()
	// Another user must reach the socket and run a copy of this binary.
	for d := m.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	self, _ := os.Executable()
	bin := filepath.Join(m.dir, "role")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(m.state, 0o755)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SM_TEST_ROLE=hold-conns", "SM_CONNS=6", "SM_SOCKET="+m.socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("role: %q %v", line, err)
	}
	// Root is never counted.
	for i := 0; i < 8; i++ {
		if r := m.call("ping"); r.Code != 0 {
			t.Fatalf("root's ping while another uid holds its connections: %+v", r)
		}
	}
	io.WriteString(stdin, "go\n")
	rest, _ := io.ReadAll(out)
	cmd.Wait()
	lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
	refused, idle := 0, 0
	for _, l := range lines {
		switch {
		case strings.Contains(l, "too many connections from uid 65534 (at most 4 at once)"):
			refused++
		case strings.Contains(l, "no request within 1s"):
			idle++
		default:
			t.Errorf("unexpected answer %q", l)
		}
	}
	if refused != 2 || idle != 4 {
		t.Fatalf("refused %d and timed out %d of 6 connections, want 2 and 4:\n%s", refused, idle, rest)
	}
	if r := m.call("ping"); r.Code != 0 {
		t.Fatalf("manager hurt: %+v", r)
	}
	m.stop()
}
