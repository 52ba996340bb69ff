package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The names of the kernel and initramfs on a boot partition.
const (
	bootKernel    = "vmlinuz"
	bootInitramfs = "initrd.img"
	extlinuxConf  = "extlinux/extlinux.conf"
)

// bootFile is one file of a boot partition: a host file or data.
type bootFile struct {
	name string // slash-separated, relative to the partition's root
	src  string
	data []byte
}

func (f bootFile) open() (io.ReadCloser, int64, error) {
	if f.src == "" {
		return io.NopCloser(bytes.NewReader(f.data)), int64(len(f.data)), nil
	}
	r, err := os.Open(f.src)
	if err != nil {
		return nil, 0, err
	}
	fi, err := r.Stat()
	if err != nil {
		r.Close()
		return nil, 0, err
	}
	return r, fi.Size(), nil
}

// bootFirmware is a board's first-stage firmware: the files it needs on
// the boot partition besides kernel, initramfs and device trees.
type bootFirmware interface {
	files(in *Inputs) ([]bootFile, error)
}

func firmwareOf(name string) bootFirmware {
	if name == "raspberrypi" {
		return raspberryPi{}
	}
	return noFirmware{}
}

// noFirmware is a board whose bootloader (U-Boot, a PC's firmware) needs
// nothing on the partition besides what boots Linux.
type noFirmware struct{}

func (noFirmware) files(*Inputs) ([]bootFile, error) { return nil, nil }

// raspberryPi is the Pi's GPU firmware: it reads config.txt, loads the
// kernel, initramfs and device tree named there and passes cmdline.txt.
type raspberryPi struct{}

// raspiFirmwareFiles are the globs of Debian's raspi-firmware package
// (usr/lib/raspi-firmware) that a boot partition needs.
var raspiFirmwareFiles = []string{"bootcode.bin", "start*.elf", "fixup*.dat", "LICENCE.broadcom"}

func (raspberryPi) files(in *Inputs) ([]bootFile, error) {
	b := in.Board
	config := []string{
		"# config.txt for " + b.Name + ", written by smimage",
		"arm_64bit=1",
		"kernel=" + bootKernel,
		"initramfs " + bootInitramfs + " followkernel",
		// The device trees are the mainline kernel's (bcm2837-rpi-3-b.dtb),
		// not the firmware's own names (bcm2710-rpi-3-b.dtb).
		"upstream_kernel=1",
		"enable_uart=1",
	}
	config = append(config, b.Boot.Config...)
	files := []bootFile{
		{name: "config.txt", data: []byte(strings.Join(config, "\n") + "\n")},
		{name: "cmdline.txt", data: []byte(b.Cmdline + "\n")},
	}
	if in.Firmware == "" {
		in.logf("%s: no Raspberry Pi firmware (bootcode.bin, start*.elf, fixup*.dat) on the boot partition: Debian's raspi-firmware is in bookworm's non-free-firmware component, which the private apt index does not carry; pass its usr/lib/raspi-firmware with --firmware DIR, or copy those files onto the partition before booting a real Pi", b.Name)
		return files, nil
	}
	n := 0
	for _, g := range raspiFirmwareFiles {
		matches, err := filepath.Glob(filepath.Join(in.Firmware, g))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			files = append(files, bootFile{name: filepath.Base(m), src: m})
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("firmware folder %s has none of %s", in.Firmware, strings.Join(raspiFirmwareFiles, ", "))
	}
	return files, nil
}

// bootFiles lists a boot partition's files, sorted by name.
func (in *Inputs) bootFiles() ([]bootFile, error) {
	files := []bootFile{
		{name: bootKernel, src: in.Kernel},
		{name: bootInitramfs, src: in.Initramfs},
		{name: extlinuxConf, data: in.extlinux()},
	}
	for _, d := range in.DeviceTrees {
		files = append(files, bootFile{name: path.Base(d.Name), src: d.Path})
	}
	fw, err := firmwareOf(in.Board.Boot.Firmware).files(in)
	if err != nil {
		return nil, err
	}
	files = append(files, fw...)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for i := 1; i < len(files); i++ {
		if files[i].name == files[i-1].name {
			return nil, fmt.Errorf("two files %s on the boot partition", files[i].name)
		}
	}
	return files, nil
}

// extlinux is the extlinux.conf U-Boot's distro boot (and syslinux) reads.
// Without a device tree of its own the bootloader's is used: on QEMU's
// virt machines, the one QEMU made.
func (in *Inputs) extlinux() []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "# %s: %s\n", in.Board.Name, in.Board.Description)
	s.WriteString("default sysmaster\nmenu title sysmaster\ntimeout 1\n\nlabel sysmaster\n")
	fmt.Fprintf(&s, "\tkernel /%s\n\tinitrd /%s\n", bootKernel, bootInitramfs)
	if len(in.DeviceTrees) > 0 {
		fmt.Fprintf(&s, "\tfdt /%s\n", path.Base(in.DeviceTrees[0].Name))
	}
	fmt.Fprintf(&s, "\tappend %s\n", in.Board.Cmdline)
	return []byte(s.String())
}

// bootdirFormat is the files of a boot partition in a folder, to copy onto
// a FAT partition (or serve over TFTP).
type bootdirFormat struct{}

func (bootdirFormat) Name() string                   { return "bootdir" }
func (bootdirFormat) DefaultName(Compression) string { return "boot" }
func (bootdirFormat) NeedsKernel() bool              { return true }

func (bootdirFormat) Write(_ context.Context, in *Inputs, dst string) error {
	files, err := in.bootFiles()
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dst, filepath.FromSlash(f.name))
		for d := path.Dir(f.name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeBootFile(f, p); err != nil {
			return err
		}
		if err := os.Chtimes(p, in.Mtime, in.Mtime); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := os.Chtimes(filepath.Join(dst, filepath.FromSlash(d)), in.Mtime, in.Mtime); err != nil {
			return err
		}
	}
	return os.Chtimes(dst, in.Mtime, in.Mtime)
}

func writeBootFile(f bootFile, p string) error {
	r, _, err := f.open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", f.name, err)
	}
	return w.Close()
}

func (bootdirFormat) Initramfs(p string) (io.ReadCloser, bool, error) {
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return nil, false, err
	}
	f, err := os.Open(filepath.Join(p, bootInitramfs))
	if err != nil {
		return nil, true, fmt.Errorf("boot folder without %s: %w", bootInitramfs, err)
	}
	return f, true, nil
}
