package qemu_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// TestTinyInitBoot boots each QEMU board with a static Go /init that prints
// one line and powers off: it proves kernel, QEMU flags and console work
// before any sysmaster code is involved.
func TestTinyInitBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, name := range bootBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := board.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			kernel := tinyinitNeedQEMU(t, b)
			initrd := tinyinitImage(t, b)

			start := time.Now()
			vm, err := qemu.Start(context.Background(), qemu.Options{
				Board: b, Kernel: kernel, Initrd: initrd,
				Timeout: 3 * time.Minute, Log: func(l string) { t.Log(l) },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer vm.Kill()
			m, err := vm.ExpectRegexp(regexp.MustCompile(`^tinyinit: hello from pid (\d+)$`), 2*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			first := time.Since(start)
			if m[1] != "1" {
				t.Errorf("init ran as pid %s, want 1", m[1])
			}
			if err := vm.Wait(time.Minute); err != nil {
				t.Fatalf("power off: %v", err)
			}
			t.Logf("%s: first line after %v, powered off after %v",
				name, first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestTinyInitPanic boots a kernel that finds no init: the panic must fail
// the expectation at once, and panic=-1 with -no-reboot must end QEMU.
func TestTinyInitPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	b, err := board.Load("qemu-aarch64")
	if err != nil {
		t.Fatal(err)
	}
	kernel := tinyinitNeedQEMU(t, b)
	initrd := tinyinitImage(t, b)
	vm, err := qemu.Start(context.Background(), qemu.Options{
		Board: b, Kernel: kernel, Initrd: initrd, Cmdline: "rdinit=/missing",
		Timeout: 3 * time.Minute, Log: func(l string) { t.Log(l) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	_, err = vm.Expect("tinyinit: hello", 2*time.Minute)
	if !errors.Is(err, qemu.ErrPanic) {
		t.Fatalf("got %v, want ErrPanic", err)
	}
	if err := vm.Wait(time.Minute); !errors.Is(err, qemu.ErrPanic) {
		t.Fatalf("Wait: got %v, want ErrPanic after QEMU exited", err)
	}
}

// tinyinitNeedQEMU returns the board's kernel, skipping the test when QEMU
// or the kernel is missing, except in CI where that is a failure.
func tinyinitNeedQEMU(t *testing.T, b *board.Board) string {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("CI") == "true" {
		missing = t.Fatalf
	}
	if _, err := exec.LookPath(b.QEMU.Binary); err != nil {
		missing("%s: %v (run scripts/setup)", b.Name, err)
	}
	cache, err := qemu.CacheDir()
	if err != nil {
		missing("%v", err)
	}
	kernel, err := qemu.KernelPath(cache, b)
	if err != nil {
		missing("%v", err)
	}
	return kernel
}

// tinyinitImage cross-compiles testdata/tinyinit for the board and packs it
// as /init in an uncompressed newc cpio.
func tinyinitImage(t *testing.T, b *board.Board) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/tinyinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch, "GOARM="+b.GOARM)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build tinyinit for %s: %v\n%s", b.Arch, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	img := filepath.Join(dir, "initrd.cpio")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := cpio.NewWriter(f)
	hdr := &cpio.Header{Name: "init", Mode: cpio.TypeReg | 0o755, Size: int64(len(data)), Links: 1, Inode: 1}
	if err := w.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return img
}
