package qemu_test

import (
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// boxedUnit checks, from inside the service, the sandboxing settings that
// need root, on a real kernel: each line it prints is one setting seen to
// work.
const boxedUnit = `[Service]
Type = "oneshot"
RemainAfterExit = true
ExecStart = "/bin/sh -c 'touch /usr/x 2>/dev/null || echo RO-$((1+1)); [ -z \"$(ls -A /tmp)\" ] && echo TMP-$((1+2)); [ -e /dev/null ] && [ ! -e /dev/console ] && echo DEV-$((2+2)); grep -q \"CapBnd:.0000000000000400\" /proc/self/status && echo CAPS-$((2+3)); grep -q \"NoNewPrivs:.1\" /proc/self/status && echo NNP-$((3+3)); [ $(grep -c : /proc/net/dev) = 1 ] && echo NET-$((3+4)); busybox nc 127.0.0.1 1 </dev/null 2>&1 | grep -qi \"not supported\" && echo AF-$((4+4)); [ -d \"$RUNTIME_DIRECTORY\" ] && echo RUNDIR-$((4+5)); ls /root 2>&1 | grep -q denied && echo HOME-$((5+5)); true'"
PrivateTmp = true
ProtectSystem = "strict"
ProtectHome = true
PrivateDevices = true
PrivateNetwork = true
CapabilityBoundingSet = "CAP_NET_BIND_SERVICE"
NoNewPrivileges = true
SystemCallFilter = ["@system-service", "~@mount"]
SystemCallErrorNumber = "EPERM"
RestrictAddressFamilies = "AF_UNIX"
RuntimeDirectory = "boxed"
`

func TestSandboxInGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	g := boot(t, "qemu-x86_64", image.Gzip, bootConfig{files: map[string]string{
		"/etc/sysmaster/units/boxed.service.toml": boxedUnit,
	}})
	g.booted()
	g.run("touch /tmp/host-file; sctl start boxed.service; sctl log boxed.service; sctl is-active boxed.service && echo BOXED-$((6+6))")
	for _, want := range []string{"RO-2", "TMP-3", "DEV-4", "CAPS-5", "NNP-6", "NET-7", "AF-8", "RUNDIR-9", "HOME-10", "BOXED-12"} {
		g.expect(want, time.Minute)
	}
	g.run("[ ! -e /run/boxed ] || sctl stop boxed.service; [ ! -e /run/boxed ] && echo CLEANED-$((7+7))")
	g.expect("CLEANED-14", time.Minute)
	g.poweroff("poweroff")
}
