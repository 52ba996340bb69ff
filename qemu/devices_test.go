package qemu_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
)

// deviceFiles are what the device test adds to the image: a rule that
// links and restricts the hardware RNG, and a unit ordered after the link.
var deviceFiles = map[string]string{
	"/etc/devmaster/rules.d/70-test.toml": `[[rule]]
action = "add"
subsystem = "misc"
kernel = "hw_random"
mode = "0640"
symlink = ["test-rng"]

# A disk with the test label: a program runs and a unit starts for it.
[[rule]]
action = "add"
subsystem = "block"
env = { ID_FS_LABEL = "SMDATA" }
run = ["/bin/sh", "-c", "echo $kernel > /run/ran-for-$kernel"]
start = ["data-ready.service"]
`,
	"/etc/sysmaster/units/data-ready.service.toml": `[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'echo DATA-READY-$((30+3))'"
`,
	"/etc/sysmaster/units/rng-user.service.toml": `[Unit]
Description = "Needs the RNG link"
After = ["dev-test\\x2drng.device"]
[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'if [ -e /dev/test-rng ]; then echo RNG-USER-SAW-$((20+1)); else echo RNG-USER-TOO-EARLY; fi'"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
}

// fakeExt4 writes a disk image whose only content is an ext4 superblock:
// enough for devmaster's probe, which reads nothing else.
func fakeExt4(t *testing.T, uuid [16]byte, label string) string {
	t.Helper()
	sb := make([]byte, 4096)
	const off = 1024
	binary.LittleEndian.PutUint16(sb[off+0x38:], 0xEF53)
	binary.LittleEndian.PutUint32(sb[off+0x4C:], 1)    // dynamic revision
	binary.LittleEndian.PutUint32(sb[off+0x5C:], 0x4)  // has_journal
	binary.LittleEndian.PutUint32(sb[off+0x60:], 0x42) // filetype, extents: ext4
	copy(sb[off+0x68:], uuid[:])
	copy(sb[off+0x78:], label)
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(sb); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	return p
}

// hotplug says how the device test plugs a disk into a running board.
type hotplug struct {
	device string // device_add argument for drive hd1
	dev    string // the kernel's name for the disk
	byID   string // its /dev/disk/by-id link; "" when the default rules make none
}

var hotplugs = map[string]hotplug{
	"qemu-x86_64":  {"virtio-blk-pci,drive=hd1,id=vd1,serial=smtest01,bus=hotplug0", "vda", "virtio-smtest01"},
	"qemu-aarch64": {"virtio-blk-pci,drive=hd1,id=vd1,serial=smtest01,bus=hotplug0", "vda", "virtio-smtest01"},
	// Debian's armmp-lpae and riscv64 kernels lack PCI hotplug: the disk
	// comes on the board's virtio-scsi bus, and sd_mod is loaded for it.
	"qemu-armv7":   {"scsi-hd,drive=hd1,id=sd1,serial=smtest01,bus=scsi0.0", "sda", ""},
	"qemu-riscv64": {"scsi-hd,drive=hd1,id=sd1,serial=smtest01,bus=scsi0.0", "sda", ""},
}

// coldplugModules are the drivers of devices every test board has at boot;
// the test expects those the board carries as modules to be loaded.
var coldplugModules = []string{"virtio_net", "virtio_rng", "virtio_console", "virtio_scsi"}

// TestDevices boots with the NIC, RNG and console port drivers as modules:
// devmaster must load them by modalias during coldplug, apply the rules,
// let a unit wait for a device, and link a hotplugged disk by id, uuid and
// label.
func TestDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, name := range bootBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			hp, ok := hotplugs[name]
			if !ok {
				t.Fatalf("no hotplug method for %s", name)
			}
			b, err := board.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			var mods []string
			for _, m := range coldplugModules {
				if slices.Contains(b.Modules.Names, m) {
					mods = append(mods, m)
				}
			}
			uuid := [16]byte{0x5e, 0xc7, 0x3a, 0x01, 0x12, 0x34, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67}
			const uuidText = "5ec73a01-1234-4567-89ab-cdef01234567"
			disk := fakeExt4(t, uuid, "SMDATA")
			g := boot(t, name, image.Gzip, bootConfig{files: deviceFiles, monitor: true})
			g.booted()
			// Ready (Type=notify) only once coldplug is done.
			g.run("sctl is-active devmaster.service && sctl log devmaster.service | grep -q 'coldplug: [0-9]* devices in' && echo DEVMASTER-$((3+3))")
			g.expect("DEVMASTER-6", time.Minute)

			// The drivers came in as modules, by modalias.
			g.run(fmt.Sprintf(`n=0; for m in %s; do grep -q "^$m " /proc/modules && n=$((n+1)); done; echo MODULES-$n-of-%d`, strings.Join(mods, " "), len(mods)))
			g.expect(fmt.Sprintf("MODULES-%d-of-%d", len(mods), len(mods)), time.Minute)
			g.run("ip link show eth0 >/dev/null && echo ETH0-$((1+1))")
			g.expect("ETH0-2", time.Minute)
			g.run("readlink /dev/virtio-ports/org.sysmaster.port0")
			g.expect("vport", time.Minute)

			// The test rule: a link, and a mode that overrides the default.
			g.run("echo RNG $(readlink /dev/test-rng) $(stat -c %a /dev/hwrng)")
			g.expect("RNG hwrng 640", time.Minute)
			// The unit ordered after the link started once it existed.
			g.run("sctl log rng-user.service")
			g.expect("RNG-USER-SAW-21", time.Minute)
			g.run("sctl is-active dev-test\\\\x2drng.device && echo DEVICE-UNIT-$((2+5))")
			g.expect("DEVICE-UNIT-7", time.Minute)
			// The udev database, for programs that read it.
			g.run("grep -l '^S:test-rng$' /run/udev/data/* >/dev/null && echo UDEV-DB-$((4+4))")
			g.expect("UDEV-DB-8", time.Minute)

			// Hotplug a disk: its driver is loaded for it, and its
			// filesystem is probed for the by-uuid and by-label links.
			if out, err := g.vm.Monitor("drive_add 0 if=none,id=hd1,format=raw,file=" + disk); err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("drive_add: %q %v", out, err)
			}
			if out, err := g.vm.Monitor("device_add " + hp.device); err != nil || out != "" {
				t.Fatalf("device_add: %q %v", out, err)
			}
			want := "../../" + hp.dev
			links := fmt.Sprintf("$(readlink /dev/disk/by-uuid/%s) $(readlink /dev/disk/by-label/SMDATA)", uuidText)
			wantLinks := want + " " + want
			if hp.byID != "" {
				links += " $(readlink /dev/disk/by-id/" + hp.byID + ")"
				wantLinks += " " + want
			}
			g.run("until [ -e /dev/disk/by-label/SMDATA ]; do sleep 0.2; done; echo LINKS " + links)
			g.expect("LINKS "+wantLinks, 2*time.Minute)
			g.run("devctl info /dev/" + hp.dev + " | grep -q '^E: ID_FS_UUID=" + uuidText + "$' && devctl settle && [ -e /run/ran-for-" + hp.dev + " ] && sctl log data-ready.service | grep -q DATA-READY-33 && echo INFO-$((5+4))")
			g.expect("INFO-9", time.Minute)

			// modprobe on its own: out and back in, and a clear error. (By
			// path: busybox's shell prefers its own applet of that name.)
			g.run("/sbin/modprobe -r virtio_rng && ! grep -q '^virtio_rng ' /proc/modules && /sbin/modprobe virtio_rng && grep -q '^virtio_rng ' /proc/modules && echo MODPROBE-$((6+1))")
			g.expect("MODPROBE-7", time.Minute)
			g.run("/sbin/modprobe no_such_module")
			g.expect("modprobe: FATAL: module no_such_module not found in directory /lib/modules/", time.Minute)
			g.poweroff("poweroff")
		})
	}
}
