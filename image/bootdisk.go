package image

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
)

// The artifact's name on a boot disk made for it, and the U-Boot script
// that boots it: distro boot runs /boot.scr when it finds no
// extlinux/extlinux.conf.
const (
	bootScript = "boot.scr"
	uimageName = "uInitrd"
	fitName    = "image.fit"
)

// The U-Boot command that boots a Linux image with a separate initramfs
// and device tree, by GOARCH: booti for an arm64 or RISC-V Image, bootz
// for a 32-bit zImage.
func bootCommand(goarch string) (string, error) {
	switch goarch {
	case "arm64", "riscv64":
		return "booti", nil
	case "arm":
		return "bootz", nil
	}
	return "", fmt.Errorf("no U-Boot command boots a %s kernel with a separate initramfs here", goarch)
}

// A line of a boot script that loads a file of the boot partition.
func loadLine(addr, name string) string {
	return "load ${devtype} ${devnum}:${distro_bootpart} " + addr + " /" + name
}

func (cpioFormat) BootDisk(*board.Board, string, string, string) (string, bool, error) {
	return "", false, nil
}

// An SD card image is the boot disk itself.
func (sdcardFormat) BootDisk(_ *board.Board, path, _, _ string) (string, bool, error) {
	return path, true, nil
}

// A boot folder goes onto a disk as it is.
func (bootdirFormat) BootDisk(_ *board.Board, path, _, dir string) (string, bool, error) {
	var files []bootFile
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(path, p)
		files = append(files, bootFile{name: filepath.ToSlash(rel), src: p})
		return err
	})
	if err != nil {
		return "", true, err
	}
	disk := filepath.Join(dir, "bootdir.img")
	return disk, true, writeDisk(disk, files, time.Unix(fatEpoch, 0), 0)
}

// A uImage ramdisk goes onto a disk with the kernel and a script that
// loads both and hands them to booti/bootz, which check the ramdisk's
// header as bootm does (magic, CRCs, architecture, type). The device tree
// is U-Boot's own: on QEMU's virt machines, QEMU's.
func (uimageFormat) BootDisk(b *board.Board, path, kernel, dir string) (string, bool, error) {
	if kernel == "" {
		return "", true, fmt.Errorf("booting a uImage ramdisk needs the board's kernel")
	}
	cmd, err := bootCommand(b.Arch)
	if err != nil {
		return "", true, err
	}
	script := []string{
		"echo sysmaster: booting /" + uimageName + " with " + cmd,
		"setenv bootargs " + b.Cmdline,
		loadLine("${kernel_addr_r}", bootKernel),
		loadLine("${ramdisk_addr_r}", uimageName),
		cmd + " ${kernel_addr_r} ${ramdisk_addr_r} ${fdtcontroladdr}",
	}
	return scriptDisk(b, dir, script, bootFile{name: bootKernel, src: kernel}, bootFile{name: uimageName, src: path})
}

// A FIT goes onto a disk with a script that loads it and boots its default
// configuration with bootm. It is loaded at ramdisk_addr_r, clear of the
// kernel's load address, where its ramdisk stays.
func (fitFormat) BootDisk(b *board.Board, path, _, dir string) (string, bool, error) {
	script := []string{
		"echo sysmaster: booting /" + fitName + " with bootm",
		"setenv bootargs " + b.Cmdline,
		loadLine("${ramdisk_addr_r}", fitName),
		"bootm ${ramdisk_addr_r}",
	}
	return scriptDisk(b, dir, script, bootFile{name: fitName, src: path})
}

func scriptDisk(b *board.Board, dir string, script []string, files ...bootFile) (string, bool, error) {
	scr := filepath.Join(dir, bootScript)
	os.Remove(scr)
	mtime := time.Unix(fatEpoch, 0)
	if err := uimageScript(scr, b, script, mtime); err != nil {
		return "", true, err
	}
	disk := filepath.Join(dir, "boot.img")
	files = append(files, bootFile{name: bootScript, src: scr})
	return disk, true, writeDisk(disk, files, mtime, 0)
}
