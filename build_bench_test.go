package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// BenchmarkImageBuild times `smimage build` of the default board's image
// (what `make image` runs) cold and warm. Cold is an empty Go build cache
// (GOCACHE in a new folder: the standard library, the modules and smbox
// all compile) and no output yet; warm is the same command again with
// that cache and the output in place. Downloads are not part of either:
// the Go modules, the kernel's modules and busybox are already in their
// caches (scripts/setup), as they are after a first build. smimage itself
// is compiled beforehand, outside the timing.
func BenchmarkImageBuild(b *testing.B) {
	root, err := image.FindModuleRoot(".")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	smimage := filepath.Join(dir, "smimage")
	if out, err := exec.Command("go", "build", "-o", smimage, "./image/cmd/smimage").CombinedOutput(); err != nil {
		b.Fatalf("go build smimage: %v\n%s", err, out)
	}
	cache := os.Getenv("SYSMASTER_CACHE")
	if cache == "" {
		cache = filepath.Join(root, ".cache")
	}
	out := filepath.Join(dir, "out", "qemu-x86_64", "initramfs.cpio.gz")
	build := func(gocache string) time.Duration {
		cmd := exec.Command(smimage, "build", "--board", "qemu-x86_64", "--busybox", "cache", "-q", "-o", out)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOCACHE="+gocache, "SYSMASTER_CACHE="+cache)
		start := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Skipf("smimage build: %v: %s (run scripts/setup)", err, msg)
		}
		return time.Since(start)
	}
	var cold, warm time.Duration
	for i := 0; i < b.N; i++ {
		gocache := filepath.Join(dir, "gocache", time.Now().Format("150405.000000000"))
		if err := os.MkdirAll(gocache, 0o755); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
		cold += build(gocache)
		warm += build(gocache)
		os.RemoveAll(gocache)
	}
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cold.Milliseconds())/float64(b.N), "cold-ms")
	b.ReportMetric(float64(warm.Milliseconds())/float64(b.N), "warm-ms")
	b.ReportMetric(float64(st.Size()), "image-bytes")
	b.ReportMetric(0, "ns/op")
}
