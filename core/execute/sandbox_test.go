package execute

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units"
)

// probeEnv makes the test binary a probe run as the service: it makes one
// system call and prints its result, so a test sees from inside the
// service what a setting did.
const probeEnv = "SM_TEST_PROBE"

func probe(args []string) int {
	errno := func(err error) int {
		if err == nil {
			fmt.Println("ok")
			return 0
		}
		var e unix.Errno
		if errors.As(err, &e) {
			fmt.Println(unix.ErrnoName(e))
		} else {
			fmt.Println(err)
		}
		return 0
	}
	switch args[0] {
	case "unshare-net":
		return errno(unix.Unshare(unix.CLONE_NEWNET))
	case "socket-inet":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		unix.Close(fd)
		return errno(err)
	case "socket-unix":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		unix.Close(fd)
		return errno(err)
	case "mmap-wx":
		_, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
		return errno(err)
	case "mmap-x":
		_, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
		return errno(err)
	case "personality":
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0008, 0, 0)
		if e != 0 {
			return errno(e)
		}
		return errno(nil)
	case "chmod-suid":
		return errno(unix.Chmod(args[1], 0o4755))
	case "sched-fifo":
		return errno(unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}, 0))
	case "settime":
		// Setting the clock to what it is: harmless when it is allowed.
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return errno(err)
		}
		return errno(unix.ClockSettime(unix.CLOCK_REALTIME, &ts))
	case "mount":
		return errno(unix.Mount("none", "/nonexistent-mount-point", "tmpfs", 0, ""))
	case "securebits":
		n, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
		if err != nil {
			return errno(err)
		}
		fmt.Println(n)
		return 0
	case "ioprio":
		const ioprioWhoProcess = 1
		n, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, 0, 0)
		if e != 0 {
			return errno(e)
		}
		fmt.Printf("class %d prio %d\n", n>>13, n&0x1fff)
		return 0
	case "interfaces":
		ifs, err := net.Interfaces()
		if err != nil {
			return errno(err)
		}
		for _, i := range ifs {
			fmt.Println(i.Name, i.Flags&net.FlagUp != 0)
		}
		return 0
	}
	fmt.Println("unknown probe", args[0])
	return 2
}

// sandboxed runs argv under sb (with user uid when not nil) and returns
// its output and wait status.
func sandboxed(t *testing.T, s units.Sandbox, uid *uint32, argv ...string) (string, unix.WaitStatus) {
	t.Helper()
	roots := testRoots(t)
	sb, env, err := NewSandbox("probe.service", &s, roots)
	if err != nil {
		t.Fatal(err)
	}
	out, read := outFile(t, "out")
	spec := &Spec{Argv: argv, Env: append([]string{probeEnv + "=1", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, env...),
		Dir: "/", Stdout: out, Stderr: out, Sandbox: sb}
	if spec.Sandbox == nil {
		spec.Sandbox = &Sandbox{} // still go through the helper
	}
	if uid != nil {
		gid := *uid
		spec.UID, spec.GID, spec.Groups = uid, &gid, []uint32{gid}
	}
	pid, err := Start(self(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	ws := wait(t, pid)
	return strings.TrimSpace(read()), ws
}

func testRoots(t *testing.T) Roots {
	d := t.TempDir()
	// Services running as another user must reach their directories.
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := Roots{Runtime: d + "/run", State: d + "/lib", Cache: d + "/cache", Logs: d + "/log", Configuration: d + "/etc",
		Tmp: d + "/tmp", Stage: d + "/stage"}
	for _, p := range []string{r.Runtime, r.Tmp} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts, capabilities and other users")
	}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

const nobody = 65534

// mountOpts prints the options of the mount at path as the service sees it.
func mountOpts(path string) string {
	return fmt.Sprintf(`awk '$5=="%s"{o=$6} END{print o}' /proc/self/mountinfo`, path)
}

func TestSandboxSettings(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(host+"/ro", 0o755); err != nil {
		t.Fatal(err)
	}
	write(host+"/ro/f", "x")
	if err := os.MkdirAll(host+"/hidden", 0o755); err != nil {
		t.Fatal(err)
	}
	write(host+"/hidden/secret", "secret")
	write(host+"/secret-file", "secret")
	if err := os.MkdirAll(host+"/src", 0o755); err != nil {
		t.Fatal(err)
	}
	write(host+"/src/seen", "bound")
	if err := os.MkdirAll(host+"/dst", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(host+"/rw", 0o755); err != nil {
		t.Fatal(err)
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	if err := os.WriteFile(host+"/ro/script", []byte("#!/bin/sh\necho ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The bounding set to expect when CAP_SYS_ADMIN is taken out of ours.
	bnd, err := strconv.ParseUint(statusField(t, "CapBnd"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	noAdmin := fmt.Sprintf("CapBnd:\t%016x", bnd&^(1<<21))
	hostUTS, _ := os.Readlink("/proc/self/ns/uts")

	tests := []struct {
		name string
		s    units.Sandbox
		uid  *uint32
		argv []string
		want string // the output must contain this
		not  string // and must not contain this
	}{
		{"RuntimeDirectory owned by User with mode", units.Sandbox{RuntimeDirectory: units.List{"app"}, RuntimeDirectoryMode: ptr(units.FileMode(0o750))},
			ptr(uint32(nobody)), sh(`stat -c '%a %u' "$RUNTIME_DIRECTORY"`), "750 65534", ""},
		{"StateDirectory nested", units.Sandbox{StateDirectory: units.List{"app/db"}}, ptr(uint32(nobody)),
			sh(`stat -c '%a %u' "$STATE_DIRECTORY"; touch "$STATE_DIRECTORY/w" && echo writable`), "755 65534\nwritable", ""},
		{"ConfigurationDirectory stays root's", units.Sandbox{ConfigurationDirectory: units.List{"app"}}, ptr(uint32(nobody)),
			sh(`stat -c '%u' "$CONFIGURATION_DIRECTORY"`), "0", ""},
		{"PrivateTmp hides the host's /tmp", units.Sandbox{PrivateTmp: true}, nil,
			sh(`ls -A /tmp | wc -l; test -e ` + host + ` && echo host-visible; touch /tmp/inside && echo wrote`), "0\nwrote", "host-visible"},
		{"ProtectSystem=strict", units.Sandbox{ProtectSystem: "strict", ReadWritePaths: units.List{host + "/rw"}}, nil,
			sh(`touch /usr/sm-probe 2>&1; touch ` + host + `/x 2>&1; touch ` + host + `/rw/y && echo rw-ok`), "Read-only file system", ""},
		{"ProtectSystem=strict ReadWritePaths", units.Sandbox{ProtectSystem: "strict", ReadWritePaths: units.List{host + "/rw"}}, nil,
			sh(`touch ` + host + `/rw/y && echo rw-ok`), "rw-ok", ""},
		{"ProtectSystem=yes", units.Sandbox{ProtectSystem: "yes"}, nil, sh(mountOpts("/usr") + "; " + mountOpts("/etc")), "ro", ""},
		{"ProtectSystem=full", units.Sandbox{ProtectSystem: "full"}, nil, sh(mountOpts("/etc")), "ro", ""},
		{"ProtectHome=yes", units.Sandbox{ProtectHome: "yes"}, nil, sh(`ls -A /root | wc -l; ` + mountOpts("/root")), "0\nro", ""},
		{"ProtectHome=read-only", units.Sandbox{ProtectHome: "read-only"}, nil, sh(mountOpts("/root")), "ro", ""},
		{"ProtectHome=tmpfs", units.Sandbox{ProtectHome: "tmpfs"}, nil, sh(`awk '$5=="/root"{print $9}' /proc/self/mountinfo`), "tmpfs", ""},
		{"ReadOnlyPaths", units.Sandbox{ReadOnlyPaths: units.List{host + "/ro"}}, nil,
			sh(`cat ` + host + `/ro/f; echo; touch ` + host + `/ro/g 2>&1`), "x\ntouch:", ""},
		{"ReadOnlyPaths missing with -", units.Sandbox{ReadOnlyPaths: units.List{"-/nonexistent/sm"}}, nil, sh(`echo started`), "started", ""},
		{"InaccessiblePaths directory", units.Sandbox{InaccessiblePaths: units.List{host + "/hidden"}}, ptr(uint32(nobody)),
			sh(`ls ` + host + `/hidden 2>&1`), "Permission denied", "secret"},
		{"InaccessiblePaths file", units.Sandbox{InaccessiblePaths: units.List{host + "/secret-file"}}, nil,
			sh(`cat ` + host + `/secret-file; echo end`), "end", "secret"},
		{"TemporaryFileSystem", units.Sandbox{TemporaryFileSystem: units.List{host + "/hidden:ro"}}, nil,
			sh(`ls -A ` + host + `/hidden | wc -l; touch ` + host + `/hidden/x 2>&1`), "0\ntouch:", "secret"},
		{"BindPaths", units.Sandbox{BindPaths: units.List{host + "/src:" + host + "/dst"}}, nil,
			sh(`cat ` + host + `/dst/seen`), "bound", ""},
		{"BindReadOnlyPaths", units.Sandbox{BindReadOnlyPaths: units.List{host + "/src:" + host + "/dst"}}, nil,
			sh(`cat ` + host + `/dst/seen; echo; touch ` + host + `/dst/x 2>&1`), "bound\ntouch:", ""},
		{"PrivateDevices", units.Sandbox{PrivateDevices: true}, nil,
			sh(`ls /dev | tr '\n' ' '; echo; echo hi > /dev/null && echo null-ok; grep CapBnd /proc/self/status`), "null-ok", "kmsg"},
		{"ProtectKernelTunables", units.Sandbox{ProtectKernelTunables: true}, nil, sh(mountOpts("/proc/sys") + "; " + mountOpts("/sys")), "ro", "rw"},
		{"ProtectKernelModules", units.Sandbox{ProtectKernelModules: true}, nil, sh(`ls -A /lib/modules 2>/dev/null | wc -l; grep CapBnd /proc/self/status`), "0", ""},
		{"ProtectKernelLogs", units.Sandbox{ProtectKernelLogs: true}, nil, sh(`head -c 1 /dev/kmsg | wc -c`), "0", ""},
		{"ProtectControlGroups", units.Sandbox{ProtectControlGroups: true}, nil, sh(mountOpts("/sys/fs/cgroup")), "ro", ""},
		{"ProtectProc=invisible", units.Sandbox{ProtectProc: "invisible"}, ptr(uint32(nobody)), sh(`test -e /proc/1 && echo pid1-visible; echo done`), "done", "pid1-visible"},
		{"ProtectClock", units.Sandbox{ProtectClock: true}, nil, []string{self(t), "settime"}, "EPERM", ""},
		{"ProtectHostname", units.Sandbox{ProtectHostname: true}, nil, sh(`readlink /proc/self/ns/uts`), "uts:", hostUTS},
		{"PrivateNetwork", units.Sandbox{PrivateNetwork: true}, nil, []string{self(t), "interfaces"}, "lo true", "eth"},
		{"PrivateNetwork namespace", units.Sandbox{PrivateNetwork: true}, nil, sh(`readlink /proc/self/ns/net`), "net:", hostNet},
		{"PrivateUsers", units.Sandbox{PrivateUsers: true}, ptr(uint32(nobody)), sh(`cat /proc/self/uid_map | tr -s ' ' | tr '\n' ';'`), "0 0 1; 65534 65534 1;", ""},
		{"PrivateMounts", units.Sandbox{PrivateMounts: true}, nil, sh(`readlink /proc/self/ns/mnt`), "mnt:", hostMnt},
		{"ProcSubset=pid", units.Sandbox{ProcSubset: "pid"}, nil, sh(`test -e /proc/sys && echo sys-visible; test -e /proc/self/status && echo self-visible`), "self-visible", "sys-visible"},
		{"NoExecPaths", units.Sandbox{NoExecPaths: units.List{host}}, nil, sh(host + `/ro/script 2>&1`), "Permission denied", "ran"},
		{"ExecPaths under NoExecPaths", units.Sandbox{NoExecPaths: units.List{host}, ExecPaths: units.List{host + "/ro"}}, nil, sh(host + `/ro/script 2>&1`), "ran", ""},
		{"IOSchedulingClass", units.Sandbox{IOSchedulingClass: "best-effort", IOSchedulingPriority: ptr(6)}, nil, []string{self(t), "ioprio"}, "class 2 prio 6", ""},
		{"IOSchedulingClass idle", units.Sandbox{IOSchedulingClass: "idle"}, nil, []string{self(t), "ioprio"}, "class 3 prio 0", ""},
		{"NoNewPrivileges", units.Sandbox{NoNewPrivileges: true}, nil, sh(`grep NoNewPrivs /proc/self/status`), "NoNewPrivs:\t1", ""},
		{"CapabilityBoundingSet", units.Sandbox{CapabilityBoundingSet: units.List{"CAP_NET_BIND_SERVICE CAP_CHOWN"}}, nil,
			sh(`grep -E 'CapBnd|CapEff' /proc/self/status`), "CapEff:\t0000000000000401\nCapBnd:\t0000000000000401", ""},
		{"CapabilityBoundingSet ~", units.Sandbox{CapabilityBoundingSet: units.List{"~CAP_SYS_ADMIN"}}, nil,
			sh(`grep CapBnd /proc/self/status`), noAdmin, ""},
		{"AmbientCapabilities for User", units.Sandbox{AmbientCapabilities: units.List{"CAP_NET_BIND_SERVICE"}}, ptr(uint32(nobody)),
			sh(`grep -E 'CapEff|CapAmb' /proc/self/status`), "CapEff:\t0000000000000400\nCapAmb:\t0000000000000400", ""},
		{"SecureBits", units.Sandbox{SecureBits: units.List{"noroot noroot-locked"}}, nil, []string{self(t), "securebits"}, "3", ""},
		{"OOMScoreAdjust", units.Sandbox{OOMScoreAdjust: ptr(500)}, nil, sh(`cat /proc/self/oom_score_adj`), "500", ""},
		{"CPUSchedulingPolicy", units.Sandbox{CPUSchedulingPolicy: "batch"}, nil, sh(`awk '{print $41}' /proc/self/stat`), "3", ""},
		{"CPUSchedulingPolicy fifo", units.Sandbox{CPUSchedulingPolicy: "fifo", CPUSchedulingPriority: ptr(5)}, nil, sh(`awk '{print $41, $40}' /proc/self/stat`), "1 5", ""},
		{"SystemCallFilter deny errno", units.Sandbox{SystemCallFilter: units.List{"~@mount"}, SystemCallErrorNumber: "EPERM"}, nil,
			[]string{self(t), "mount"}, "EPERM", ""},
		{"SystemCallFilter allow list", units.Sandbox{SystemCallFilter: units.List{"@system-service"}, SystemCallErrorNumber: "EACCES"}, nil,
			[]string{self(t), "mount"}, "EACCES", ""},
		{"SystemCallFilter allow list admits its own", units.Sandbox{SystemCallFilter: units.List{"@system-service"}}, nil,
			[]string{self(t), "socket-inet"}, "ok", ""},
		{"RestrictAddressFamilies", units.Sandbox{RestrictAddressFamilies: units.List{"AF_UNIX"}}, nil, []string{self(t), "socket-inet"}, "EAFNOSUPPORT", ""},
		{"RestrictAddressFamilies admits", units.Sandbox{RestrictAddressFamilies: units.List{"AF_UNIX"}}, nil, []string{self(t), "socket-unix"}, "ok", ""},
		{"RestrictNamespaces", units.Sandbox{RestrictNamespaces: "yes"}, nil, []string{self(t), "unshare-net"}, "EPERM", ""},
		{"RestrictNamespaces allowed", units.Sandbox{RestrictNamespaces: "net"}, nil, []string{self(t), "unshare-net"}, "ok", ""},
		{"RestrictRealtime", units.Sandbox{RestrictRealtime: true}, nil, []string{self(t), "sched-fifo"}, "EPERM", ""},
		{"RestrictSUIDSGID", units.Sandbox{RestrictSUIDSGID: true}, nil, []string{self(t), "chmod-suid", host + "/ro/f"}, "EPERM", ""},
		{"MemoryDenyWriteExecute", units.Sandbox{MemoryDenyWriteExecute: true}, nil, []string{self(t), "mmap-wx"}, "EPERM", ""},
		{"MemoryDenyWriteExecute admits r-x", units.Sandbox{MemoryDenyWriteExecute: true}, nil, []string{self(t), "mmap-x"}, "ok", ""},
		{"LockPersonality", units.Sandbox{LockPersonality: true}, nil, []string{self(t), "personality"}, "EPERM", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ws := sandboxed(t, tt.s, tt.uid, tt.argv...)
			if !ws.Exited() {
				t.Fatalf("not exited: %v; output:\n%s", ws, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
			if tt.not != "" && strings.Contains(out, tt.not) {
				t.Errorf("output contains %q:\n%s", tt.not, out)
			}
		})
	}
}

// statusField returns a field of this process's /proc/self/status.
func statusField(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return ""
}

// TestSystemCallFilterKills checks the default action: a call outside an
// allow list kills the service with SIGSYS, as systemd's.
func TestSystemCallFilterKills(t *testing.T) {
	out, ws := sandboxed(t, units.Sandbox{SystemCallFilter: units.List{"@system-service", "~@network-io"}}, nil, self(t), "socket-inet")
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("status %v, want killed by SIGSYS; output:\n%s", ws, out)
	}
}

// TestSandboxFailure checks that a setting that cannot be applied fails
// the start with systemd's exit code and a line naming the cause.
func TestSandboxFailure(t *testing.T) {
	needRoot(t)
	out, ws := sandboxed(t, units.Sandbox{ReadOnlyPaths: units.List{"/nonexistent/sm-path"}}, nil, "/bin/true")
	if !ws.Exited() || ws.ExitStatus() != ExitNamespace {
		t.Fatalf("status %v, want exit %d; output:\n%s", ws, ExitNamespace, out)
	}
	if !strings.Contains(out, "/nonexistent/sm-path") {
		t.Errorf("error does not name the path:\n%s", out)
	}
}

// TestPrivateTmpShared checks that the unit's processes share one private
// /tmp and that Cleanup removes it.
func TestPrivateTmpShared(t *testing.T) {
	needRoot(t)
	roots := testRoots(t)
	s := units.Sandbox{PrivateTmp: true, RuntimeDirectory: units.List{"app"}}
	run := func(script string) string {
		sb, env, err := NewSandbox("shared.service", &s, roots)
		if err != nil {
			t.Fatal(err)
		}
		out, read := outFile(t, fmt.Sprint("out", time.Now().UnixNano()))
		pid, err := Start(self(t), &Spec{Argv: sh(script), Env: env, Stdout: out, Stderr: out, Sandbox: sb})
		if err != nil {
			t.Fatal(err)
		}
		if ws := wait(t, pid); ws.ExitStatus() != 0 {
			t.Fatalf("%s: %v: %s", script, ws, read())
		}
		return read()
	}
	run("echo pre > /tmp/shared")
	if got := run("cat /tmp/shared"); strings.TrimSpace(got) != "pre" {
		t.Errorf("second process sees %q in /tmp/shared, want pre", got)
	}
	if err := Cleanup("shared.service", &s, roots, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(roots.Tmp, "sysmaster-private-shared.service"), filepath.Join(roots.Runtime, "app")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Cleanup: %v", p, err)
		}
	}
}

// TestSandboxUserMode runs the user-mode table as an unprivileged user:
// as root, by running this test binary again as nobody.
func TestSandboxUserMode(t *testing.T) {
	if os.Geteuid() == 0 {
		dir := t.TempDir()
		for _, p := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		bin := filepath.Join(dir, "execute.test")
		data, err := os.ReadFile(self(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "tmp")
		if err := os.Mkdir(tmp, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tmp, 0o777); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run", "^TestSandboxUserMode$", "-test.v")
		cmd.Dir = tmp
		cmd.Env = []string{"HOME=" + tmp, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestSandboxUserMode") {
			t.Fatalf("the user-mode run did not pass:\n%s", out)
		}
		return
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces are off: mount settings cannot work unprivileged")
	}
	host := t.TempDir()
	if err := os.WriteFile(host+"/f", []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostUTS, _ := os.Readlink("/proc/self/ns/uts")
	tests := []struct {
		name      string
		s         units.Sandbox
		argv      []string
		want, not string
	}{
		{"RuntimeDirectory", units.Sandbox{RuntimeDirectory: units.List{"app"}}, sh(`test -d "$RUNTIME_DIRECTORY" && echo made`), "made", ""},
		{"PrivateTmp", units.Sandbox{PrivateTmp: true}, sh(`ls -A /tmp | wc -l`), "0", ""},
		{"ProtectSystem=strict", units.Sandbox{ProtectSystem: "strict"}, sh(`touch ` + host + `/x 2>&1; true`), "Read-only file system", ""},
		{"ReadOnlyPaths", units.Sandbox{ReadOnlyPaths: units.List{host}}, sh(`touch ` + host + `/x 2>&1; true`), "Read-only file system", ""},
		{"InaccessiblePaths", units.Sandbox{InaccessiblePaths: units.List{host}}, sh(`cat ` + host + `/f 2>&1; true`), "Permission denied", "secret"},
		{"TemporaryFileSystem", units.Sandbox{TemporaryFileSystem: units.List{host}}, sh(`ls -A ` + host + ` | wc -l`), "0", ""},
		{"PrivateDevices", units.Sandbox{PrivateDevices: true}, sh(`ls /dev | wc -l; echo x > /dev/null && echo null-ok`), "null-ok", ""},
		{"ProtectKernelTunables", units.Sandbox{ProtectKernelTunables: true}, sh(mountOpts("/proc/sys")), "ro", ""},
		{"ProtectHostname", units.Sandbox{ProtectHostname: true}, sh(`readlink /proc/self/ns/uts`), "uts:", hostUTS},
		{"PrivateNetwork", units.Sandbox{PrivateNetwork: true}, []string{self(t), "interfaces"}, "lo true", "eth"},
		{"ProtectClock", units.Sandbox{ProtectClock: true}, []string{self(t), "settime"}, "EPERM", ""},
		{"NoNewPrivileges", units.Sandbox{NoNewPrivileges: true}, sh(`grep NoNewPrivs /proc/self/status`), "NoNewPrivs:\t1", ""},
		{"SystemCallFilter", units.Sandbox{SystemCallFilter: units.List{"~@mount"}, SystemCallErrorNumber: "EPERM"}, []string{self(t), "mount"}, "EPERM", ""},
		{"RestrictAddressFamilies", units.Sandbox{RestrictAddressFamilies: units.List{"AF_UNIX"}}, []string{self(t), "socket-inet"}, "EAFNOSUPPORT", ""},
		{"MemoryDenyWriteExecute", units.Sandbox{MemoryDenyWriteExecute: true}, []string{self(t), "mmap-wx"}, "EPERM", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ws := sandboxed(t, tt.s, nil, tt.argv...)
			if !ws.Exited() || ws.ExitStatus() != 0 {
				t.Fatalf("status %v; output:\n%s", ws, out)
			}
			if !strings.Contains(out, tt.want) || (tt.not != "" && strings.Contains(out, tt.not)) {
				t.Errorf("output %q: want %q, not %q", out, tt.want, tt.not)
			}
		})
	}
}

// TestIgnoreSIGPIPE checks SIGPIPE's disposition in the service: ignored
// when the manager ignores it, on the direct and the helper path alike,
// and the default action with DefaultSIGPIPE.
func TestIgnoreSIGPIPE(t *testing.T) {
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	ignored := func(spec *Spec) bool {
		out, read := outFile(t, fmt.Sprint("sigpipe", time.Now().UnixNano()))
		spec.Argv, spec.Stdout = sh(`grep SigIgn /proc/self/status`), out
		pid, err := Start(self(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, pid)
		var mask uint64
		fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(read(), "SigIgn:")), "%x", &mask)
		return mask&(1<<(syscall.SIGPIPE-1)) != 0
	}
	if !ignored(&Spec{}) {
		t.Error("direct path: SIGPIPE not ignored")
	}
	if !ignored(&Spec{Sandbox: &Sandbox{}}) {
		t.Error("helper path: SIGPIPE not ignored")
	}
	if ignored(&Spec{DefaultSIGPIPE: true}) {
		t.Error("DefaultSIGPIPE: SIGPIPE still ignored")
	}
}
