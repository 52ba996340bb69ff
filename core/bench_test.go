package core_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/reap"
	"github.com/sysmaster-go/sysmaster/core/sctl"
)

// The manager benchmark starts N services whose dependency graph is a
// tree (service i wants and starts after service (i-1)/2), half oneshot,
// half long-running, and measures the time until every service has run
// and the manager's PSS (memory, shared pages split fairly). runit's runsvdir runs the same commands in the
// same run, as the peer, and so does s6's s6-svscan; the ratios say how
// we compare.
func BenchmarkManagerStart(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var ours, peer, s6, ourCPU time.Duration
			var ourRSS, peerRSS, s6RSS int64
			for i := 0; i < b.N; i++ {
				d, rss, cpu := benchSysmaster(b, n)
				ours += d
				ourCPU += cpu
				ourRSS = max(ourRSS, rss)
				// runsvdir supervises at most 1000 service directories.
				if _, err := exec.LookPath("runsvdir"); err == nil && n <= 1000 {
					d, rss := benchRunsvdir(b, n)
					peer += d
					peerRSS = max(peerRSS, rss)
				}
				if _, err := exec.LookPath("s6-svscan"); err == nil {
					d, rss := benchS6(b, n)
					s6 += d
					s6RSS = max(s6RSS, rss)
				}
			}
			b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms-to-target")
			b.ReportMetric(float64(ourRSS)/1024, "manager-PSS-MiB")
			// CPU time the manager used to get there: less at the mercy of
			// other load on the machine than the time to target.
			b.ReportMetric(float64(ourCPU.Milliseconds())/float64(b.N), "manager-CPU-ms")
			if peer > 0 {
				b.ReportMetric(float64(peer.Milliseconds())/float64(b.N), "runsvdir-ms")
				b.ReportMetric(float64(peerRSS)/1024, "runsvdir+runsv-PSS-MiB")
				b.ReportMetric(float64(ours)/float64(peer), "time-ratio")
				b.ReportMetric(float64(ourRSS)/float64(peerRSS), "PSS-ratio")
			} else if n > 1000 {
				b.Log("runsvdir supervises at most 1000 services: no peer figures")
			} else {
				b.Log("runsvdir not installed (apt-get install runit): no peer figures")
			}
			if s6 > 0 {
				b.ReportMetric(float64(s6.Milliseconds())/float64(b.N), "s6-svscan-ms")
				b.ReportMetric(float64(s6RSS)/1024, "s6-svscan+supervise-PSS-MiB")
				b.ReportMetric(float64(ours)/float64(s6), "s6-time-ratio")
				b.ReportMetric(float64(ourRSS)/float64(s6RSS), "s6-PSS-ratio")
			} else {
				b.Log("s6-svscan not installed (apt-get install s6): no s6 figures")
			}
		})
	}
}

// benchCommand is what every service runs: mark that it ran, then either
// exit (oneshot) or stay.
func benchCommand(dir string, i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("/bin/sh -c 'echo > %s/up/s%d'", dir, i)
	}
	return fmt.Sprintf("/bin/sh -c 'echo > %s/up/s%d; exec sleep 100000'", dir, i)
}

func countUp(dir string) int {
	ents, _ := os.ReadDir(filepath.Join(dir, "up"))
	return len(ents)
}

func benchSysmaster(b *testing.B, n int) (time.Duration, int64, time.Duration) {
	b.Helper()
	dir := b.TempDir()
	units := filepath.Join(dir, "units")
	wants := filepath.Join(units, "default.target.wants")
	for _, d := range []string{wants, filepath.Join(dir, "up")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(units, name+".toml"), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("default.target", "[Unit]\nDescription = \"bench\"\n")
	for i := 0; i < n; i++ {
		var deps string
		if i > 0 {
			p := fmt.Sprintf("s%d.service", (i-1)/2)
			deps = fmt.Sprintf("[Unit]\nWants = [%q]\nAfter = [%q]\n", p, p)
		}
		svc := "Type = \"simple\"\n"
		if i%2 == 0 {
			svc = "Type = \"oneshot\"\nRemainAfterExit = true\n"
		}
		svc += fmt.Sprintf("ExecStart = %q\nKillSignal = \"SIGKILL\"\n", benchCommand(dir, i))
		write(fmt.Sprintf("s%d.service", i), deps+"[Service]\n"+svc+"[Install]\nWantedBy = [\"default.target\"]\n")
		name := fmt.Sprintf("s%d.service", i)
		if err := os.Symlink(filepath.Join(units, name+".toml"), filepath.Join(wants, name)); err != nil {
			b.Fatal(err)
		}
	}
	// State lives on tmpfs, as /run/sysmaster does on a board.
	state := filepath.Join(dir, "state")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "smbench")
		if err == nil {
			defer os.RemoveAll(shm)
			state = shm
		}
	}
	cmd := exec.Command(smbox, "sysmaster", "--user", "--units", units, "--state", state)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_, _ = sctl.Call(filepath.Join(state, "control.sock"), core.Request{Cmd: "poweroff"})
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			b.Error("manager did not stop")
		}
	}()
	sock := filepath.Join(state, "control.sock")
	deadline := start.Add(5 * time.Minute)
	for {
		if countUp(dir) == n {
			r, err := sctl.Call(sock, core.Request{Cmd: "is-active", Units: []string{"default.target"}})
			if err == nil && r.Code == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("sysmaster: %d of %d services up after 5 minutes", countUp(dir), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start), rssKiB(cmd.Process.Pid), cpuTime(cmd.Process.Pid)
}

// cpuTime is the user and system time pid has used, from /proc.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100
}

func benchRunsvdir(b *testing.B, n int) (time.Duration, int64) {
	b.Helper()
	dir := b.TempDir()
	sv := filepath.Join(dir, "sv")
	if err := os.MkdirAll(filepath.Join(dir, "up"), 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := filepath.Join(sv, fmt.Sprintf("s%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		run := "#!/bin/sh\n"
		if i%2 == 0 {
			// runit restarts what exits: a oneshot asks to run once.
			run += "sv once . >/dev/null 2>&1\n"
		}
		run += shellUnquote(benchCommand(dir, i)) + "\n"
		if err := os.WriteFile(filepath.Join(d, "run"), []byte(run), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	cmd := exec.Command("runsvdir", "-P", sv)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		// runsvdir's HUP stops every runsv, which stops its service.
		cmd.Process.Signal(syscall.SIGHUP)
		cmd.Wait()
		time.Sleep(200 * time.Millisecond)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	deadline := start.Add(5 * time.Minute)
	for countUp(dir) < n {
		if time.Now().After(deadline) {
			b.Fatalf("runsvdir: %d of %d services up after 5 minutes", countUp(dir), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// runit's supervision is runsvdir plus one runsv per service.
	total := rssKiB(cmd.Process.Pid)
	for _, pid := range reap.Children(cmd.Process.Pid) {
		total += rssKiB(pid)
	}
	return elapsed, total
}

// benchS6 runs the same services under s6-svscan: one service directory
// each, supervised by its own s6-supervise, as s6 does.
func benchS6(b *testing.B, n int) (time.Duration, int64) {
	b.Helper()
	dir := b.TempDir()
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(filepath.Join(dir, "up"), 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := filepath.Join(scan, fmt.Sprintf("s%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		run := "#!/bin/sh\n"
		if i%2 == 0 {
			// s6 restarts what exits: a oneshot asks to run once (run
			// starts in its service directory).
			run += "s6-svc -O .\n"
		}
		run += shellUnquote(benchCommand(dir, i)) + "\n"
		if err := os.WriteFile(filepath.Join(d, "run"), []byte(run), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	// -c: room for every service (the default is 1000).
	cmd := exec.Command("s6-svscan", "-c", strconv.Itoa(n+10), scan)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		// Each s6-supervise runs its service in a session of its own:
		// stop s6-svscan and the supervisors (one process group), so
		// nothing restarts, then the services they ran.
		children := procChildren()
		var services []int
		for _, pid := range children[cmd.Process.Pid] {
			services = append(services, children[pid]...)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for _, pid := range services {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	deadline := start.Add(5 * time.Minute)
	for countUp(dir) < n {
		if time.Now().After(deadline) {
			b.Fatalf("s6-svscan: %d of %d services up after 5 minutes", countUp(dir), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// s6's supervision is s6-svscan plus one s6-supervise per service.
	total := rssKiB(cmd.Process.Pid)
	supervisors := reap.Children(cmd.Process.Pid)
	for _, pid := range supervisors {
		total += rssKiB(pid)
	}
	if len(supervisors) < n {
		b.Errorf("s6-svscan: %d supervisors for %d services", len(supervisors), n)
	}
	return elapsed, total
}

// procChildren maps every process to its children, from one walk of
// /proc: thousands of supervisors are too many for a walk each.
func procChildren() map[int][]int {
	children := make(map[int][]int)
	reap.Processes(func(pid, ppid int) { children[ppid] = append(children[ppid], pid) })
	return children
}

// shellUnquote turns "/bin/sh -c 'CMD'" back into CMD.
func shellUnquote(s string) string {
	s = strings.TrimPrefix(s, "/bin/sh -c '")
	return strings.TrimSuffix(s, "'")
}

// rssKiB is the proportional set size of pid: shared pages are split
// among the processes sharing them, so summing it over many runsv
// processes is fair.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n
		}
	}
	return 0
}
