package qemu_test

import (
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// TestIdentity boots with a hostname on the kernel command line, an RTC
// that says 2001 and an image built in 2026: the clock moves up to the
// build time, the hostname is set before services start, a machine id is
// generated, the random seed saved at a stop is loaded and credited at the
// next start, and a clock set back before the saved time moves forward.
func TestIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	built := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := boot(t, "qemu-aarch64", image.Gzip, bootConfig{
		cmdline: "systemd.hostname=appliance-7",
		args:    []string{"-rtc", "base=2001-01-01"},
		mtime:   built,
	})
	g.booted()
	seen(t, g, "before the image's build time; set to 2026-01-01T00:00:00Z", time.Minute)
	g.run("[ $(date +%s) -ge 1767225600 ] && [ $(uname -n) = appliance-7 ] && echo CLOCK-HOST-$((1+1))")
	g.expect("CLOCK-HOST-2", time.Minute)
	g.run("grep -qE '^[0-9a-f]{32}$' /etc/machine-id && sctl log identity.service | grep -q 'machine id '$(cat /etc/machine-id)', generated on first boot' && echo MACHINE-ID-$((1+2))")
	g.expect("MACHINE-ID-3", time.Minute)
	// The first boot finds no seed; a restart saves one and loads it.
	g.run("sctl log random-seed.service | grep -q 'no seed in /var/lib/sysmaster/random-seed yet' && sctl restart random-seed.service && sctl log random-seed.service | grep -q 'loaded 512 bytes from /var/lib/sysmaster/random-seed, credited' && echo SEED-$((2+2))")
	g.expect("SEED-4", time.Minute)
	// A corrupt seed (written after the stop saved a good one) is
	// reported and replaced.
	g.run("sctl stop random-seed.service; echo garbage > /var/lib/sysmaster/random-seed; sctl start random-seed.service; sctl log random-seed.service | grep -q 'corrupt (8 bytes, want 537); ignored' && echo CORRUPT-$((2+3))")
	g.expect("CORRUPT-5", time.Minute)
	// The clock saved at stop is the floor at the next start.
	g.run("sctl stop identity.service && date -s '2001-01-01 00:00:00' >/dev/null && sctl start identity.service && [ $(date +%s) -ge 1767225600 ] && sctl log identity.service | grep -q 'clock was 2001-01-01T00:00:0.Z, before the last saved time' && echo SAVED-CLOCK-$((3+3))")
	g.expect("SAVED-CLOCK-6", time.Minute)
	g.poweroff("poweroff")
}
