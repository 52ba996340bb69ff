package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// TestRealBoards builds every format of the boards that only run on
// hardware, with their Debian kernels, device trees and modules from the
// cache, and checks each with an independent reader.
func TestRealBoards(t *testing.T) {
	cache, err := qemu.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		board   string
		console string   // in cmdline.txt / extlinux.conf
		dtbs    []string // on the boot partition
		arch    string   // as mkimage names it
	}{
		{"raspberrypi3", "console=ttyS1,115200", []string{"bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb"}, "AArch64"},
		{"raspberrypi4", "console=ttyS1,115200", []string{"bcm2711-rpi-4-b.dtb"}, "AArch64"},
		{"pc-x86_64", "console=ttyS0,115200", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.board, func(t *testing.T) {
			t.Parallel()
			b, err := board.Load(tt.board)
			if err != nil {
				t.Fatal(err)
			}
			kernel, err := qemu.KernelPath(cache, b)
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			mods, err := KernelModulesDir(cache, b)
			if err != nil {
				t.Fatal(err)
			}
			machine, class, _ := elfMachine(b.Arch)
			smbox := fakeELF(t, "smbox", machine, class, "")
			dir := t.TempDir()
			cpio := filepath.Join(dir, "initramfs.cpio.gz")
			for _, f := range b.Formats {
				fm, err := BoardFormat(b, f)
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, f)
				if f == "cpio" {
					out = cpio
				}
				_, err = Build(context.Background(), b, out, WithFormat(fm), WithSmbox(smbox), WithUnits(""),
					WithKernelModules(mods), WithKernel(kernel), WithDeviceTreeDir(qemu.DeviceTreeDir(cache, b)))
				if err != nil {
					t.Fatalf("build %s: %v", f, err)
				}
			}
			check := func(f string, fn func(out string)) {
				if _, err := b.Format(f); err == nil {
					fn(filepath.Join(dir, f))
				}
			}
			check("uimage", func(out string) {
				if l := runTool(t, "mkimage", "-l", out); !strings.Contains(l, tt.arch+" Linux RAMDisk Image (uncompressed)") {
					t.Errorf("mkimage -l:\n%s", l)
				}
			})
			check("fit", func(out string) {
				l := runTool(t, "dumpimage", "-l", out)
				for _, want := range []string{"Kernel Image", "RAMDisk Image", "Flat Device Tree", "Architecture: " + tt.arch} {
					if !strings.Contains(l, want) {
						t.Errorf("dumpimage -l: no %q in\n%s", want, l)
					}
				}
				got := filepath.Join(dir, "fdt")
				runTool(t, "dumpimage", "-T", "flat_dt", "-p", "2", "-o", got, out)
				a, _ := os.ReadFile(got)
				want, _ := os.ReadFile(filepath.Join(qemu.DeviceTreeDir(cache, b), b.Boot.DeviceTrees[0]))
				if !bytes.Equal(a, want) || len(a) == 0 {
					t.Errorf("FIT fdt is not %s", b.Boot.DeviceTrees[0])
				}
			})
			check("bootdir", func(out string) {
				conf, err := os.ReadFile(filepath.Join(out, extlinuxConf))
				if err != nil || !strings.Contains(string(conf), tt.console) {
					t.Errorf("extlinux.conf without %s: %v\n%s", tt.console, err, conf)
				}
			})
			check("sdcard", func(out string) {
				if l := runTool(t, "sfdisk", "--json", out); !strings.Contains(l, `"type": "c"`) {
					t.Errorf("sfdisk --json: no FAT32 partition in\n%s", l)
				}
				img := out + "@@1M"
				l := runTool(t, "mdir", "-i", img, "-b", "-/", "::")
				for _, want := range append([]string{"::/vmlinuz", "::/initrd.img", "::/extlinux/extlinux.conf"}, tt.dtbs...) {
					if !strings.Contains(l, want) {
						t.Errorf("mdir: no %s in\n%s", want, l)
					}
				}
				got := filepath.Join(dir, "initrd.img")
				runTool(t, "mcopy", "-i", img, "::initrd.img", got)
				a, _ := os.ReadFile(got)
				c, _ := os.ReadFile(cpio)
				if !bytes.Equal(a, c) {
					t.Errorf("initrd.img on the card is not the cpio")
				}
				if b.Boot.Firmware == "raspberrypi" {
					cmdline := filepath.Join(dir, "cmdline.txt")
					runTool(t, "mcopy", "-i", img, "::cmdline.txt", cmdline)
					if data, _ := os.ReadFile(cmdline); !strings.Contains(string(data), tt.console) {
						t.Errorf("cmdline.txt: %q", data)
					}
				}
			})
		})
	}
}
