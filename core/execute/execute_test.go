package execute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the helper: Start runs it as "sm-exec".
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == HelperName {
		os.Exit(Main(os.Args))
	}
	if os.Getenv(probeEnv) != "" {
		os.Exit(probe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wait reaps pid and returns its wait status.
func wait(t *testing.T, pid int) unix.WaitStatus {
	t.Helper()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		return ws
	}
}

// outFile returns a file for the child's output and a reader of it.
func outFile(t *testing.T, name string) (*os.File, func() string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStartSettings(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	nofile := strconv.FormatUint(min(lim.Max, 512), 10)
	mask := unix.Umask(0)
	unix.Umask(mask)
	sid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	// Fields 19 and 6 of /proc/PID/stat are the nice value and the session.
	const script = `echo "$(umask) $(cut -d' ' -f19 /proc/$$/stat) $(ulimit -n) $(pwd) $$ $(cut -d' ' -f6 /proc/$$/stat)"`
	dir := t.TempDir()
	tests := []struct {
		name string
		spec Spec
		// want lists umask, nice, nofile, cwd and session; "" is not checked,
		// "PID" stands for the pid Start returned.
		want [5]string
	}{
		{
			name: "helper",
			spec: Spec{
				UMask:   ptr(uint32(0o027)),
				Nice:    ptr(7),
				Rlimits: map[int]unix.Rlimit{unix.RLIMIT_NOFILE: {Cur: min(lim.Max, 512), Max: lim.Max}},
				Dir:     dir,
				Setsid:  true,
			},
			want: [5]string{"0027", "7", nofile, dir, "PID"},
		},
		{
			name: "helper keeps session",
			spec: Spec{UMask: ptr(uint32(0o077)), Dir: "/"},
			want: [5]string{"0077", "", "", "/", strconv.Itoa(sid)},
		},
		{
			name: "direct",
			spec: Spec{Dir: dir},
			want: [5]string{fmt.Sprintf("%04o", mask), "", "", dir, strconv.Itoa(sid)},
		},
		{
			name: "direct setsid",
			spec: Spec{Setsid: true},
			want: [5]string{"", "", "", "", "PID"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, read := outFile(t, "out")
			s := tc.spec
			s.Argv = []string{"/bin/sh", "-c", script}
			s.Env = []string{"PATH=/usr/bin:/bin"}
			s.Stdout, s.Stderr = out, out
			pid, err := Start(self(t), &s)
			if err != nil {
				t.Fatal(err)
			}
			if ws := wait(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
				t.Fatalf("status %#x, output %q", ws, read())
			}
			got := strings.Fields(read())
			if len(got) != 6 {
				t.Fatalf("output %q: want 6 fields", got)
			}
			if got[4] != strconv.Itoa(pid) {
				t.Errorf("service pid %s, Start returned %d", got[4], pid)
			}
			got = append(got[:4], got[5])
			for i, name := range []string{"umask", "nice", "nofile", "cwd", "session"} {
				w := tc.want[i]
				if w == "PID" {
					w = strconv.Itoa(pid)
				}
				if w != "" && got[i] != w {
					t.Errorf("%s = %q, want %q", name, got[i], w)
				}
			}
		})
	}
}

func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-binary")
	tests := []struct {
		name     string
		spec     Spec
		code     int    // helper exit code; 0 means Start itself must fail
		stderr   string // line the helper prints
		startErr error
	}{
		{
			name:     "direct exec",
			spec:     Spec{Argv: []string{missing}},
			startErr: unix.ENOENT,
		},
		{
			name:   "helper exec",
			spec:   Spec{Argv: []string{missing}, UMask: ptr(uint32(0o22))},
			code:   ExitExec,
			stderr: "sm-exec: ExecStart=" + missing + ": exec: no such file or directory\n",
		},
		{
			name:   "helper chdir",
			spec:   Spec{Argv: []string{"/bin/true"}, Dir: missing, Nice: ptr(1), Directive: "ExecStartPre"},
			code:   ExitChdir,
			stderr: "sm-exec: ExecStartPre=/bin/true: chdir " + missing + ": no such file or directory\n",
		},
		{
			name:   "helper cgroup",
			spec:   Spec{Argv: []string{"/bin/true"}, Cgroup: missing},
			code:   ExitCgroup,
			stderr: "sm-exec: ExecStart=/bin/true: join cgroup: open " + missing + "/cgroup.procs: no such file or directory\n",
		},
		{
			name: "helper joins fake cgroup",
			spec: Spec{Argv: []string{"/bin/true"}, Cgroup: dir},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errf, read := outFile(t, "stderr")
			s := tc.spec
			s.Stderr = errf
			pid, err := Start(self(t), &s)
			if tc.startErr != nil {
				if !errors.Is(err, tc.startErr) {
					t.Fatalf("Start: %v, want %v", err, tc.startErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ws := wait(t, pid)
			if !ws.Exited() || ws.ExitStatus() != tc.code {
				t.Fatalf("status %#x, want exit %d; stderr %q", ws, tc.code, read())
			}
			if got := read(); got != tc.stderr {
				t.Errorf("stderr %q, want %q", got, tc.stderr)
			}
		})
	}
	if b, _ := os.ReadFile(procs); string(b) != "0" {
		t.Errorf("cgroup.procs = %q, want \"0\"", b)
	}
}

func TestStartExtraFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, s := range []Spec{
		{Argv: []string{"/bin/sh", "-c", "echo direct >&3"}},
		{Argv: []string{"/bin/sh", "-c", "echo helper >&3"}, UMask: ptr(uint32(0o22))},
	} {
		s.ExtraFiles = []*os.File{w}
		pid, err := Start(self(t), &s)
		if err != nil {
			t.Fatal(err)
		}
		if ws := wait(t, pid); ws.ExitStatus() != 0 {
			t.Fatalf("%q: status %#x", s.Argv, ws)
		}
	}
	w.Close()
	b := make([]byte, 64)
	n, _ := r.Read(b)
	if got := string(b[:n]); got != "direct\nhelper\n" {
		t.Errorf("fd 3 got %q", got)
	}
}

func TestStartCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	nobody := uint32(65534)
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"direct", Spec{UID: &nobody, GID: &nobody}, "65534 65534 65534"},
		{"helper", Spec{UID: &nobody, GID: &nobody, Groups: []uint32{65534, 100}}, "65534 65534 65534 100"},
		{"helper no groups", Spec{UID: &nobody, GID: &nobody, UMask: ptr(uint32(0o22))}, "65534 65534 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, read := outFile(t, "out")
			s := tc.spec
			s.Argv = []string{"/bin/sh", "-c", `echo $(id -u) $(id -g) $(id -G)`}
			s.Env = []string{"PATH=/usr/bin:/bin"}
			s.Dir = "/"
			s.Stdout, s.Stderr = out, out
			pid, err := Start(self(t), &s)
			if err != nil {
				t.Fatal(err)
			}
			if ws := wait(t, pid); ws.ExitStatus() != 0 {
				t.Fatalf("status %#x: %s", ws, read())
			}
			if got := strings.TrimSpace(read()); got != tc.want {
				t.Errorf("id: %q, want %q", got, tc.want)
			}
		})
	}
}
