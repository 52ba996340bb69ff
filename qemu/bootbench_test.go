package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// The boot benchmark's work, the same on every system: a oneshot setup,
// three long-running daemons, a listener that starts a program per
// connection (socket activation), the loopback up, a hello on the
// console, a console shell, device coldplug loading the modules of the
// board's devices, and last a report of the guest's uptime and memory.

// benchReport runs once the system is up: the kernel's clock and the
// CPU time spent so far first, then the memory of pid 1, the manager and
// the device manager where they exist (RSS and PSS in KiB), MemAvailable,
// and the CPU time of every process that used any (the kernel's clock
// ticks, USER_HZ: 1/100 s). On one vCPU the time to ready is the CPU work
// done before it, so these say where it went.
const benchReport = `#!/bin/sh
read up idle < /proc/uptime
read cpu user nice sys rest < /proc/stat
switches=$(awk '/^ctxt /{print $2}' /proc/stat)
# A system whose pid 1 does not print when it started says it here.
if [ -x /bin/bench-pid1 ]; then /bin/bench-pid1; fi
echo "BOOT-READY $up s"
echo "BOOT-CPU $user $sys $switches ."
mem() {
	[ -r /proc/$2/smaps_rollup ] || return 0
	echo "BOOT-MEM $1 $(awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r, p}' /proc/$2/smaps_rollup) KiB"
}
echo "BOOT-MODULES $(wc -l < /proc/modules) ."
if command -v systemctl >/dev/null; then echo "BOOT-FAILED $(systemctl --failed --no-legend --plain | wc -l) ."; fi
mem pid1 1
for n in sysmaster devmaster systemd-udevd; do for p in $(pidof $n); do mem $n $p; done; done
echo "BOOT-MEM available $(awk '/^MemAvailable:/{print $2}' /proc/meminfo) 0 KiB"
if command -v sctl >/dev/null; then sctl analyze blame | head -n 6 | sed 's/^/BOOT-BLAME /; s/$/ ./'; fi
# pid, (comm), then utime stime cutime cstime: fields 14-17 of stat.
for f in /proc/[0-9]*/stat; do
	read -r pid comm st f4 f5 f6 f7 f8 f9 f10 f11 f12 f13 ut stt cut cst rest < $f 2>/dev/null || continue
	[ $((ut + stt + cut + cst)) -gt 0 ] || continue
	sw=$(cat /proc/$pid/task/*/status 2>/dev/null | awk '/ctxt_switches/{n+=$2} END{print n+0}')
	echo "BOOT-PROC $pid $comm $ut $stt $cut $cst $sw ."
done
echo BOOT-END
`

// benchUnits are ours: with the shipped devmaster, hello and shell
// services, ten units start.
var benchUnits = map[string]string{
	"setup.service.toml": `[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'mkdir -p /run/app && echo ok > /run/app/state'"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
	"lo.service.toml": `[Service]
Type = "oneshot"
ExecStart = "/bin/ip link set lo up"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
	"echo.socket.toml": `[Unit]
After = ["lo.service"]
[Socket]
ListenStream = "127.0.0.1:7777"
Accept = false
[Install]
WantedBy = ["default.target"]
`,
	"echo.service.toml": `[Service]
ExecStart = "/bin/sleep 100000"
`,
	"ready.service.toml": `[Unit]
After = ["setup.service", "lo.service", "echo.socket", "devmaster.service", "hello.service", "d1.service", "d2.service", "d3.service"]
[Service]
Type = "oneshot"
ExecStart = "/bin/bench-report"
[Install]
WantedBy = ["default.target"]
`,
}

func init() {
	for _, d := range []string{"d1", "d2", "d3"} {
		benchUnits[d+".service.toml"] = "[Unit]\nAfter = [\"setup.service\"]\n[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n"
	}
}

// The busybox peer: the same work from inittab and rcS.
const busyboxInittab = `::sysinit:/etc/init.d/rcS
::respawn:/bin/sleep 100000
::respawn:/bin/sleep 100001
::respawn:/bin/sleep 100002
::respawn:/bin/busybox nc -l -p 7777 -e /bin/cat
::respawn:-/bin/sh
::once:/bin/bench-report
`

const busyboxRcS = `#!/bin/sh
mount -t proc proc /proc
read up idle < /proc/uptime
echo "BOOT-PID1 $up s"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
mount -t tmpfs tmpfs /run
mdev -s
# Drivers by modalias until no new module comes: virtio_pci first, then
# the drivers of the virtio devices it brings.
n=-1
while [ "$(wc -l < /proc/modules)" != "$n" ]; do
	n=$(wc -l < /proc/modules)
	find /sys/devices -name modalias | xargs cat | sort -u | xargs modprobe -qa
done
mkdir -p /run/app && echo ok > /run/app/state
ip link set lo up
echo "hello from busybox: $(uname -sr)"
`

// The finit peer: Debian's finit (with its libraries, through the image's
// package support), its tasks and services doing the same work, the
// coldplug of the busybox peer's rcS.
const finitConf = `runlevel 2
run [S] name:coldplug /bin/coldplug -- Coldplug
run [S] name:setup /bin/sh -c "mkdir -p /run/app && echo ok > /run/app/state" -- Setup
run [S] name:lo /bin/ip link set lo up -- Loopback
task [S] name:hello /bin/sh -c "echo hello from finit > /dev/console" -- Hello
service [2345] name:d1 /bin/sleep 100000 -- d1
service [2345] name:d2 /bin/sleep 100001 -- d2
service [2345] name:d3 /bin/sleep 100002 -- d3
service [2345] name:listen /bin/busybox nc -l -p 7777 -e /bin/cat -- Listener
task [2345] name:report /bin/sh -c "/bin/bench-report > /dev/console 2>&1" -- Report
`

const finitColdplug = `#!/bin/sh
read up idle < /proc/uptime
echo "BOOT-PID1 $up s" > /dev/console
mdev -s
n=-1
while [ "$(wc -l < /proc/modules)" != "$n" ]; do
	n=$(wc -l < /proc/modules)
	find /sys/devices -name modalias | xargs cat | sort -u | xargs modprobe -qa
done
true
`

// system is one system under test.
type system struct {
	name  string
	image string
	size  int64
	// manager and device name the processes of the report's memory
	// lines for those columns: "pid1" where pid 1 is the manager, ""
	// where there is none.
	manager, device string
	// cmdline is added to the kernel command line of its boots.
	cmdline string
}

// bootRun is what one boot measured.
type bootRun struct {
	pid1  time.Duration // guest uptime when pid 1 started (busybox: when rcS did)
	ready time.Duration // guest uptime at the report
	host  time.Duration // from starting QEMU to the report on the console
	mem   map[string][2]int
	blame []string // sctl analyze blame's first lines, where there is sctl
	// modules is how many modules were loaded at ready: the same work
	// means the same count.
	modules int
	// user and sys are the CPU time the whole guest had spent at ready
	// (the kernel's own start included); procs the lines of the
	// processes that used any, as "pid (comm) utime stime cutime cstime"
	// in clock ticks, then the context switches of all its threads;
	// switches is the guest's count of them (under emulation each one
	// costs far more than on hardware).
	user, sys time.Duration
	switches  int
	procs     []string
}

// BenchmarkBootPeers boots our image, a busybox-init image, a finit
// image (Debian's package; SYSMASTER_BENCH_FINIT=0 leaves it out) and a
// systemd image (Debian's) and the same with journald masked
// (SYSMASTER_BENCH_SYSTEMD=0 leaves both out, =1 the masked one) doing
// the same work, in turns (SYSMASTER_BENCH_BOOTS each, default 5) on the
// same kernel, QEMU line and devices, and reports the medians. With
// SYSMASTER_BENCH_REPORT=FILE it writes the table there as Markdown
// (scripts/bench puts it into docs/BENCHMARKS.md); with
// SYSMASTER_BENCH_CONSOLE=DIR it keeps each system's last console there;
// SYSMASTER_BENCH_CMDLINE="PARAMS" adds a row: our image booted with
// those kernel parameters, for an A/B of a setting in one run;
// SYSMASTER_BENCH_ICOUNT=N runs every guest with -icount shift=N, so that
// guest time counts instructions and barely moves with the host's load
// (figures not comparable with those taken without it).
func BenchmarkBootPeers(b *testing.B) {
	name := os.Getenv("SYSMASTER_BENCH_BOARD")
	if name == "" {
		name = "qemu-x86_64"
	}
	boots := 5
	if v := os.Getenv("SYSMASTER_BENCH_BOOTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SYSMASTER_BENCH_BOOTS=%q: want a count", v)
		}
		boots = n
	}
	brd, err := board.Load(name)
	if err != nil {
		b.Fatal(err)
	}
	pb := peerBuild{brd: brd, in: bootInputs(b, brd), dir: b.TempDir(), comp: benchCompression(b)}
	var qemuArgs []string
	if n := os.Getenv("SYSMASTER_BENCH_ICOUNT"); n != "" {
		if _, err := strconv.ParseUint(n, 10, 8); err != nil {
			b.Fatalf("SYSMASTER_BENCH_ICOUNT=%q: want a shift such as 4", n)
		}
		qemuArgs = []string{"-icount", "shift=" + n}
	}
	ours := pb.ours(b)
	bb := pb.busybox(b, ours.image)
	systems := []system{ours, bb}
	if v := os.Getenv("SYSMASTER_BENCH_CMDLINE"); v != "" {
		// The same image with more kernel parameters, as a row of its own:
		// an A/B of a setting in one run.
		alt := ours
		alt.name, alt.cmdline = "sysmaster, "+v, v
		systems = append(systems, alt)
	}
	var notes []string
	if os.Getenv("SYSMASTER_BENCH_FINIT") != "0" {
		if fi, err := pb.finit(b); err != nil {
			notes = append(notes, fmt.Sprintf("finit: no image (%v).", err))
		} else {
			systems = append(systems, fi)
		}
	}
	if v := os.Getenv("SYSMASTER_BENCH_SYSTEMD"); v != "0" {
		if sd, err := pb.systemd(b, v != "1"); err != nil {
			notes = append(notes, fmt.Sprintf("systemd: no image (%v).", err))
		} else {
			systems = append(systems, sd...)
		}
	}
	runs := map[string][]bootRun{}
	for i := range boots {
		for _, s := range systems {
			r := bootOnce(b, brd, pb.in.kernel, s, qemuArgs)
			b.Logf("boot %d %s: ready at %v uptime, %v from QEMU start", i+1, s.name, r.ready, r.host.Round(time.Millisecond))
			runs[s.name] = append(runs[s.name], r)
			if first := runs[systems[0].name][0].modules; r.modules != first || first == 0 {
				b.Fatalf("%s loaded %d modules, %s %d: not the same work", s.name, r.modules, systems[0].name, first)
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	table := benchTable(brd, pb.comp, systems, runs, boots, strings.Join(strings.Fields(string(load))[:3], " "), notes)
	b.Logf("\n%s", table)
	if out := os.Getenv("SYSMASTER_BENCH_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(median(runs[ours.name], func(r bootRun) float64 { return r.ready.Seconds() * 1000 }), "ours-ready-ms")
	b.ReportMetric(median(runs[bb.name], func(r bootRun) float64 { return r.ready.Seconds() * 1000 }), "busybox-ready-ms")
	for _, s := range systems[2:] {
		unit := fileName(s.name) + "-ready-ms"
		b.ReportMetric(median(runs[s.name], func(r bootRun) float64 { return r.ready.Seconds() * 1000 }), unit)
	}
	b.ReportMetric(0, "ns/op")
}

// peerBuild is what every image of the boot benchmark is built from: the
// board's kernel, busybox and modules, one folder and one compression.
type peerBuild struct {
	brd  *board.Board
	in   inputs
	dir  string
	comp image.Compression
}

// path is where the image named name goes.
func (pb peerBuild) path(name string) string {
	return filepath.Join(pb.dir, fileName(name)+".cpio"+pb.comp.Ext())
}

// build builds an image of brd (the benchmark's board unless another is
// given) with busybox, the modules and opts, at the path of name.
func (pb peerBuild) build(brd *board.Board, name string, opts ...image.Option) (string, int64, error) {
	out := pb.path(name)
	opts = append([]image.Option{image.WithKernelModules(pb.in.modules), image.WithBusybox(pb.in.busybox),
		image.WithCompression(pb.comp)}, opts...)
	res, err := image.Build(context.Background(), brd, out, opts...)
	if err != nil {
		return "", 0, err
	}
	return out, res.CompressedBytes, nil
}

func (pb peerBuild) ours(b *testing.B) system {
	opts := []image.Option{image.WithUnits(filepath.Join(pb.in.root, "units")),
		image.WithFile("/bin/bench-report", []byte(benchReport), 0o755)}
	for n, body := range benchUnits {
		opts = append(opts, image.WithFile("/etc/sysmaster/units/"+n, []byte(body), 0o644))
	}
	out, size, err := pb.build(pb.brd, "sysmaster", opts...)
	if err != nil {
		b.Fatal(err)
	}
	return system{name: "sysmaster", image: out, size: size, manager: "sysmaster", device: "devmaster"}
}

// busybox takes busybox and the kernel modules of our image and nothing
// else, and adds busybox init's configuration.
func (pb peerBuild) busybox(b *testing.B, ours string) system {
	t := peerTree(b, ours, func(e image.Entry) bool {
		return e.Name == "bin/busybox" || strings.HasPrefix(e.Name, "lib/modules/") || e.Name == "dev/console" || e.Name == "dev/null"
	})
	addFiles(b, t, map[string]string{"etc/inittab": busyboxInittab, "etc/init.d/rcS": busyboxRcS})
	if err := t.AddSymlink("init", "bin/busybox"); err != nil {
		b.Fatal(err)
	}
	return pb.write(b, t, "busybox init", "pid1", "")
}

// finit builds an image with Debian's finit package and keeps it, its
// libraries, busybox and the kernel modules: none of ours. An error (the
// package cannot be fetched) leaves finit out of the table, saying why.
func (pb peerBuild) finit(b *testing.B) (system, error) {
	src, _, err := pb.build(pb.brd, "with finit", image.WithPackageSource(image.NewAptSource(pb.in.root, pb.in.cache)), image.WithDeb("finit"))
	if err != nil {
		return system{}, err
	}
	t := peerTree(b, src, func(e image.Entry) bool {
		switch {
		case e.Name == "bin/smbox" || e.Name == "init" || e.Linkname == "/bin/smbox" || e.Linkname == "smbox":
			return false
		case strings.HasPrefix(e.Name, "etc/sysmaster") || strings.HasPrefix(e.Name, "lib/devmaster") || strings.HasPrefix(e.Name, "etc/finit.d"):
			return false
		}
		return true
	})
	addFiles(b, t, map[string]string{"etc/finit.conf": finitConf, "bin/coldplug": finitColdplug, "etc/fstab": ""})
	for _, l := range [][2]string{{"init", "sbin/finit"}, {"sbin/modprobe", "/bin/busybox"}} {
		if err := t.AddSymlink(l[0], l[1]); err != nil {
			b.Fatal(err)
		}
	}
	return pb.write(b, t, "finit", "pid1", ""), nil
}

// peerTree reads the image at src into a tree, keeping what keep says,
// and adds what every peer needs: busybox's applets (those the shell
// links, and what init scripts use: the kernel runs /sbin/modprobe for
// its own module requests), the mount points and the report.
func peerTree(b *testing.B, src string, keep func(image.Entry) bool) *image.Tree {
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	t := image.NewTree()
	err = image.Walk(f, func(e image.Entry, data io.Reader) error {
		switch {
		case !keep(e):
			return nil
		case e.Mode.IsDir():
			return t.AddDir(e.Name, e.Mode.Perm())
		case e.Mode&os.ModeSymlink != 0:
			return t.AddSymlink(e.Name, e.Linkname)
		case e.Mode&os.ModeCharDevice != 0:
			return t.AddCharDev(e.Name, e.Mode.Perm(), e.Major, e.Minor)
		case e.Mode.IsRegular():
			body, err := io.ReadAll(data)
			if err != nil {
				return err
			}
			return t.AddFile(e.Name, body, e.Mode.Perm())
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range append(image.BusyboxApplets(), "modprobe", "insmod", "nc", "poweroff") {
		if _, ok := t.Lookup("bin/" + a); !ok {
			if err := t.AddSymlink("bin/"+a, "busybox"); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, p := range []string{"proc", "sys", "run", "tmp", "root"} {
		if err := t.AddDir(p, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if _, ok := t.Lookup("sbin"); !ok {
		if err := t.AddSymlink("sbin", "bin"); err != nil {
			b.Fatal(err)
		}
	}
	addFiles(b, t, map[string]string{"bin/bench-report": benchReport})
	return t
}

// addFiles adds files, executable when they start with "#!".
func addFiles(b *testing.B, t *image.Tree, files map[string]string) {
	for p, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(body, "#!") {
			mode = 0o755
		}
		if err := t.AddFile(p, []byte(body), mode); err != nil {
			b.Fatal(err)
		}
	}
}

// write writes a peer's tree as the image of system name.
func (pb peerBuild) write(b *testing.B, t *image.Tree, name, manager, device string) system {
	var buf bytes.Buffer
	zw, err := image.NewCompressor(&buf, pb.comp)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := t.WriteCPIO(zw, time.Unix(0, 0)); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	out := pb.path(name)
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return system{name: name, image: out, size: int64(buf.Len()), manager: manager, device: device}
}

var (
	// Each marker ends in a token, so a line read in part never matches.
	readyRE   = regexp.MustCompile(`BOOT-READY ([0-9.]+) s`)
	pid1RE    = regexp.MustCompile(`kernel uptime ([0-9.]+)s|BOOT-PID1 ([0-9.]+) s`)
	moreRE    = regexp.MustCompile(`BOOT-MEM \S+ \d+ \d+ KiB|BOOT-END|BOOT-BLAME .* \.|BOOT-MODULES \d+ \.|BOOT-FAILED \d+ \.|BOOT-CPU \d+ \d+ \d+ \.|BOOT-PROC \d+ \S+ \d+ \d+ \d+ \d+ \d+ \.`)
	bootMemRE = regexp.MustCompile(`BOOT-MEM (\S+) (\d+) (\d+)`)
)

func bootOnce(b *testing.B, brd *board.Board, kernel string, s system, args []string) bootRun {
	b.Helper()
	var lines []string
	start := time.Now()
	vm, err := qemu.Start(context.Background(), qemu.Options{Board: brd, Kernel: kernel, Initrd: s.image, Cmdline: s.cmdline, Args: args,
		Timeout: 5 * time.Minute, Log: func(l string) { lines = append(lines, l) }})
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Kill()
	p, err := vm.ExpectRegexp(pid1RE, 4*time.Minute)
	if err != nil {
		b.Fatalf("%s: %v", s.name, err)
	}
	m, err := vm.ExpectRegexp(readyRE, 90*time.Second)
	if err != nil {
		b.Fatalf("%s: %v", s.name, err)
	}
	host := time.Since(start)
	up, _ := strconv.ParseFloat(m[1], 64)
	at, _ := strconv.ParseFloat(p[1]+p[2], 64)
	r := bootRun{pid1: time.Duration(at * float64(time.Second)), ready: time.Duration(up * float64(time.Second)), host: host, mem: map[string][2]int{}}
	for {
		line, err := vm.ExpectRegexp(moreRE, time.Minute)
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		if line[0] == "BOOT-END" {
			break
		}
		if l, ok := strings.CutPrefix(line[0], "BOOT-MODULES "); ok {
			r.modules, _ = strconv.Atoi(strings.TrimSuffix(l, " ."))
			continue
		}
		// systemd's count of failed units: the work is not the same
		// if one failed.
		if l, ok := strings.CutPrefix(line[0], "BOOT-FAILED "); ok {
			if n, _ := strconv.Atoi(strings.TrimSuffix(l, " .")); n > 0 {
				b.Fatalf("%s: %d units failed", s.name, n)
			}
			continue
		}
		if l, ok := strings.CutPrefix(line[0], "BOOT-CPU "); ok {
			f := strings.Fields(l)
			u, _ := strconv.Atoi(f[0])
			sy, _ := strconv.Atoi(f[1])
			r.user, r.sys = ticks(u), ticks(sy)
			r.switches, _ = strconv.Atoi(f[2])
			continue
		}
		if l, ok := strings.CutPrefix(line[0], "BOOT-PROC "); ok {
			r.procs = append(r.procs, strings.TrimSuffix(l, " ."))
			continue
		}
		if l, ok := strings.CutPrefix(line[0], "BOOT-BLAME "); ok {
			r.blame = append(r.blame, strings.TrimSuffix(l, " ."))
			continue
		}
		mm := bootMemRE.FindStringSubmatch(line[0])
		if _, ok := r.mem[mm[1]]; ok {
			continue // the first is the daemon; later ones its workers
		}
		rss, _ := strconv.Atoi(mm[2])
		pss, _ := strconv.Atoi(mm[3])
		r.mem[mm[1]] = [2]int{rss, pss}
	}
	// The console of the last boot of each system, to see what it did.
	if d := os.Getenv("SYSMASTER_BENCH_CONSOLE"); d != "" {
		vm.Kill()
		name := fileName(s.name) + ".console"
		if err := os.WriteFile(filepath.Join(d, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// ticks converts the kernel's USER_HZ clock ticks (100 a second on every
// architecture Linux reports them for) to a duration.
func ticks(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }

// benchCompression is every image's compression: the boards' default,
// zstd, unless SYSMASTER_BENCH_COMPRESS names another (gzip, xz, lz4,
// none). All systems get the same, so the kernel's unpacking differs only
// by what each image holds.
func benchCompression(b *testing.B) image.Compression {
	v := os.Getenv("SYSMASTER_BENCH_COMPRESS")
	if v == "" {
		return image.Zstd
	}
	c, err := image.ParseCompression(v)
	if err != nil {
		b.Fatalf("SYSMASTER_BENCH_COMPRESS: %v", err)
	}
	return c
}

// fileName is a system's name as a file name.
func fileName(system string) string {
	return strings.NewReplacer(" ", "-", ",", "").Replace(system)
}

func median(runs []bootRun, f func(bootRun) float64) float64 {
	var v []float64
	for _, r := range runs {
		v = append(v, f(r))
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func benchTable(brd *board.Board, comp image.Compression, systems []system, runs map[string][]bootRun, boots int, load string, notes []string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "Board %s under TCG, %d interleaved boots each, load average before the last boot %s.\n\n", brd.Name, boots, load)
	w.WriteString("| system | ready (guest uptime) | range | kernel (to pid 1) | userspace (pid 1 to ready) | QEMU start to ready | pid 1 RSS / PSS | manager RSS / PSS | device manager RSS / PSS | MemAvailable | image (" + string(comp) + ") | CPU to ready: user / system | context switches to ready |\n")
	w.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	mem := func(rs []bootRun, who string) string {
		if _, ok := rs[0].mem[who]; !ok || who == "" {
			return "—"
		}
		rss := median(rs, func(r bootRun) float64 { return float64(r.mem[who][0]) })
		pss := median(rs, func(r bootRun) float64 { return float64(r.mem[who][1]) })
		return fmt.Sprintf("%.1f / %.1f MiB", rss/1024, pss/1024)
	}
	var readyMed, userMed []float64
	for _, s := range systems {
		rs := runs[s.name]
		ready := median(rs, func(r bootRun) float64 { return r.ready.Seconds() })
		readyMed = append(readyMed, ready)
		lo, hi := rs[0].ready, rs[0].ready
		for _, r := range rs {
			lo, hi = min(lo, r.ready), max(hi, r.ready)
		}
		host := median(rs, func(r bootRun) float64 { return r.host.Seconds() })
		avail := median(rs, func(r bootRun) float64 { return float64(r.mem["available"][0]) })
		kern := median(rs, func(r bootRun) float64 { return r.pid1.Seconds() })
		user := median(rs, func(r bootRun) float64 { return (r.ready - r.pid1).Seconds() })
		userMed = append(userMed, user)
		manager := mem(rs, s.manager)
		if s.manager == "pid1" {
			manager = "(pid 1)"
		}
		cpuUser := median(rs, func(r bootRun) float64 { return r.user.Seconds() })
		cpuSys := median(rs, func(r bootRun) float64 { return r.sys.Seconds() })
		switches := median(rs, func(r bootRun) float64 { return float64(r.switches) })
		fmt.Fprintf(&w, "| %s | %.2f s | %.2f–%.2f s | %.2f s | %.2f s | %.2f s | %s | %s | %s | %.0f MiB | %.2f MiB | %.2f / %.2f s | %.0f |\n", s.name, ready,
			lo.Seconds(), hi.Seconds(), kern, user, host, mem(rs, "pid1"), manager, mem(rs, s.device), avail/1024, float64(s.size)/(1<<20), cpuUser, cpuSys, switches)
	}
	w.WriteString("\nRatios of the medians (targets: ready ≤ 1.10 against busybox init, < 0.50 against systemd):\n\n")
	for i := 1; i < len(systems); i++ {
		fmt.Fprintf(&w, "- sysmaster / %s: ready %.2f, userspace %.2f\n", systems[i].name, readyMed[0]/readyMed[i], userMed[0]/userMed[i])
	}
	for _, n := range notes {
		fmt.Fprintf(&w, "\n%s\n", n)
	}
	if len(readyMed) > 1 {
		if bl := runs[systems[0].name]; len(bl[len(bl)-1].blame) > 0 {
			fmt.Fprintf(&w, "\nWhere sysmaster's userspace went in its last boot (`sctl analyze blame`):\n\n```\n%s\n```\n", strings.Join(bl[len(bl)-1].blame, "\n"))
		}
		w.WriteString("\nCPU time at ready of every process that used any, in the last boot of each (pid, name, then user, system, and user and system of its reaped children, in 10 ms ticks, and the context switches of its threads; two ticks or more; pid 1's system time holds the kernel's own start, before it ran init):\n")
		for _, s := range systems {
			rs := runs[s.name]
			var busy []string
			for _, l := range rs[len(rs)-1].procs {
				// The kernel threads that ran a tick or so say nothing.
				if f := strings.Fields(l); len(f) == 7 {
					var sum int
					for _, v := range f[2:6] {
						n, _ := strconv.Atoi(v)
						sum += n
					}
					if sum < 2 {
						continue
					}
				}
				busy = append(busy, l)
			}
			fmt.Fprintf(&w, "\n%s:\n\n```\n%s\n```\n", s.name, strings.Join(busy, "\n"))
		}
	}
	return w.String()
}
