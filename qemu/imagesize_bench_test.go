package qemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// urootVersion is the u-root release whose minimal image is the peer.
const urootVersion = "v0.16.0"

// BenchmarkImageSize builds the default image (smbox with every applet,
// busybox for the console shell, the board's kernel modules) in each
// compression, and u-root's minimal image (its init and gosh, built by
// u-root's own tool) compressed by the same compressors, and reports the
// bytes of each. The xz figures take the BCJ filter the build picks for
// the board's kernel, for both images.
func BenchmarkImageSize(b *testing.B) {
	brd, err := board.Load("qemu-x86_64")
	if err != nil {
		b.Fatal(err)
	}
	cache, err := qemu.CacheDir()
	if err != nil {
		b.Fatal(err)
	}
	busybox, err := qemu.BusyboxPath(cache, brd.DebianArch)
	if err != nil {
		b.Skipf("no busybox: %v (run scripts/setup)", err)
	}
	mods, err := image.KernelModulesDir(cache, brd)
	if err != nil {
		b.Skipf("no modules: %v (run scripts/setup)", err)
	}
	dir := b.TempDir()
	comps := []image.Compression{image.Gzip, image.Zstd, image.XZ}
	ours := map[image.Compression]int64{}
	by := map[image.Compression]string{} // what compressed xz and zstd
	var zstdBuiltin int64
	build := func(c image.Compression, opts ...image.Option) (int64, string) {
		var log bytes.Buffer
		opts = append([]image.Option{image.WithKernelModules(mods), image.WithBusybox(busybox),
			image.WithCompression(c), image.WithProgress(&log)}, opts...)
		res, err := image.Build(context.Background(), brd, filepath.Join(dir, "ours.cpio"+c.Ext()), opts...)
		if err != nil {
			b.Fatal(err)
		}
		var used string
		for _, l := range strings.Split(log.String(), "\n") {
			if u, ok := strings.CutPrefix(l, string(c)+": "); ok {
				used = u
			}
		}
		return res.CompressedBytes, used
	}
	for i := 0; i < b.N; i++ {
		for _, c := range comps {
			ours[c], by[c] = build(c)
		}
		// The encoder a machine without the zstd program falls back to.
		zstdBuiltin, _ = build(image.Zstd, image.WithCompressOptions(image.WithZstdTool("none")))
	}
	for _, c := range comps {
		b.ReportMetric(float64(ours[c]), "ours-"+string(c)+"-bytes")
	}
	b.ReportMetric(float64(zstdBuiltin), "ours-zstd-builtin-bytes")
	// The target: the default (zstd) image under 3 MiB.
	b.ReportMetric(float64(ours[image.Zstd])/(3<<20), "zstd-of-3MiB")
	b.Logf("ours: gzip %s, zstd %s (%s; built-in encoder %s), xz %s (%s)", mib(ours[image.Gzip]),
		mib(ours[image.Zstd]), by[image.Zstd], mib(zstdBuiltin), mib(ours[image.XZ]), by[image.XZ])

	raw, err := buildURoot(b, dir, brd.Arch)
	if err != nil {
		b.Logf("u-root %s: not built: %v", urootVersion, err)
		return
	}
	var filter []image.CompressOption
	if cfg, _, err := image.KernelConfig(mods); err == nil {
		if f := image.XZFilterFor(brd.Arch, cfg); f != "" {
			filter = append(filter, image.WithXZFilter(f))
		}
	}
	peer := map[image.Compression]int64{}
	for _, c := range comps {
		var opts []image.CompressOption
		if c == image.XZ {
			opts = filter
		}
		n, err := compressedSize(raw, c, opts...)
		if err != nil {
			b.Fatal(err)
		}
		peer[c] = n
		b.ReportMetric(float64(n), "uroot-"+string(c)+"-bytes")
	}
	b.Logf("u-root %s init+gosh: raw %s, gzip %s, zstd %s, xz %s", urootVersion, mib(int64(len(raw))),
		mib(peer[image.Gzip]), mib(peer[image.Zstd]), mib(peer[image.XZ]))
	b.ReportMetric(0, "ns/op")
}

// buildURoot runs u-root's own tool, from its module, for its minimal
// image: init and gosh in one busybox-style binary. It returns the
// uncompressed cpio.
func buildURoot(b *testing.B, dir, goarch string) ([]byte, error) {
	mod := "github.com/u-root/u-root@" + urootVersion
	dl := exec.Command("go", "mod", "download", "-json", mod)
	out, err := dl.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s", mod, err, info.Error)
	}
	cpio := filepath.Join(dir, "uroot.cpio")
	cmd := exec.Command("go", "run", ".", "-o", cpio, "-initcmd", "init", "-defaultsh", "gosh",
		"./cmds/core/init", "./cmds/core/gosh")
	cmd.Dir = info.Dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("u-root: %w\n%s", err, msg)
	}
	return os.ReadFile(cpio)
}

func compressedSize(raw []byte, c image.Compression, opts ...image.CompressOption) (int64, error) {
	var n countWriter
	zw, err := image.NewCompressor(&n, c, opts...)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(zw, bytes.NewReader(raw)); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
