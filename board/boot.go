package board

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Boot says how the board's bootloader finds the kernel, initramfs and
// device tree: what the uimage, fit, bootdir and sdcard formats are made of.
type Boot struct {
	// DeviceTrees are paths under the kernel package's device tree folder
	// (usr/lib/linux-image-VERSION, kept by scripts/fetch-kernel as dtbs/),
	// such as "broadcom/bcm2837-rpi-3-b.dtb". The first one goes into a FIT
	// and names the fdt of extlinux.conf; all go onto the boot partition.
	DeviceTrees []string `toml:"devicetrees"`
	// QEMUDeviceTree takes the device tree QEMU generates for the board's
	// machine (-machine dumpdtb) when the board has no file of its own:
	// QEMU's virt machines.
	QEMUDeviceTree bool `toml:"qemu_devicetree"`
	// KernelAddr and RamdiskAddr are where U-Boot places the kernel and
	// initramfs of a FIT or uImage (its kernel_addr_r and ramdisk_addr_r).
	KernelAddr  uint64 `toml:"kernel_addr"`
	RamdiskAddr uint64 `toml:"ramdisk_addr"`
	// FDTAddr, when set, is where U-Boot copies a FIT's device tree;
	// otherwise it is used where it lies in the FIT, 4-byte aligned,
	// which 32-bit ARM kernels refuse (they want 8).
	FDTAddr uint64 `toml:"fdt_addr"`
	// Firmware names the first-stage firmware whose files a boot partition
	// carries: "" for none (U-Boot, a PC firmware), "raspberrypi" for the
	// Raspberry Pi's (config.txt, cmdline.txt, start*.elf, …).
	Firmware string `toml:"firmware"`
	// Config are lines of the firmware's configuration (a Pi's config.txt)
	// after the ones the image builder writes.
	Config []string `toml:"config"`
	// DataSize is the size in MiB of a second, empty partition of an SD-card
	// image (0: none).
	DataSize int64 `toml:"data_size"`
	// UBoot names how QEMU starts U-Boot for the board: a folder of Debian's
	// u-boot-qemu or u-boot-rpi under /usr/lib/u-boot ("qemu_arm64",
	// "rpi_arm64"), "" when the board has no U-Boot boot under QEMU.
	UBoot string `toml:"uboot"`
	// UBootSD has QEMU load U-Boot as a kernel, with the device tree of
	// boot.devicetrees[0] and the disk as the SD card, as a Raspberry Pi's
	// firmware would; otherwise U-Boot is the machine's firmware (-bios)
	// and the disk a virtio disk.
	UBootSD bool `toml:"uboot_sd"`
}

// DefaultFormat is the format a board without a formats key produces.
const DefaultFormat = "cpio"

// Format returns the format named name, "" meaning the board's default
// (the first of formats). A name the board does not list is an error that
// names the board and the ones it does.
func (b *Board) Format(name string) (string, error) {
	if name == "" {
		return b.Formats[0], nil
	}
	for _, f := range b.Formats {
		if f == name {
			return f, nil
		}
	}
	return "", fmt.Errorf("board %s: no format %q (its formats: %s)", b.Name, name, strings.Join(b.Formats, ", "))
}

func (b *Board) validateBoot() error {
	if len(b.Formats) == 0 {
		b.Formats = []string{DefaultFormat}
	}
	seen := make(map[string]bool)
	for i, f := range b.Formats {
		if !validName(f, "-_") {
			return fmt.Errorf("formats[%d]: %q is not a format name", i, f)
		}
		if seen[f] {
			return fmt.Errorf("formats[%d]: %q is listed twice", i, f)
		}
		seen[f] = true
	}
	for i, d := range b.Boot.DeviceTrees {
		if d == "" || path.IsAbs(d) || path.Clean(d) != d || strings.HasPrefix(d, "../") {
			return fmt.Errorf("boot.devicetrees[%d]: %q is not a relative path such as \"broadcom/bcm2837-rpi-3-b.dtb\"", i, d)
		}
	}
	if len(b.Boot.DeviceTrees) > 0 && b.Boot.QEMUDeviceTree {
		return errors.New("boot: devicetrees and qemu_devicetree exclude each other")
	}
	switch b.Boot.Firmware {
	case "", "raspberrypi":
	default:
		return fmt.Errorf("boot.firmware: %q is not a known firmware (want \"raspberrypi\" or none)", b.Boot.Firmware)
	}
	if b.Boot.DataSize < 0 {
		return fmt.Errorf("boot.data_size: %d is negative", b.Boot.DataSize)
	}
	if u := b.Boot.UBoot; u != "" && !validName(u, "-_") {
		return fmt.Errorf("boot.uboot: %q is not a U-Boot build name such as \"qemu_arm64\"", u)
	}
	return nil
}
