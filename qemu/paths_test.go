package qemu_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

func TestKernelPath(t *testing.T) {
	b, err := board.Load("qemu-aarch64")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err = qemu.KernelPath(cache, b)
	if !errors.Is(err, qemu.ErrNoKernel) {
		t.Fatalf("empty cache: got %v, want ErrNoKernel", err)
	}
	if want := "run scripts/fetch-kernel qemu-aarch64"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	boot := filepath.Join(cache, "kernel", "qemu-aarch64", "boot")
	writeFile(t, filepath.Join(boot, "config-6.1.0-56-cloud-arm64"))
	if _, err := qemu.KernelPath(cache, b); !errors.Is(err, qemu.ErrNoKernel) {
		t.Fatalf("no vmlinuz: got %v, want ErrNoKernel", err)
	}
	for _, v := range []string{"9", "56", "10"} {
		writeFile(t, filepath.Join(boot, "vmlinuz-6.1.0-"+v+"-cloud-arm64"))
	}
	got, err := qemu.KernelPath(cache, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(boot, "vmlinuz-6.1.0-56-cloud-arm64"); got != want {
		t.Errorf("KernelPath = %s, want the newest %s", got, want)
	}

	bad := *b
	bad.Kernel.File = "vmlinuz-[" // malformed pattern
	if _, err := qemu.KernelPath(cache, &bad); err == nil || errors.Is(err, qemu.ErrNoKernel) {
		t.Errorf("bad pattern: got %v, want a pattern error", err)
	}
}

func TestBusyboxPath(t *testing.T) {
	cache := t.TempDir()
	_, err := qemu.BusyboxPath(cache, "arm64")
	if !errors.Is(err, qemu.ErrNoBusybox) {
		t.Fatalf("empty cache: got %v, want ErrNoBusybox", err)
	}
	if want := "run scripts/fetch-busybox arm64"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if err := os.MkdirAll(filepath.Join(cache, "busybox", "amd64", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := qemu.BusyboxPath(cache, "amd64"); !errors.Is(err, qemu.ErrNoBusybox) {
		t.Errorf("directory: got %v, want ErrNoBusybox", err)
	}
	want := filepath.Join(cache, "busybox", "arm64", "busybox")
	writeFile(t, want)
	if got, err := qemu.BusyboxPath(cache, "arm64"); err != nil || got != want {
		t.Errorf("BusyboxPath = %q, %v; want %q", got, err, want)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("SYSMASTER_CACHE", "")
	dir, err := qemu.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != ".cache" {
		t.Errorf("CacheDir = %s, want <module root>/.cache", dir)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "go.mod")); err != nil {
		t.Errorf("CacheDir = %s, not next to go.mod: %v", dir, err)
	}

	want := t.TempDir()
	t.Setenv("SYSMASTER_CACHE", want)
	if got, err := qemu.CacheDir(); err != nil || got != want {
		t.Errorf("with SYSMASTER_CACHE: CacheDir = %q, %v; want %q", got, err, want)
	}
}

func writeFile(t *testing.T, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
