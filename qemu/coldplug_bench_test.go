package qemu_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// BenchmarkColdplug compares devmaster with busybox's mdev on the same
// image and kernel, in one boot per board:
//   - boot: devmaster's own figure for its first coldplug, from its start
//     to an empty queue, loading the modules of every device;
//   - retrigger: `devctl trigger --settle`, every device handled again
//     (rules, links, database, reports to core), modules already loaded;
//   - retrigger-sysfs: `devctl trigger --from-sysfs --settle`, the same
//     with the events made up from sysfs by devmaster (as its first
//     coldplug does) instead of sent by the kernel;
//   - mdev: `mdev -s`, which walks /sys once and makes the nodes;
//   - devctl-ping: `devctl ping`, the part of retrigger that is starting
//     devctl and one request.
//
// The last three are timed on the guest's clock, less the same for a
// command that does nothing; the best of five runs is kept.
//
// SYSMASTER_BENCH_ICOUNT=N runs the guests with QEMU's -icount shift=N:
// guest time then advances by 2^N ns per instruction, so the figures
// count work done and no longer move with the host's load (they are
// not comparable with figures taken without it).
func BenchmarkColdplug(b *testing.B) {
	var cfg bootConfig
	if n := os.Getenv("SYSMASTER_BENCH_ICOUNT"); n != "" {
		if _, err := strconv.ParseUint(n, 10, 8); err != nil {
			b.Fatalf("SYSMASTER_BENCH_ICOUNT=%q: want a shift such as 4", n)
		}
		cfg.args = []string{"-icount", "shift=" + n}
	}
	for _, name := range bootBoards {
		b.Run(name, func(b *testing.B) {
			g := boot(b, name, image.Gzip, cfg)
			g.booted()
			g.run("sctl log devmaster.service | grep 'coldplug:'")
			m := g.expectRE(`coldplug: (\d+) devices in ([0-9.]+)(ms|s)`, time.Minute)
			boot, _ := strconv.ParseFloat(m[2], 64)
			if m[3] == "s" {
				boot *= 1000
			}
			base := g.timed("true", 5)
			retrigger := g.timed("devctl trigger --settle >/dev/null", 5) - base
			sysfs := g.timed("devctl trigger --from-sysfs --settle >/dev/null", 5) - base
			mdev := g.timed("mdev -s", 5) - base
			// What of the retrigger is devctl's own start: a Go binary
			// of several megabytes, under emulation.
			ping := g.timed("devctl ping >/dev/null", 5) - base
			b.ReportMetric(boot, "boot-coldplug-ms")
			b.ReportMetric(float64(retrigger.Microseconds())/1000, "retrigger-ms")
			b.ReportMetric(float64(mdev.Microseconds())/1000, "mdev-ms")
			b.ReportMetric(float64(ping.Microseconds())/1000, "devctl-ping-ms")
			b.ReportMetric(float64(sysfs.Microseconds())/1000, "retrigger-sysfs-ms")
			b.ReportMetric(float64(retrigger)/float64(mdev), "retrigger/mdev")
			b.ReportMetric(float64(sysfs)/float64(mdev), "retrigger-sysfs/mdev")
			b.ReportMetric(0, "ns/op")
			b.Logf("%s: %s devices; boot coldplug %.0f ms; retrigger %v, from sysfs %v (devctl ping %v); mdev -s %v",
				name, m[1], boot, retrigger, sysfs, ping, mdev)
			g.poweroff("poweroff")
		})
	}
}

// guestClock defines t, which prints the guest's monotonic clock in ns
// ("now at N nsecs" in /proc/timer_list): busybox's date has no %N.
const guestClock = `t() { set -- $(head -3 /proc/timer_list | tail -1); echo $3; }`

// timed runs cmd at the shell n times and returns the quickest, on the
// guest's own clock (with -icount, one that counts instructions). Reading
// the clock costs two subshells: callers subtract a run of "true".
func (g *guest) timed(cmd string, n int) time.Duration {
	g.t.Helper()
	g.run(guestClock)
	best := time.Duration(1<<63 - 1)
	for i := range n {
		marker := fmt.Sprintf("T%d-%d", i, time.Now().UnixNano()%1000000)
		// The marker is computed by the shell, so its echo never matches.
		g.run(fmt.Sprintf("s=$(t); %s; e=$(t); echo DONE-%s-$((1+1))-$(( (e-s)/1000 ))us", cmd, marker))
		m := g.expectRE(regexp.QuoteMeta("DONE-"+marker+"-2-")+`(\d+)us`, time.Minute)
		us, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			g.t.Fatalf("%s: bad time %q", cmd, m[1])
		}
		best = min(best, time.Duration(us)*time.Microsecond)
	}
	return best
}
