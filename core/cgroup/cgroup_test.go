package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hybridMountinfo is a host with cgroup v1 controllers and cgroup2 at
// /sys/fs/cgroup/unified.
const hybridMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mount
		err  bool
	}{
		{name: "hybrid", in: hybridMountinfo, want: []Mount{{Point: "/sys/fs/cgroup/unified", Root: "/"}}},
		{name: "unified", in: "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
			want: []Mount{{Point: "/sys/fs/cgroup", Root: "/"}}},
		{name: "read-only container", in: "700 690 0:26 /docker/abc /sys/fs/cgroup ro,nosuid master:4 - cgroup2 cgroup rw\n",
			want: []Mount{{Point: "/sys/fs/cgroup", Root: "/docker/abc", ReadOnly: true}}},
		{name: "escaped", in: `1 1 0:1 / /mnt/my\040cg rw - cgroup2 none rw` + "\n",
			want: []Mount{{Point: "/mnt/my cg", Root: "/"}}},
		{name: "two", in: "1 1 0:1 / /a rw - cgroup2 none rw\n2 1 0:1 /x /b rw - cgroup2 none rw\n",
			want: []Mount{{Point: "/a", Root: "/"}, {Point: "/b", Root: "/x"}}},
		{name: "v1 only", in: "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"},
		{name: "no separator", in: "1 1 0:1 / /a rw cgroup2 none rw\n", err: true},
		{name: "short", in: "1 1 0:1 / /a\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMountinfo([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "unified", in: "0::/user.slice/user-1000.slice/session-2.scope\n", want: "/user.slice/user-1000.slice/session-2.scope"},
		{name: "hybrid", in: "9:name=systemd:/\n4:memory:/a/b\n0::/\n", want: "/"},
		{name: "v1 only", in: "4:memory:/a\n1:cpu:/\n", err: ErrNoCgroup2},
		{name: "empty", in: "", err: ErrNoCgroup2},
		{name: "relative", in: "0::x\n", err: errors.New("bad")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcCgroup([]byte(tc.in))
			if tc.err != nil {
				if err == nil || (errors.Is(tc.err, ErrNoCgroup2) && !errors.Is(err, ErrNoCgroup2)) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

// fakeFS lays out files (path: contents) under a new root; a path ending
// in "/" is a directory.
func fakeFS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name       string
		mountinfo  string
		cgroup     string
		wantMount  string
		wantOwn    string
		writable   bool
		wantErr    error
		anyErrOnly bool
	}{
		{name: "hybrid root", mountinfo: hybridMountinfo, cgroup: "0::/\n",
			wantMount: "/sys/fs/cgroup/unified", wantOwn: "/sys/fs/cgroup/unified", writable: true},
		{name: "user session", mountinfo: "1 1 0:1 / /sys/fs/cgroup rw - cgroup2 none rw\n", cgroup: "0::/user.slice/u.service\n",
			wantMount: "/sys/fs/cgroup", wantOwn: "/sys/fs/cgroup/user.slice/u.service", writable: true},
		{name: "namespace root", mountinfo: "1 1 0:1 /docker/abc /sys/fs/cgroup ro - cgroup2 none rw\n", cgroup: "0::/docker/abc/x\n",
			wantMount: "/sys/fs/cgroup", wantOwn: "/sys/fs/cgroup/x", writable: false},
		{name: "outside mount", mountinfo: "1 1 0:1 /other /sys/fs/cgroup rw - cgroup2 none rw\n", cgroup: "0::/docker/abc\n",
			wantErr: ErrNoCgroup2},
		{name: "v1 only", mountinfo: hybridMountinfo, cgroup: "4:memory:/\n", wantErr: ErrNoCgroup2},
		{name: "bad mountinfo", mountinfo: "garbage\n", cgroup: "0::/\n", anyErrOnly: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"proc/self/mountinfo": tc.mountinfo, "proc/self/cgroup": tc.cgroup}
			if tc.wantOwn != "" {
				files[tc.wantOwn[1:]+"/cgroup.procs"] = ""
			}
			root := fakeFS(t, files)
			m, err := Open(Options{Root: root})
			if tc.wantErr != nil || tc.anyErrOnly {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Mount() != root+tc.wantMount || m.Own() != root+tc.wantOwn || m.Writable() != tc.writable {
				t.Errorf("got %s %s %v, want %s %s %v", m.Mount(), m.Own(), m.Writable(), root+tc.wantMount, root+tc.wantOwn, tc.writable)
			}
		})
	}
	root := fakeFS(t, map[string]string{"proc/42/mountinfo": hybridMountinfo, "proc/42/cgroup": "0::/a\n"})
	if m, err := Open(Options{Root: root, PID: 42}); err != nil || m.Own() != root+"/sys/fs/cgroup/unified/a" {
		t.Errorf("by pid: %v %v", m, err)
	}
}

// fakeManager returns a Manager on a fake cgroupfs whose own cgroup is the
// hierarchy's root (no cgroup.type) with the given extra files.
func fakeManager(t *testing.T, files map[string]string) *Manager {
	t.Helper()
	all := map[string]string{
		"proc/self/mountinfo":       "1 1 0:1 / /cg rw - cgroup2 none rw\n",
		"proc/self/cgroup":          "0::/\n",
		"cg/cgroup.procs":           "1\n",
		"cg/cgroup.controllers":     "cpuset cpu io memory pids\n",
		"cg/cgroup.subtree_control": "",
	}
	for k, v := range files {
		all[k] = v
	}
	m, err := Open(Options{Root: fakeFS(t, all)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnableControllers(t *testing.T) {
	tests := []struct {
		name  string
		ctrls []string
		want  []string
	}{
		{name: "all available", ctrls: []string{"memory", "pids", "cpu"}, want: []string{"memory", "pids", "cpu"}},
		{name: "some missing", ctrls: []string{"hugetlb", "pids"}, want: []string{"pids"}},
		{name: "none available", ctrls: []string{"hugetlb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, nil)
			got, err := m.EnableControllers(tc.ctrls...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("enabled %v, want %v", got, tc.want)
			}
			// Each write replaces the plain file: the last one is left.
			last := ""
			if len(tc.want) > 0 {
				last = "+" + tc.want[len(tc.want)-1]
			}
			if s := read(t, filepath.Join(m.Own(), "cgroup.subtree_control")); s != last {
				t.Errorf("subtree_control = %q, want %q", s, last)
			}
		})
	}
	m := fakeManager(t, map[string]string{"cg/cgroup.subtree_control": "MISSING"})
	if err := os.Remove(filepath.Join(m.Own(), "cgroup.subtree_control")); err != nil {
		t.Fatal(err)
	}
	if got, err := m.EnableControllers("pids"); err == nil || got != nil {
		t.Errorf("unwritable subtree_control: %v %v", got, err)
	}
}

func TestCreate(t *testing.T) {
	m := fakeManager(t, nil)
	for _, tc := range []struct {
		unit string
		ok   bool
	}{
		{"sshd.service", true},
		{"sshd.service", true}, // reused
		{"", false},
		{"..", false},
		{"a/b", false},
		{LeafName, false},
	} {
		p, err := m.Create(tc.unit)
		if (err == nil) != tc.ok {
			t.Errorf("Create(%q): %v", tc.unit, err)
			continue
		}
		if !tc.ok {
			continue
		}
		if p != filepath.Join(m.Own(), tc.unit) || p != m.Path(tc.unit) {
			t.Errorf("Create(%q) = %s", tc.unit, p)
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			t.Errorf("Create(%q): %v", tc.unit, err)
		}
	}
}

func u64(v uint64) *uint64 { return &v }

func TestSetLimits(t *testing.T) {
	tests := []struct {
		name    string
		files   []string // control files the fake cgroup has
		limits  Limits
		want    map[string]string
		wantErr error
		anyErr  bool
	}{
		{
			name:   "all",
			files:  []string{"memory.max", "cpu.weight", "pids.max"},
			limits: Limits{MemoryMax: u64(64 << 20), CPUWeight: u64(200), TasksMax: u64(Max)},
			want:   map[string]string{"memory.max": "67108864", "cpu.weight": "200", "pids.max": "max"},
		},
		{
			name:   "unset left alone",
			files:  []string{"memory.max", "cpu.weight", "pids.max"},
			limits: Limits{MemoryMax: u64(Max)},
			want:   map[string]string{"memory.max": "max", "cpu.weight": "old", "pids.max": "old"},
		},
		{
			name:    "controller missing",
			files:   []string{"pids.max"},
			limits:  Limits{MemoryMax: u64(1 << 20), TasksMax: u64(10)},
			want:    map[string]string{"pids.max": "10"},
			wantErr: ErrNoController,
		},
		{
			name:   "weight out of range",
			files:  []string{"cpu.weight"},
			limits: Limits{CPUWeight: u64(0)},
			want:   map[string]string{"cpu.weight": "old"},
			anyErr: true,
		},
		{name: "nothing", limits: Limits{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, nil)
			p, err := m.Create("a.service")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(p, f), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err = m.SetLimits(p, tc.limits)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil {
					t.Error("want an error")
				}
			case err != nil:
				t.Error(err)
			}
			for f, want := range tc.want {
				if got := read(t, filepath.Join(p, f)); got != want {
					t.Errorf("%s = %q, want %q", f, got, want)
				}
			}
		})
	}
}

func TestProcsPopulated(t *testing.T) {
	tests := []struct {
		name      string
		procs     string
		events    string
		wantProcs []int
		populated bool
		err       bool
	}{
		{name: "busy", procs: "12\n345\n", events: "populated 1\nfrozen 0\n", wantProcs: []int{12, 345}, populated: true},
		{name: "empty", procs: "", events: "populated 0\nfrozen 0\n", populated: false},
		{name: "child busy", procs: "", events: "populated 1\n", populated: true},
		{name: "bad pid", procs: "12\nx\n", events: "populated 0\n", err: true},
		{name: "no populated line", procs: "", events: "frozen 0\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, map[string]string{"cg/u/cgroup.procs": tc.procs, "cg/u/cgroup.events": tc.events})
			p := m.Path("u")
			pids, err1 := m.Procs(p)
			pop, err2 := m.Populated(p)
			if tc.err {
				if err1 == nil && err2 == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !slices.Equal(pids, tc.wantProcs) || pop != tc.populated {
				t.Errorf("got %v %v, want %v %v", pids, pop, tc.wantProcs, tc.populated)
			}
		})
	}
	m := fakeManager(t, nil)
	if _, err := m.Populated(m.Path("none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing cgroup: %v", err)
	}
}

// startSleep starts a child that lives until killed; the test reaps it.
func startSleep(t *testing.T) int {
	t.Helper()
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "60"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if unix.Kill(pid, unix.SIGKILL) == nil {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
		}
	})
	return pid
}

// reap waits for pid and returns the signal that killed it.
func reap(t *testing.T, pid int) unix.Signal {
	t.Helper()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4 %d: %v", pid, err)
	}
	if !ws.Signaled() {
		t.Fatalf("pid %d: status %#x, not killed by a signal", pid, ws)
	}
	return ws.Signal()
}

// Without cgroup.kill, Kill signals the listed processes of the cgroup and
// of its children; a fake cgroupfs listing real children shows it.
func TestKillFallback(t *testing.T) {
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			a, b := startSleep(t), startSleep(t)
			m := fakeManager(t, map[string]string{
				"cg/u/cgroup.procs":     strconv.Itoa(a) + "\n",
				"cg/u/sub/cgroup.procs": strconv.Itoa(b) + "\n",
			})
			if err := m.Kill(m.Path("u"), sig); err != nil {
				t.Fatal(err)
			}
			for _, pid := range []int{a, b} {
				if got := reap(t, pid); got != sig {
					t.Errorf("pid %d killed by %v, want %v", pid, got, sig)
				}
			}
		})
	}
}

// realManager returns the Manager of the running system, or skips.
func realManager(t *testing.T) *Manager {
	t.Helper()
	m, err := Detect()
	if err != nil {
		t.Skipf("no cgroup2: %v", err)
	}
	if !m.Writable() {
		t.Skipf("cgroup %s is not writable", m.Own())
	}
	return m
}

// realCgroup creates a unit cgroup for this test and removes it afterwards.
func realCgroup(t *testing.T, m *Manager) string {
	t.Helper()
	unit := "sm-test-" + strconv.Itoa(os.Getpid()) + "-" + strings.ReplaceAll(t.Name(), "/", "-") + ".service"
	p, err := m.Create(unit)
	if err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		_ = m.Kill(p, unix.SIGKILL)
		if err := m.Remove(p); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

func TestRealKill(t *testing.T) {
	m := realManager(t)
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGTERM} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			p := realCgroup(t, m)
			pid := startSleep(t)
			if err := m.Attach(p, pid); err != nil {
				t.Fatal(err)
			}
			if pids, err := m.Procs(p); err != nil || !slices.Equal(pids, []int{pid}) {
				t.Fatalf("procs %v %v, want [%d]", pids, err, pid)
			}
			if pop, err := m.Populated(p); err != nil || !pop {
				t.Fatalf("populated %v %v", pop, err)
			}
			if err := m.Kill(p, sig); err != nil {
				t.Fatal(err)
			}
			if got := reap(t, pid); got != sig {
				t.Errorf("killed by %v, want %v", got, sig)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				pop, err := m.Populated(p)
				if err != nil {
					t.Fatal(err)
				}
				if !pop {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("still populated after the process died")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := m.Remove(p); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Remove: %v", err)
			}
		})
	}
}

// A manager whose cgroup holds processes moves them into LeafName.
func TestRealMoveToLeaf(t *testing.T) {
	m := realManager(t)
	p := realCgroup(t, m)
	pid := startSleep(t)
	if err := m.Attach(p, pid); err != nil {
		t.Fatal(err)
	}
	sub, err := Open(Options{PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Own() != p {
		t.Fatalf("own cgroup of %d: %s, want %s", pid, sub.Own(), p)
	}
	if err := sub.moveToLeaf(); err != nil {
		t.Fatal(err)
	}
	if pids, err := sub.Procs(p); err != nil || len(pids) != 0 {
		t.Errorf("left in %s: %v %v", p, pids, err)
	}
	leaf := filepath.Join(p, LeafName)
	if pids, err := sub.Procs(leaf); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("in %s: %v %v, want [%d]", leaf, pids, err, pid)
	}
	if err := sub.Kill(p, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reap(t, pid)
	// Remove takes the leaf with it.
}

// Delegate gives the cgroup directory and the files that build a subtree
// to the service's user, and nothing else.
func TestDelegate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	dir := t.TempDir()
	for _, f := range []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "memory.max"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &Manager{dir: filepath.Dir(dir)}
	if err := m.Delegate(dir, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]uint32{".": 4242, "cgroup.procs": 4242, "cgroup.threads": 4242, "cgroup.subtree_control": 4242, "memory.max": 0} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, f), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want || want != 0 && st.Gid != 4343 {
			t.Errorf("%s owned by %d:%d, want uid %d", f, st.Uid, st.Gid, want)
		}
	}
}
