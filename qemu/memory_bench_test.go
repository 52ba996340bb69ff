package qemu_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// memLine prints Rss and Pss (kB) of each process from smaps_rollup; the
// typed command holds "$p", so its echo never matches memRE.
const memLine = `for p in %s; do echo MEM $(cat /proc/$p/comm) $(grep -E '^(Rss|Pss):' /proc/$p/smaps_rollup | tr -s ' ' | cut -d' ' -f2 | tr '\n' ' ') END; done`

const memRE = `MEM (\S+) (\d+) (\d+) END`

// mapsLine prints Rss and Pss (kB) of each mapping of 8 kB or more from
// /proc/PID/smaps, to see where the memory is (go test -v shows the
// console); the marker is computed so the typed command never matches it.
const mapsLine = `awk '/^[0-9a-f]+-[0-9a-f]+ /{m=$1" "$2" "$6} /^Rss:/{r=$2} /^Pss:/{if(r>=8) print "MAP", m, r, $2}' /proc/%s/smaps; echo MAPS-$((%d+1))`

// BenchmarkPID1Memory boots the default image (the shipped units) and
// reports Rss and Pss of init, core and devmaster once the system is up,
// and again past the first forced collection of core and devmaster (the
// runtime's every two minutes); then the same image with the kernel's
// own fault-around (sysmaster.fault_around=65536), to tell what init's
// default of 4096 does from what the code does; then busybox's init on the
// same kernel for comparison. Figures are kB; docs/BENCHMARKS.md has the
// table.
func BenchmarkPID1Memory(b *testing.B) {
	const boardName = "qemu-x86_64"
	for _, v := range []struct {
		name, cmdline string
		late          bool
	}{
		{"sysmaster", "", true},
		{"sysmaster-fault-around-64k", "sysmaster.fault_around=65536", false},
	} {
		b.Run(v.name, func(b *testing.B) {
			g := boot(b, boardName, image.Gzip, bootConfig{cmdline: v.cmdline})
			g.booted()
			// Settled: coldplug done, liveness checks running, and every
			// process past its second trim (init/pages.SettleTime).
			g.run("sleep 30")
			reportMemory(b, g, "")
			if v.late {
				g.run("sleep 120")
				reportMemory(b, g, "late-")
			}
			g.poweroff("poweroff")
		})
	}
	b.Run("busybox-init", func(b *testing.B) {
		g := bootBusyboxInit(b, boardName)
		g.expect("Please press Enter to activate this console.", 3*time.Minute)
		g.run("")
		g.run("mount -t proc proc /proc; echo SHELL-$((1+1))")
		g.expect("SHELL-2", time.Minute)
		g.run(fmt.Sprintf(memLine, "1"))
		m := g.expectRE(memRE, time.Minute)
		rss, _ := strconv.ParseFloat(m[2], 64)
		pss, _ := strconv.ParseFloat(m[3], 64)
		b.ReportMetric(rss, "init-rss-kB")
		b.ReportMetric(pss, "init-pss-kB")
		g.vm.Kill()
	})
}

// reportMemory reads Rss and Pss of init, core and devmaster.
func reportMemory(b *testing.B, g *guest, prefix string) {
	b.Helper()
	total := 0.0
	for i, proc := range []string{"1", "$(pidof sysmaster)", "$(pidof devmaster)"} {
		g.run(fmt.Sprintf(mapsLine, proc, i))
		g.expect(fmt.Sprintf("MAPS-%d", i+1), 3*time.Minute)
		g.run(fmt.Sprintf(memLine, proc))
		m := g.expectRE(memRE, time.Minute)
		rss, _ := strconv.ParseFloat(m[2], 64)
		pss, _ := strconv.ParseFloat(m[3], 64)
		b.ReportMetric(rss, prefix+m[1]+"-rss-kB")
		b.ReportMetric(pss, prefix+m[1]+"-pss-kB")
		total += pss
	}
	b.ReportMetric(total, prefix+"total-pss-kB")
}

// bootBusyboxInit boots an initramfs holding only busybox, as /init.
func bootBusyboxInit(t testing.TB, boardName string) *guest {
	t.Helper()
	b, err := board.Load(boardName)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := qemu.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := qemu.KernelPath(cache, b)
	if err != nil {
		t.Skip(err)
	}
	bb, err := qemu.BusyboxPath(cache, b.DebianArch)
	if err != nil {
		t.Skip(err)
	}
	tr := image.NewTree()
	if err := tr.AddHostFile("/bin/busybox", bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"/init", "/bin/sh", "/bin/mount", "/bin/grep", "/bin/cat", "/bin/tr", "/bin/cut"} {
		if err := tr.AddSymlink(l, "/bin/busybox"); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "busybox.cpio")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.WriteCPIO(f, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	vm, err := qemu.Start(context.Background(), qemu.Options{
		Board: b, Kernel: kernel, Initrd: img, Timeout: 5 * time.Minute,
		Log: func(l string) { t.Log(l) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return &guest{t: t, vm: vm}
}
