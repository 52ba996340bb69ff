package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/dt"

	"github.com/sysmaster-go/sysmaster/board"
)

// formatBoard is an arm64 board that lists every format, with a device
// tree and a Raspberry Pi's firmware files so every part of a boot
// partition is there.
const formatBoard = `
description = "test board"
arch = "arm64"
cmdline = "console=ttyS1,115200 rdinit=/init"
formats = ["sdcard", "cpio", "uimage", "fit", "bootdir"]
[kernel]
package = "linux-image-arm64"
[qemu]
binary = "qemu-system-aarch64"
[boot]
devicetrees = ["vendor/board.dtb"]
kernel_addr = 0x80000
ramdisk_addr = 0x2000000
firmware = "raspberrypi"
config = ["dtoverlay=test"]
data_size = 8
`

// formatFixture holds the inputs of a build in every format.
type formatFixture struct {
	board                   *board.Board
	smbox, kernel, dtbs, fw string
	dtb                     []byte
}

func newFormatFixture(t *testing.T) *formatFixture {
	t.Helper()
	b, err := board.Parse("test.toml", "testboard", []byte(formatBoard))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &formatFixture{board: b, dtbs: filepath.Join(dir, "dtbs"), fw: filepath.Join(dir, "fw")}
	f.smbox = fakeELF(t, "smbox", 183 /* EM_AARCH64 */, 2 /* ELFCLASS64 */, "")
	// A gzip kernel, as Debian's arm64 vmlinuz is.
	f.kernel = writeFile(t, filepath.Join(dir, "vmlinuz"), "\x1f\x8b\x08\x00fake arm64 kernel", 0o644)
	tree := &dt.FDT{Header: dt.Header{Magic: dt.Magic, Version: 17, LastCompVersion: 16},
		RootNode: dt.NewNode("", dt.WithProperty(dt.PropertyString("model", "test board")))}
	var buf bytes.Buffer
	if _, err := tree.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f.dtb = buf.Bytes()
	writeFile(t, filepath.Join(f.dtbs, "vendor", "board.dtb"), string(f.dtb), 0o644)
	for _, n := range []string{"bootcode.bin", "start.elf", "fixup.dat", "README"} {
		writeFile(t, filepath.Join(f.fw, n), "firmware "+n, 0o644)
	}
	return f
}

func (f *formatFixture) build(t *testing.T, format, out string, extra ...Option) *Result {
	t.Helper()
	fm, err := BoardFormat(f.board, format)
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]Option{WithFormat(fm), WithSmbox(f.smbox), WithUnits(""), WithoutKernelModules(),
		WithKernel(f.kernel), WithDeviceTreeDir(f.dtbs), WithFirmwareDir(f.fw),
		WithMtime(time.Unix(1700000000, 0)), WithCompression(Gzip)}, extra...)
	res, err := Build(context.Background(), f.board, out, opts...)
	if err != nil {
		t.Fatalf("build %s: %v", format, err)
	}
	return res
}

// tool returns the path of an independent checker, skipping the test
// when it is missing outside CI (scripts/setup installs it).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (scripts/setup installs it): %v", name, err)
		}
		t.Skipf("%s missing (scripts/setup installs it)", name)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readTree returns every file under dir with its bytes and mtime.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		entry := fi.Mode().String() + " " + fi.ModTime().UTC().String()
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(data)
		}
		files[rel] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readArtifact(t *testing.T, p string) map[string]string {
	t.Helper()
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return readTree(t, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"": string(data)}
}

// TestFormatsReproducible builds every format twice, more than FAT's two
// seconds of time resolution apart, and compares the bytes.
func TestFormatsReproducible(t *testing.T) {
	f := newFormatFixture(t)
	formats := f.board.Formats
	first := map[string]map[string]string{}
	dir1, dir2 := t.TempDir(), t.TempDir()
	for _, fm := range formats {
		f.build(t, fm, filepath.Join(dir1, fm))
		first[fm] = readArtifact(t, filepath.Join(dir1, fm))
	}
	time.Sleep(2100 * time.Millisecond)
	for _, fm := range formats {
		f.build(t, fm, filepath.Join(dir2, fm))
		second := readArtifact(t, filepath.Join(dir2, fm))
		if len(second) != len(first[fm]) {
			t.Errorf("%s: %d files, then %d", fm, len(first[fm]), len(second))
		}
		for name, a := range first[fm] {
			if second[name] != a {
				t.Errorf("%s: %q differs between two builds", fm, name)
			}
		}
	}
}

func TestUImage(t *testing.T) {
	f := newFormatFixture(t)
	dir := t.TempDir()
	cpio := filepath.Join(dir, "initramfs.cpio.gz")
	f.build(t, "cpio", cpio)
	out := filepath.Join(dir, "uInitrd")
	f.build(t, "uimage", out)

	list := runTool(t, "mkimage", "-l", out)
	for _, want := range []string{"Image Name:   testboard initramfs", "AArch64 Linux RAMDisk Image (uncompressed)",
		"Load Address: 02000000", "Created:      Tue Nov 14 22:13:20 2023"} {
		if !strings.Contains(list, want) {
			t.Errorf("mkimage -l: no %q in\n%s", want, list)
		}
	}
	// dumpimage checks both CRCs before it extracts the data.
	got := filepath.Join(dir, "data")
	runTool(t, "dumpimage", "-T", "ramdisk", "-p", "0", "-o", got, out)
	want, _ := os.ReadFile(cpio)
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Errorf("uImage data: %d bytes, not the %d of the initramfs", len(data), len(want))
	}

	// A flipped data byte is caught by the data CRC.
	data, _ := os.ReadFile(out)
	data[100] ^= 1
	bad := writeFile(t, filepath.Join(dir, "bad"), string(data), 0o644)
	if _, _, err := InspectFile(bad); err == nil || !strings.Contains(err.Error(), "data CRC") {
		t.Errorf("inspect of a corrupt uImage: %v, want a data CRC error", err)
	}
}

func TestFIT(t *testing.T) {
	f := newFormatFixture(t)
	dir := t.TempDir()
	cpio := filepath.Join(dir, "initramfs.cpio.gz")
	f.build(t, "cpio", cpio)
	out := filepath.Join(dir, "image.fit")
	f.build(t, "fit", out)

	list := runTool(t, "dumpimage", "-l", out)
	for _, want := range []string{"Type:         Kernel Image", "Compression:  gzip compressed",
		"Load Address: 0x00080000", "Type:         RAMDisk Image", "Type:         Flat Device Tree",
		"Hash algo:    sha256", "Default Configuration: 'conf-1'", "FDT:          fdt-1"} {
		if !strings.Contains(list, want) {
			t.Errorf("dumpimage -l: no %q in\n%s", want, list)
		}
	}
	for i, want := range []string{f.kernel, cpio} {
		got := filepath.Join(dir, "part")
		os.Remove(got)
		runTool(t, "dumpimage", "-T", "flat_dt", "-p", string(rune('0'+i)), "-o", got, out)
		a, _ := os.ReadFile(got)
		b, _ := os.ReadFile(want)
		if !bytes.Equal(a, b) {
			t.Errorf("FIT image %d: not the bytes of %s", i, want)
		}
	}
	got := filepath.Join(dir, "fdt")
	runTool(t, "dumpimage", "-T", "flat_dt", "-p", "2", "-o", got, out)
	if a, _ := os.ReadFile(got); !bytes.Equal(a, f.dtb) {
		t.Errorf("FIT fdt: not the board's device tree")
	}
}

func TestBootdir(t *testing.T) {
	f := newFormatFixture(t)
	out := filepath.Join(t.TempDir(), "boot")
	var log bytes.Buffer
	f.build(t, "bootdir", out, WithProgress(&log))
	files := readTree(t, out)
	for _, name := range []string{"vmlinuz", "initrd.img", "board.dtb", "config.txt", "cmdline.txt",
		"bootcode.bin", "start.elf", "fixup.dat", "extlinux/extlinux.conf"} {
		if _, ok := files[name]; !ok {
			t.Errorf("bootdir: no %s (have %v)", name, files)
		}
	}
	if _, ok := files["README"]; ok {
		t.Error("bootdir: a firmware file that is not the firmware's")
	}
	conf, _ := os.ReadFile(filepath.Join(out, "extlinux/extlinux.conf"))
	for _, want := range []string{"kernel /vmlinuz", "initrd /initrd.img", "fdt /board.dtb", "append console=ttyS1,115200 rdinit=/init"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("extlinux.conf: no %q in\n%s", want, conf)
		}
	}
	config, _ := os.ReadFile(filepath.Join(out, "config.txt"))
	for _, want := range []string{"kernel=vmlinuz", "initramfs initrd.img followkernel", "upstream_kernel=1", "enable_uart=1", "dtoverlay=test"} {
		if !strings.Contains(string(config), want) {
			t.Errorf("config.txt: no %q in\n%s", want, config)
		}
	}

	// Without the firmware the build says so and goes on.
	log.Reset()
	f.fw = ""
	f.build(t, "bootdir", filepath.Join(t.TempDir(), "boot"), WithProgress(&log), WithFirmwareDir(""))
	if !strings.Contains(log.String(), "non-free-firmware") {
		t.Errorf("build without firmware: no word of it in\n%s", log.String())
	}
}

func TestSDCard(t *testing.T) {
	f := newFormatFixture(t)
	dir := t.TempDir()
	cpio := filepath.Join(dir, "initramfs.cpio.gz")
	f.build(t, "cpio", cpio)
	out := filepath.Join(dir, "sdcard.img")
	f.build(t, "sdcard", out)

	var table struct {
		PartitionTable struct {
			Label      string `json:"label"`
			ID         string `json:"id"`
			Partitions []struct {
				Start    int64  `json:"start"`
				Size     int64  `json:"size"`
				Type     string `json:"type"`
				Bootable bool   `json:"bootable"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(runTool(t, "sfdisk", "--json", out)), &table); err != nil {
		t.Fatal(err)
	}
	pt := table.PartitionTable
	if pt.Label != "dos" || len(pt.Partitions) != 2 || pt.ID == "0x00000000" {
		t.Fatalf("sfdisk: %+v, want an MBR with an ID and two partitions", pt)
	}
	if p := pt.Partitions[0]; p.Start != 2048 || p.Type != "c" || !p.Bootable || p.Size < 64<<11 {
		t.Errorf("boot partition %+v, want a bootable FAT32 (c) from sector 2048, 64 MiB or more", p)
	}
	if p := pt.Partitions[1]; p.Type != "83" || p.Size != 8<<11 || p.Start != pt.Partitions[0].Start+pt.Partitions[0].Size {
		t.Errorf("data partition %+v, want 8 MiB of type 83 after the boot partition", p)
	}

	img := out + "@@1M"
	dirList := runTool(t, "mdir", "-i", img, "-/", "::")
	for _, want := range []string{"Volume in drive : is BOOT", "config.txt", "extlinux.conf", "2023-11-14"} {
		if !strings.Contains(dirList, want) {
			t.Errorf("mdir: no %q in\n%s", want, dirList)
		}
	}
	for name, want := range map[string]string{"initrd.img": cpio, "vmlinuz": f.kernel, "board.dtb": filepath.Join(f.dtbs, "vendor/board.dtb")} {
		got := filepath.Join(dir, "got-"+name)
		runTool(t, "mcopy", "-i", img, "::"+name, got)
		a, _ := os.ReadFile(got)
		b, _ := os.ReadFile(want)
		if !bytes.Equal(a, b) {
			t.Errorf("%s on the card: %d bytes, not the %d of %s", name, len(a), len(b), want)
		}
	}
}

func TestInspectFormats(t *testing.T) {
	f := newFormatFixture(t)
	dir := t.TempDir()
	for _, fm := range f.board.Formats {
		out := filepath.Join(dir, fm)
		f.build(t, fm, out)
		got, entries, err := InspectFile(out)
		if err != nil {
			t.Fatalf("inspect %s: %v", fm, err)
		}
		if got != fm {
			t.Errorf("inspect %s: taken for %s", fm, got)
		}
		found := false
		for _, e := range entries {
			found = found || e.Name == "bin/smbox"
		}
		if !found {
			t.Errorf("inspect %s: no bin/smbox among %d entries", fm, len(entries))
		}
	}
}

func TestFormatErrors(t *testing.T) {
	f := newFormatFixture(t)
	if _, err := BoardFormat(f.board, "iso"); err == nil ||
		err.Error() != `board testboard: no format "iso" (its formats: sdcard, cpio, uimage, fit, bootdir)` {
		t.Errorf("unknown format: %v", err)
	}
	b, err := board.Parse("x.toml", "x", []byte(strings.Replace(formatBoard, `"bootdir"]`, `"bootdir", "floppy"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BoardFormat(b, "cpio"); err == nil || !strings.Contains(err.Error(), `board x: formats: format "floppy": unknown format`) {
		t.Errorf("board with an unknown format: %v", err)
	}
	if _, err := LookupFormat("sdcrad"); err == nil || !strings.Contains(err.Error(), `format "sdcrad": unknown format (did you mean sdcard? known: `) {
		t.Errorf("a misspelt format: %v", err)
	}
	if fm, _ := BoardFormat(f.board, ""); fm.Name() != "sdcard" {
		t.Errorf("default format %s, want the board's first", fm.Name())
	}

	// A failed build leaves what was at the output as it was, and nothing
	// beside it.
	dir := t.TempDir()
	for _, fm := range []string{"fit", "sdcard", "bootdir"} {
		out := filepath.Join(dir, fm)
		f.build(t, fm, out)
		before := readArtifact(t, out)
		fmt, _ := BoardFormat(f.board, fm)
		_, err := Build(context.Background(), f.board, out, WithFormat(fmt), WithSmbox(f.smbox), WithUnits(""),
			WithoutKernelModules(), WithKernel(filepath.Join(dir, "no-kernel")), WithDeviceTreeDir(f.dtbs))
		if err == nil || !strings.Contains(err.Error(), "no-kernel") {
			t.Errorf("%s without its kernel: %v", fm, err)
		}
		after := readArtifact(t, out)
		if len(after) != len(before) {
			t.Errorf("%s: a failed build changed the output", fm)
		}
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s: a failed build changed %q", fm, k)
			}
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("output folder holds %v, want only the three artifacts", names)
	}
}
