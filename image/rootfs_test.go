package image

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildRoot(t *testing.T) {
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		t.Skipf("mksquashfs: %v", err)
	}
	b := loadBoard(t, "qemu-aarch64")
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/x\n", 0o644)
	writeFile(t, filepath.Join(root, "units", "x.service.toml"), "[Service]\nExecStart = \"/bin/x\"\n", 0o644)
	smbox := fakeELF(t, "smbox", elf.EM_AARCH64, elf.ELFCLASS64, "")
	dir := t.TempDir()
	out, sqfs := filepath.Join(dir, "initramfs"), filepath.Join(dir, "root.squashfs")
	res, err := BuildRoot(context.Background(), b, out, sqfs, WithSmbox(smbox), WithModuleRoot(root), WithoutKernelModules())
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	f, err := os.Open(sqfs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(head); err != nil || string(head) != "hsqs" || res.RootBytes == 0 {
		t.Fatalf("root is not a squashfs: %q, %v", head, err)
	}
	// The first stage has init and the mount point, not the units.
	m := entryMap(t, out)
	for _, p := range []string{"init", "bin/smbox", "sysroot", "dev/console"} {
		if _, ok := m[p]; !ok {
			t.Errorf("first stage lacks %s", p)
		}
	}
	if _, ok := m["etc/sysmaster/units/x.service.toml"]; ok {
		t.Error("the units went into the first stage")
	}
	if _, ok := m["sbin/modprobe"]; ok {
		t.Error("the first stage has sbin/modprobe: init links it")
	}
	if ls, err := exec.Command("unsquashfs", "-l", sqfs).Output(); err == nil {
		for _, p := range []string{"squashfs-root/etc/sysmaster/units/x.service.toml", "squashfs-root/sbin/init", "squashfs-root/sbin/modprobe", "squashfs-root/etc/machine-id", "squashfs-root/var", "squashfs-root/dev/console"} {
			if !strings.Contains(string(ls), p+"\n") {
				t.Errorf("root lacks %s:\n%s", p, ls)
			}
		}
	}
}
