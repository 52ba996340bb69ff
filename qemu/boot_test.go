package qemu_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// Units every test image carries besides the shipped ones: a oneshot that
// prints a marker and a long-running service with a stop command, so an
// orderly shutdown is visible on the console.
var testUnits = map[string]string{
	"marker.service.toml": `[Unit]
Description = "Print the test marker"
[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'echo TEST-MARKER-$((6*7))'"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
	"sleeper.service.toml": `[Unit]
Description = "A long-running service"
After = ["marker.service"]
[Service]
ExecStart = "/bin/sleep 100000"
ExecStopPost = "/bin/sh -c 'echo SLEEPER-STOPPED'"
Restart = "always"
[Install]
WantedBy = ["default.target"]
`,
	// One unit of every other kind: socket activation, a timer, a mount and
	// a notify service.
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
[Install]
WantedBy = ["default.target"]
`,
	"echo.service.toml": `[Service]
ExecStart = "/bin/sh -c 'echo ACTIVATED fds=$LISTEN_FDS names=$LISTEN_FDNAMES; exec sleep 100000'"
`,
	"boot.timer.toml": `[Timer]
OnBootSec = "1s"
Unit = "timed.service"
[Install]
WantedBy = ["default.target"]
`,
	"timed.service.toml": `[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'echo TIMER-FIRED'"
`,
	"mnt-scratch.mount.toml": `[Mount]
What = "tmpfs"
Where = "/mnt/scratch"
Type = "tmpfs"
Options = "size=1m,mode=0700"
[Install]
WantedBy = ["default.target"]
`,
	// Leaves a process in a session of its own: only the cgroup still
	// ties it to the service.
	"escape.service.toml": `[Service]
ExecStart = "/bin/sh -c 'setsid sleep 100001 & exec sleep 100000'"
MemoryMax = "32M"
TasksMax = 50
[Install]
WantedBy = ["default.target"]
`,
	"ready.service.toml": `[Service]
Type = "notify"
NotifyAccess = "all"
ExecStart = "/bin/sh -c 'sleep 0.5; notify --ready --status=up; exec sleep 100000'"
[Install]
WantedBy = ["default.target"]
`,
}

// guest is a booted test image.
type guest struct {
	t  testing.TB
	vm *qemu.VM
}

// bootImage builds an image for the board with the shipped units, the test
// units and busybox, and boots it.
func bootImage(t *testing.T, boardName string, comp image.Compression) *guest {
	t.Helper()
	return bootImageWith(t, boardName, comp, "")
}

// bootImageWith boots with extra kernel command line arguments.
func bootImageWith(t *testing.T, boardName string, comp image.Compression, cmdline string) *guest {
	t.Helper()
	return boot(t, boardName, comp, bootConfig{cmdline: cmdline})
}

// bootConfig is what a test adds to the standard test image and VM.
type bootConfig struct {
	cmdline  string
	files    map[string]string // image path -> content
	monitor  bool              // open QEMU's monitor (hotplug)
	debs     []string          // Debian packages for the image
	forwards []qemu.HostForward
	// format, when not cpio, is the board's image format to boot through
	// U-Boot from a disk.
	format  string
	modules []string  // kernel modules besides the board's
	args    []string  // QEMU arguments besides the board's
	mtime   time.Time // the image's build time (SOURCE_DATE_EPOCH)
	data    board.Data
	// compress tunes the compressor (the built-in zstd encoder).
	compress []image.CompressOption
}

// inputs are what building and booting a board's test image needs from
// the download cache and the checkout.
type inputs struct {
	cache, kernel, busybox, modules string
	root                            string // the module root, for units/
}

// bootInputs finds them, or skips the test when they are missing (fails
// it under CI=true, where scripts/setup has run).
func bootInputs(t testing.TB, b *board.Board) inputs {
	t.Helper()
	cache, err := qemu.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	in := inputs{cache: cache}
	var kerr, berr, merr error
	in.kernel, kerr = qemu.KernelPath(cache, b)
	in.busybox, berr = qemu.BusyboxPath(cache, b.DebianArch)
	in.modules, merr = image.KernelModulesDir(cache, b)
	_, qerr := exec.LookPath(b.QEMU.Binary)
	if err := errors.Join(kerr, berr, merr, qerr); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the boot test cannot run: %v", err)
		}
		t.Skipf("cannot boot %s: %v (run scripts/setup)", b.Name, err)
	}
	if in.root, err = image.FindModuleRoot("."); err != nil {
		t.Fatal(err)
	}
	return in
}

func boot(t testing.TB, boardName string, comp image.Compression, cfg bootConfig) *guest {
	t.Helper()
	b, err := board.Load(boardName)
	if err != nil {
		t.Fatal(err)
	}
	b.Modules.Names = append(b.Modules.Names, cfg.modules...)
	if !cfg.data.Empty() {
		b.Data = cfg.data
	}
	in := bootInputs(t, b)
	cache, kernel, root := in.cache, in.kernel, in.root
	opts := []image.Option{
		image.WithKernelModules(in.modules),
		image.WithCompression(comp),
		image.WithUnits(filepath.Join(root, "units")),
		image.WithBusybox(in.busybox),
	}
	if !cfg.mtime.IsZero() {
		opts = append(opts, image.WithMtime(cfg.mtime))
	}
	if len(cfg.compress) > 0 {
		opts = append(opts, image.WithCompressOptions(cfg.compress...))
	}
	for name, body := range testUnits {
		opts = append(opts, image.WithFile("/etc/sysmaster/units/"+name, []byte(body), 0o644))
	}
	for p, body := range cfg.files {
		opts = append(opts, image.WithFile(p, []byte(body), 0o644))
	}
	if len(cfg.debs) > 0 {
		opts = append(opts, image.WithPackageSource(image.NewAptSource(root, cache)))
		for _, d := range cfg.debs {
			opts = append(opts, image.WithDeb(d))
		}
	}
	format, err := image.BoardFormat(b, cfg.format)
	if cfg.format == "" {
		format, err = image.LookupFormat("cpio")
	}
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, image.WithFormat(format), image.WithKernel(kernel), image.WithDeviceTreeDir(qemu.DeviceTreeDir(cache, b)))
	dir := t.TempDir()
	out := filepath.Join(dir, format.DefaultName(comp))
	if _, err := image.Build(context.Background(), b, out, opts...); err != nil {
		t.Fatal(err)
	}
	qopts := qemu.Options{
		Board: b, Kernel: kernel, Initrd: out, Cmdline: cfg.cmdline, Monitor: cfg.monitor, HostForwards: cfg.forwards,
		Args:    cfg.args,
		Timeout: 5 * time.Minute,
		Log:     func(l string) { t.Log(l) },
	}
	disk, viaUBoot, err := format.BootDisk(b, out, kernel, dir)
	if err != nil {
		t.Fatal(err)
	}
	if viaUBoot {
		fw, err := qemu.UBootFirmware(cache, b, disk)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and the U-Boot test cannot run: %v", err)
			}
			t.Skipf("cannot boot %s through U-Boot: %v (run scripts/setup)", boardName, err)
		}
		qopts.Firmware = &fw
	}
	vm, err := qemu.Start(context.Background(), qopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return &guest{t: t, vm: vm}
}

func (g *guest) expect(s string, timeout time.Duration) string {
	g.t.Helper()
	line, err := g.vm.Expect(s, timeout)
	if err != nil {
		g.t.Fatal(err)
	}
	return line
}

func (g *guest) expectRE(re string, timeout time.Duration) []string {
	g.t.Helper()
	m, err := g.vm.ExpectRegexp(regexp.MustCompile(re), timeout)
	if err != nil {
		g.t.Fatal(err)
	}
	return m
}

// run types a command at the shell prompt.
func (g *guest) run(cmd string) {
	g.t.Helper()
	if err := g.vm.Send(cmd + "\n"); err != nil {
		g.t.Fatal(err)
	}
}

// booted waits for init and core, then asks the shell until the default
// target is up and checks the units' output. Markers are computed by the
// shell so the echo of a typed command never matches them.
func (g *guest) booted() {
	g.t.Helper()
	g.expectRE(`init: sysmaster init \S+ starting \(kernel uptime [0-9.]+s\)`, 3*time.Minute)
	g.expect("sysmaster: core started", time.Minute)
	g.run("echo SHELL-$((40+2))")
	g.expect("SHELL-42", time.Minute)
	g.run("until sctl is-active default.target >/dev/null; do sleep 0.2; done; echo UP-$((1+2))")
	g.expect("UP-3", time.Minute)
	g.run("sctl log marker.service | grep -q TEST-MARKER-42 && sctl is-active sleeper.service >/dev/null && echo MARKED-$((2+2))")
	g.expect("MARKED-4", time.Minute)
}

// cmd is what is typed: "poweroff" is busybox's applet, which signals
// init; "/sbin/poweroff" is ours, which asks core first.
func (g *guest) poweroff(cmd string) {
	g.t.Helper()
	g.run(cmd)
	g.expect("sysmaster: stopping all units", time.Minute)
	g.expect("init: poweroff", time.Minute)
	g.expect("reboot: Power down", time.Minute)
	if err := g.vm.Wait(time.Minute); err != nil {
		g.t.Fatalf("QEMU did not exit cleanly after poweroff: %v", err)
	}
	// The stop command's output is relayed from the service's log and may
	// reach the console just after core's own last line: both must be
	// there before init powers off, in either order.
	text := g.vm.Transcript()
	stop := text[strings.LastIndex(text, "sysmaster: stopping all units"):strings.LastIndex(text, "init: poweroff")]
	for _, want := range []string{"SLEEPER-STOPPED", "sysmaster: all units stopped"} {
		if !strings.Contains(stop, want) {
			g.t.Errorf("no %q between the stop request and init's poweroff", want)
		}
	}
}

var bootBoards = []string{"qemu-x86_64", "qemu-aarch64", "qemu-armv7", "qemu-riscv64"}

func TestBootAndPoweroff(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, name := range bootBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := bootImage(t, name, image.Gzip)
			g.booted()
			g.run("sctl is-active sleeper.service marker.service && echo ACTIVE-$((1+1))")
			g.expect("ACTIVE-2", time.Minute)
			// Every kind of unit came up.
			g.run("until sctl log timed.service | grep -q TIMER-FIRED; do sleep 0.2; done")
			g.run("sctl is-active ready.service mnt-scratch.mount echo.socket boot.timer default.target && grep -q ' /mnt/scratch tmpfs' /proc/mounts && echo KINDS-$((3+4))")
			g.expect("KINDS-7", time.Minute)
			g.run("busybox timeout 3 busybox nc 127.0.0.1 7777 </dev/null; sctl is-active echo.service && echo SOCKET-$((5+5))")
			g.expect("ACTIVATED fds=1 names=echo", time.Minute)
			g.expect("SOCKET-10", time.Minute)
			// The service has a cgroup of its own, with its limits.
			g.run("[ $(cat /sys/fs/cgroup/escape.service/memory.max) = 33554432 ] && [ $(cat /sys/fs/cgroup/escape.service/pids.max) = 50 ] && grep -qx 0::/sleeper.service /proc/$(sctl show sleeper.service | grep ^MainPID= | cut -d= -f2)/cgroup && echo LIMITS-$((4*4))")
			g.expect("LIMITS-16", time.Minute)
			// Stopping a service kills what escaped its session.
			g.run("ps | grep -q '[s]leep 100001' && sctl stop escape.service && ! ps | grep -q '[s]leep 100001' && echo ESCAPED-KILLED-$((6+6))")
			g.expect("ESCAPED-KILLED-12", time.Minute)
			g.poweroff("poweroff")
		})
	}
}

func TestCoreKilledIsRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, name := range bootBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := bootImage(t, name, image.Zstd)
			g.booted()
			// Boot analysis on the kernel's clock, and a chart of it.
			g.run("sctl analyze | tee /tmp/analyze")
			g.expectRE(`Startup finished in (\d+min )?[0-9.]+m?s \(kernel\) \+ (\d+min )?[0-9.]+m?s \(userspace\) = `, time.Minute)
			g.run(`sctl analyze plot > /tmp/boot.svg && grep -q 'class="kernel"' /tmp/boot.svg && grep -q 'data-unit="sleeper.service"' /tmp/boot.svg && sctl analyze critical-chain | grep -q default.target && echo PLOT-$((8+8))`)
			g.expect("PLOT-16", time.Minute)
			g.run("ls /run/sysmaster/units; sctl show sleeper.service | grep ^MainPID= | cut -d= -f2 > /tmp/sleeper.pid; kill -9 $(pidof sysmaster)")
			g.expectRE(`init: core \(pid \d+\) killed by SIGKILL; restarting it in`, time.Minute)
			g.expect("sysmaster: core started", time.Minute)
			// The shell, the sleeper, the notify, the escape, the device manager and the network manager services.
			g.expect("sysmaster: restored state: 6 running services re-attached", time.Minute)
			// The service kept its process and the system answers.
			g.run(`P=$(cat /tmp/sleeper.pid); kill -0 $P && sctl show sleeper.service | grep -q "^MainPID=$P$" && sctl is-active sleeper.service && echo SAME-PID-$((2+3))`)
			g.expect("SAME-PID-5", time.Minute)
			// The new core tells the same boot.
			g.run("sctl analyze | cmp - /tmp/analyze && echo SAME-BOOT-$((9+9))")
			g.expect("SAME-BOOT-18", time.Minute)
			// Socket units listen again after the crash.
			g.run("busybox timeout 3 busybox nc 127.0.0.1 7777 </dev/null; sctl is-active echo.service && echo SOCKET-AFTER-CRASH-$((1+6))")
			g.expect("SOCKET-AFTER-CRASH-7", time.Minute)
			// A hot upgrade in place keeps every service.
			// ... onto a changed binary: the old one shows as deleted until
			// core re-executes the new file.
			g.run("cp /bin/smbox /tmp/new && echo changed >> /tmp/new && mv /tmp/new /bin/smbox && readlink /proc/$(pidof sysmaster)/exe")
			g.expect("/bin/smbox (deleted)", time.Minute)
			g.run("sctl daemon-reexec; sleep 1; readlink /proc/$(pidof sysmaster)/exe | grep -qv deleted && echo NEW-BINARY-$((4+5))")
			g.expect("NEW-BINARY-9", time.Minute)
			g.run("sleep 0.1; until sctl is-active default.target >/dev/null; do sleep 0.2; done; P=$(cat /tmp/sleeper.pid); kill -0 $P && sctl show sleeper.service | grep -q ^MainPID=$P$ && echo REEXEC-$((3+3))")
			g.expect("REEXEC-6", time.Minute)
			// So does init, as pid 1.
			g.run("sctl reexec-init")
			g.expectRE(`init: sysmaster init \S+ re-executed; core is pid \d+`, time.Minute)
			g.poweroff("/sbin/poweroff")
		})
	}
}

// TestBootEachCompression boots one image per compression the kernel
// reads: the kernel's own decompressor is the judge. gzip and zstd (the
// zstd program's) boot in the tests above; xz also on x86_64 and armv7,
// whose kernels decode the BCJ filter the build then adds (with the host's
// xz), and zstd from the built-in encoder.
func TestBootEachCompression(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	builtin := []image.CompressOption{image.WithZstdTool("none")}
	for _, tt := range []struct {
		board, name string
		comp        image.Compression
		opts        []image.CompressOption
	}{
		{"qemu-aarch64", "", image.None, nil}, {"qemu-aarch64", "", image.XZ, nil}, {"qemu-aarch64", "", image.LZ4, nil},
		{"qemu-x86_64", "", image.XZ, nil}, {"qemu-armv7", "", image.XZ, nil},
		// zstd images come from the zstd program where there is one; this
		// one from the built-in encoder it falls back to.
		{"qemu-aarch64", "built-in", image.Zstd, builtin},
	} {
		name := tt.board + "/" + string(tt.comp)
		if tt.name != "" {
			name += "/" + tt.name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := boot(t, tt.board, tt.comp, bootConfig{compress: tt.opts})
			g.booted()
			g.poweroff("sctl poweroff")
		})
	}
}

// TestCoreCannotRun boots with a core that does not exist: init must say
// so and do what sysmaster.on_failure= asks.
func TestCoreCannotRun(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	g := bootImageWith(t, "qemu-aarch64", image.Gzip, "sysmaster.core=/sbin/missing sysmaster.on_failure=poweroff")
	g.expect("init: cannot start core /sbin/missing", 3*time.Minute)
	g.expect("core cannot run; sysmaster.on_failure=poweroff", time.Minute)
	g.expect("reboot: Power down", time.Minute)
	if err := g.vm.Wait(time.Minute); err != nil {
		t.Fatalf("QEMU did not exit after the failure action: %v", err)
	}
}
