package core

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/cgroup"
)

// A delegated service's cgroup gets its controllers enabled by the
// manager's cgroup and is owned by User=, on a fake cgroupfs.
func TestDelegateCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	root := t.TempDir()
	for name, body := range map[string]string{
		"proc/self/mountinfo":       "1 1 0:1 / /cg rw - cgroup2 none rw\n",
		"proc/self/cgroup":          "0::/\n",
		"cg/cgroup.procs":           "",
		"cg/cgroup.controllers":     "cpu io memory pids\n",
		"cg/cgroup.subtree_control": "",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cg, err := cgroup.Open(cgroup.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, map[string]string{
		"ctr.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\nDelegate = \"io\"\nUser = \"nobody\"\n",
	})
	h.m.cg = cg
	h.request(jobStart, modeReplace, "ctr.service")
	h.advance(time.Second)
	if s := h.state("ctr.service"); s != "active (running)" {
		t.Fatalf("ctr.service %s", s)
	}
	// The fake file keeps the last write; a real one lists them all.
	if b, _ := os.ReadFile(filepath.Join(root, "cg/cgroup.subtree_control")); string(b) != "+io" {
		t.Errorf("cgroup.subtree_control = %q, want +io", b)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "cg/ctr.service"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 65534 {
		t.Errorf("ctr.service's cgroup owned by %d, want nobody (65534)", st.Uid)
	}
}
