package core_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/core"
)

// TestSandboxedService starts a unit with sandboxing keys through the
// manager: the helper gets them, the service sees their effect, and the
// runtime directory goes away when the service stops.
func TestSandboxedService(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: ProtectSystem= builds a mount namespace")
	}
	xdg := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	m := newManager(t, map[string]string{
		"boxed.service": `[Service]
ExecStart = "/bin/sh -c 'cd $RUNTIME_DIRECTORY; touch @DIR@/outside 2>> out || echo refused >> out; grep NoNewPrivs /proc/self/status >> out; exec sleep 1000'"
RuntimeDirectory = "boxed"
ProtectSystem = "strict"
NoNewPrivileges = true
[Install]
WantedBy = ["default.target"]
`,
	})
	m.start()
	m.waitState("boxed.service", core.Active)
	out := filepath.Join(xdg, "boxed", "out")
	m.waitFor(func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "NoNewPrivs")
	}, "the service writes its report")
	b, _ := os.ReadFile(out)
	for _, want := range []string{"Read-only file system", "refused", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	if _, err := os.Stat(filepath.Join(m.dir, "outside")); err == nil {
		t.Error("the service wrote outside its ReadWritePaths")
	}
	m.call("stop", "boxed.service")
	m.waitState("boxed.service", core.Inactive)
	if _, err := os.Stat(filepath.Join(xdg, "boxed")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RuntimeDirectory still there after stop: %v", err)
	}
	m.stop()
}

// TestExecCondition checks systemd's rule: a condition command exiting
// 1..254 skips the unit (inactive, not failed); 0 lets it start.
func TestExecCondition(t *testing.T) {
	m := newManager(t, map[string]string{
		"skip.service": "[Service]\nExecCondition = \"/bin/sh -c 'exit 1'\"\nExecStart = \"/bin/sh -c 'echo started > @DIR@/skip'\"\n",
		"go.service":   "[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecCondition = \"/bin/true\"\nExecStart = \"/bin/sh -c 'echo started > @DIR@/go'\"\n",
		"bad.service":  "[Service]\nExecCondition = \"/bin/sh -c 'exit 255'\"\nExecStart = \"/bin/sleep 100\"\n",
	})
	m.start()
	m.call("start", "skip.service", "go.service", "bad.service")
	m.waitState("go.service", core.Active)
	if st := m.waitState("bad.service", core.Failed); st.Result == "success" {
		t.Errorf("bad.service result %q", st.Result)
	}
	if st := m.status("skip.service"); st.Active != core.Inactive || st.Sub != "dead" {
		t.Errorf("skip.service is %s (%s), want inactive (dead)", st.Active, st.Sub)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "skip")); err == nil {
		t.Error("skip.service ran ExecStart")
	}
	if _, err := os.Stat(filepath.Join(m.dir, "go")); err != nil {
		t.Errorf("go.service did not run ExecStart: %v", err)
	}
	m.stop()
}
