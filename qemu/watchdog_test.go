package qemu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// watchdogTimeout is short, so the test runs three timeouts quickly, and
// still well above a pet interval on a loaded host.
const watchdogTimeout = 10 * time.Second

const watchdogSystem = `[Manager]
RuntimeWatchdogSec = "10s"
RebootWatchdogSec = "60s"
`

// A oneshot that loads softdog after boot: init must pick the device up
// when it appears.
const softdogUnit = `[Service]
Type = "oneshot"
ExecStart = "/sbin/modprobe softdog"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`

// TestWatchdog boots with a hardware watchdog and checks that a healthy
// system is not reset for three timeouts (across a re-exec of init), and
// that a core that cannot be brought back lets the watchdog fire.
//
// The cloud kernels of the default boards have no driver for an emulated
// watchdog, so they run softdog, which resets from inside the guest kernel.
// The test boards with Debian's generic kernels drive QEMU's i6300esb,
// whose -watchdog-action pause shows in the monitor that the device, not
// the guest, stopped the machine.
func TestWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, c := range []struct {
		name, board string
		i6300esb    bool
	}{
		{"softdog-x86_64", "qemu-x86_64", false},
		{"softdog-aarch64", "qemu-aarch64", false},
		{"i6300esb-x86_64", "testdata/boards/qemu-x86_64-generic.toml", true},
		{"i6300esb-aarch64", "testdata/boards/qemu-aarch64-generic.toml", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := bootConfig{
				cmdline: "sysmaster.on_failure=hang",
				files:   map[string]string{"/etc/sysmaster/system.toml": watchdogSystem},
			}
			if c.i6300esb {
				cfg.monitor = true
				cfg.args = []string{"-watchdog-action", "pause"}
			} else {
				cfg.modules = []string{"softdog"}
				cfg.files["/etc/sysmaster/units/softdog.service.toml"] = softdogUnit
			}
			g := boot(t, c.board, image.Gzip, cfg)
			g.booted()
			// Printed while booted() looks for the shell, in any order.
			seen(t, g, "init: watchdog: /dev/watchdog0 armed, timeout 10s", 2*time.Minute)
			// The driver was loaded after init started (by devmaster from
			// the PCI alias, or by the unit): init picked the device up.
			if !strings.Contains(g.vm.Transcript(), "init: watchdog: /dev/watchdog0 does not exist yet") {
				t.Fatal("the watchdog device was there before its driver was loaded")
			}

			// Healthy: three timeouts pass without a reset, across a
			// re-exec of init that must keep the device open.
			g.run("sctl reexec-init")
			g.expectRE(`init: sysmaster init \S+ re-executed; core is pid \d+`, time.Minute)
			g.run("sleep 30; echo HEALTHY-$((20+1))")
			g.expect("HEALTHY-21", 2*time.Minute)
			if c.i6300esb {
				status(t, g, "VM status: running")
			}
			if s := g.vm.Transcript(); strings.Contains(s, "softdog: Initiating") || strings.Contains(s, "did not stop") {
				t.Fatalf("the watchdog fired or was closed on a healthy system")
			}

			// Unrecoverable: core's binary is gone and core is killed.
			g.run("rm /sbin/sysmaster; kill -9 $(pidof sysmaster)")
			g.expect("init: watchdog: core cannot be brought back; no longer petting /dev/watchdog0, the board resets within 10s", time.Minute)
			if c.i6300esb {
				deadline := time.Now().Add(3 * watchdogTimeout)
				for {
					out, err := g.vm.Monitor("info status")
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(out, "paused (watchdog)") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the watchdog did not fire within %s: %q", 3*watchdogTimeout, out)
					}
					time.Sleep(time.Second)
				}
				return
			}
			g.expect("softdog: Initiating system reboot", 3*watchdogTimeout)
			if err := g.vm.Wait(time.Minute); err != nil {
				t.Fatalf("QEMU did not exit after the watchdog reset (-no-reboot): %v", err)
			}
		})
	}
}

// seen waits until the console, from the start, shows s.
func seen(t *testing.T, g *guest, s string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(g.vm.Transcript(), s); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the console within %s", s, timeout)
		}
	}
}

func status(t *testing.T, g *guest, want string) {
	t.Helper()
	out, err := g.vm.Monitor("info status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("info status: %q, want %q", out, want)
	}
}
