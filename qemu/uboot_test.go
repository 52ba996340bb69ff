package qemu_test

import (
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// TestUBoot boots the flash path: U-Boot from Debian's u-boot-qemu as the
// machine's firmware, and on a virtio disk the board's SD card image
// (distro boot finds extlinux/extlinux.conf), or a FAT disk with the
// uImage ramdisk or the FIT and a boot.scr. The test reads U-Boot's own
// lines, then init's, and powers off.
func TestUBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	uboot := map[string][]string{
		"sdcard": {"Scanning virtio 0:1...", "Found /extlinux/extlinux.conf", "Retrieving file: /initrd.img", "Retrieving file: /vmlinuz"},
		"uimage": {"Found U-Boot script /boot.scr", "sysmaster: booting /uInitrd with boot",
			"## Loading init Ramdisk from Legacy Image at ", "Verifying Checksum ... OK"},
		"fit": {"Found U-Boot script /boot.scr", "sysmaster: booting /image.fit with bootm",
			"## Loading kernel from FIT Image at ", "Using 'conf-1' configuration",
			"Verifying Hash Integrity ... sha256+ OK", "## Loading ramdisk from FIT Image at ",
			"## Loading fdt from FIT Image at ", "Booting using the fdt blob"},
	}
	for _, name := range []string{"qemu-aarch64", "qemu-armv7"} {
		for _, format := range []string{"sdcard", "uimage", "fit"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				t.Parallel()
				g := boot(t, name, image.Gzip, bootConfig{format: format})
				g.expect("U-Boot 20", time.Minute)
				for _, l := range uboot[format] {
					g.expect(l, 2*time.Minute)
				}
				g.expect("Starting kernel ...", 2*time.Minute)
				g.booted()
				g.poweroff("poweroff")
			})
		}
	}
}

// TestUBootRaspberryPi3 boots the raspberrypi3 SD card image on QEMU's
// raspi3b machine the way the Pi's firmware would with kernel=u-boot.bin:
// Debian's u-boot-rpi (rpi_arm64) loaded as the kernel with the board's
// device tree, the image as SD card. U-Boot's distro boot finds
// extlinux.conf on the FAT partition and boots the kernel with
// bcm2837-rpi-3-b.dtb; the console is the mini-UART (ttyS1). raspi3b has
// no power controller, so after init's orderly poweroff the kernel halts
// and QEMU is stopped by the test.
func TestUBootRaspberryPi3(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	g := boot(t, "raspberrypi3", image.Gzip, bootConfig{format: "sdcard"})
	// U-Boot prints its banner before its mini-UART driver is up.
	for _, l := range []string{"MMC:   mmc@7e202000", "Hit any key to stop autoboot", "Scanning mmc 0:1...", "Found /extlinux/extlinux.conf", "Retrieving file: /bcm2837-rpi-3-b.dtb", "Starting kernel ..."} {
		g.expect(l, 2*time.Minute)
	}
	g.booted()
	g.run("cat /proc/device-tree/model; echo; cat /proc/cmdline")
	g.expect("Raspberry Pi 3 Model B", time.Minute)
	g.expect("console=ttyS1,115200", time.Minute)
	g.run("poweroff")
	g.expect("sysmaster: all units stopped", time.Minute)
	g.expect("init: poweroff", time.Minute)
	g.expect("reboot: Power down", time.Minute)
}
