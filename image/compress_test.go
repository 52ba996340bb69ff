package image

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// bigTree has enough content for several compressor blocks' worth of work.
func bigTree(t *testing.T) *Tree {
	t.Helper()
	tr := sampleTree(t)
	var data bytes.Buffer
	for i := 0; data.Len() < 256<<10; i++ {
		fmt.Fprintf(&data, "line %d of some fairly compressible text %x\n", i, i*7919)
	}
	if err := tr.AddFile("/usr/share/big", data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCompressRoundTrip(t *testing.T) {
	var raw bytes.Buffer
	if _, err := bigTree(t).WriteCPIO(&raw, time.Unix(42, 0)); err != nil {
		t.Fatal(err)
	}
	want, err := Inspect(bytes.NewReader(raw.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c      Compression
		prefix []byte
		tool   []string // host command that must decompress it, when installed
	}{
		{None, []byte("070701"), nil},
		{Gzip, []byte{0x1f, 0x8b, 8}, []string{"gzip", "-dc"}},
		// Byte 7 is the check type of the stream flags: 0x01 is CRC32.
		{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 0x01}, []string{"xz", "-dc"}},
		{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dc"}},
		{LZ4, []byte{0x02, 0x21, 0x4c, 0x18}, []string{"lz4", "-dc"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.c), func(t *testing.T) {
			compress := func() []byte { out, _ := compressBytes(t, tt.c, raw.Bytes()); return out }
			out := compress()
			if !bytes.HasPrefix(out, tt.prefix) {
				t.Errorf("starts with % x, want % x", out[:min(len(out), 8)], tt.prefix)
			}
			if again := compress(); !bytes.Equal(out, again) {
				t.Error("two compressions of the same input differ")
			}
			if c, ok := DetectCompression(out); !ok || c != tt.c {
				t.Errorf("DetectCompression = %q, %v", c, ok)
			}
			rc, c, err := Decompress(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
			if c != tt.c || !bytes.Equal(back, raw.Bytes()) {
				t.Errorf("Decompress: kind %q, %d bytes back of %d", c, len(back), raw.Len())
			}
			got, err := Inspect(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Inspect differs from the raw archive's")
			}
			if tt.tool == nil {
				return
			}
			if _, err := exec.LookPath(tt.tool[0]); err != nil {
				t.Logf("%s not installed; host check skipped", tt.tool[0])
				return
			}
			cmd := exec.Command(tt.tool[0], tt.tool[1:]...)
			cmd.Stdin = bytes.NewReader(out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			host, err := cmd.Output()
			if err != nil || !bytes.Equal(host, raw.Bytes()) {
				t.Errorf("%s: %v (%d bytes of %d) %s", strings.Join(tt.tool, " "), err, len(host), raw.Len(), stderr.String())
			}
		})
	}
}

func TestParseCompression(t *testing.T) {
	tests := []struct {
		in      string
		want    Compression
		wantErr bool
	}{
		{"none", None, false},
		{"gzip", Gzip, false},
		{"gz", Gzip, false},
		{"XZ", XZ, false},
		{"zstd", Zstd, false},
		{".zst", Zstd, false},
		{"lz4", LZ4, false},
		{"bzip2", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseCompression(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCompression(%q) = %q, %v", tt.in, got, err)
		}
	}
	if _, err := ParseCompression("zstdd"); err == nil || !strings.Contains(err.Error(), "did you mean zstd?") {
		t.Errorf("ParseCompression(zstdd): %v, want a suggestion of zstd", err)
	}
	for _, c := range Compressions() {
		if _, err := NewCompressor(io.Discard, c); err != nil {
			t.Errorf("NewCompressor(%s): %v", c, err)
		}
	}
	if _, err := NewCompressor(io.Discard, "bzip2"); err == nil {
		t.Error("NewCompressor(bzip2): no error")
	}
}

// TestXZEncoders: the built-in encoder and the xz program (with and
// without a BCJ filter) each give a stream that reads back, the same bytes
// twice, a CRC32 check and a dictionary no larger than the input needs.
func TestXZEncoders(t *testing.T) {
	var raw bytes.Buffer
	if _, err := bigTree(t).WriteCPIO(&raw, time.Unix(42, 0)); err != nil {
		t.Fatal(err)
	}
	tool, err := exec.LookPath("xz")
	tests := []struct {
		name   string
		opts   []CompressOption
		by     string
		filter bool
	}{
		{"built-in", []CompressOption{WithXZTool("none")}, "built-in encoder", false},
		{"xz program", []CompressOption{WithXZTool(tool)}, "--lzma2=preset=9e,dict=1024KiB", false},
		{"xz program, x86 filter", []CompressOption{WithXZTool(tool), WithXZFilter("x86")}, "--x86 --lzma2=preset=9e,dict=1024KiB", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "built-in" && err != nil {
				t.Skip("no xz program")
			}
			out := compressTwice(t, XZ, raw.Bytes(), tt.by, tt.opts...)
			// Stream flags: byte 7 is the check, 0x01 CRC32.
			if !bytes.HasPrefix(out, []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 0x01}) {
				t.Errorf("header % x", out[:8])
			}
			if tool == "" {
				return
			}
			// What the kernel's decoder will see: the filter chain and the
			// dictionary it allocates.
			f := filepath.Join(t.TempDir(), "a.xz")
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			list, err := exec.Command(tool, "--list", "--verbose", "--verbose", f).Output()
			if err != nil {
				t.Fatalf("xz --list: %v", err)
			}
			if got := strings.Contains(string(list), "--x86"); got != tt.filter {
				t.Errorf("x86 filter %v, want %v:\n%s", got, tt.filter, list)
			}
			if !strings.Contains(string(list), "dict=1MiB") {
				t.Errorf("dictionary is not 1 MiB:\n%s", list)
			}
		})
	}
}

// TestZstdEncoders: the built-in encoder and the zstd program each give a
// stream that reads back, the same bytes twice, and a frame header the
// kernel's streaming decoder takes: no dictionary, a window no larger than
// 8 MiB (what it allocates) and no larger than the archive, a checksum.
func TestZstdEncoders(t *testing.T) {
	tool, err := exec.LookPath("zstd")
	tests := []struct {
		name string
		opts []CompressOption
		by   string
		size int // of the archive
	}{
		{"built-in", []CompressOption{WithZstdTool("none")}, "built-in encoder", 0},
		{"zstd program", []CompressOption{WithZstdTool(tool)}, "-19 --zstd=wlog=23 --check --single-thread", 0},
		// More than the window: it stays 8 MiB.
		{"zstd program, 9 MiB", []CompressOption{WithZstdTool(tool)}, "-19", 9 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "built-in" && err != nil {
				t.Skip("no zstd program")
			}
			var raw bytes.Buffer
			if _, err := bigTree(t).WriteCPIO(&raw, time.Unix(42, 0)); err != nil {
				t.Fatal(err)
			}
			for one := bytes.Clone(raw.Bytes()); raw.Len() < tt.size; {
				raw.Write(one)
			}
			out := compressTwice(t, Zstd, raw.Bytes(), tt.by, tt.opts...)
			h, err := parseZstdFrameHeader(out)
			if err != nil {
				t.Fatal(err)
			}
			if h.dictID != 0 {
				t.Errorf("frame names dictionary %d; the kernel has none", h.dictID)
			}
			if !h.checksum {
				t.Error("no content checksum")
			}
			switch {
			case h.window > 8<<20:
				t.Errorf("window %d bytes, more than 8 MiB", h.window)
			case tt.size > 8<<20 && h.window != 8<<20:
				t.Errorf("window %d bytes, want 8 MiB", h.window)
			case tt.name != "built-in" && tt.size == 0 && h.window != raw.Len():
				t.Errorf("window %d bytes, want the %d bytes of archive", h.window, raw.Len())
			}
		})
	}
}

// zstdFrameHeader is what the kernel reads from a zstd frame header
// before it decompresses (RFC 8878, 3.1.1.1).
type zstdFrameHeader struct {
	window   int
	dictID   uint32
	checksum bool
}

func parseZstdFrameHeader(b []byte) (zstdFrameHeader, error) {
	var h zstdFrameHeader
	if len(b) < 6 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return h, fmt.Errorf("not a zstd frame: % x", b[:min(len(b), 4)])
	}
	fhd := b[4]
	single := fhd&0x20 != 0
	h.checksum = fhd&0x04 != 0
	p := 5
	if !single {
		exp, mant := int(b[p]>>3), int(b[p]&7)
		base := 1 << (10 + exp)
		h.window = base + base/8*mant
		p++
	}
	dictBytes := []int{0, 1, 2, 4}[fhd&3]
	if len(b) < p+dictBytes+8 {
		return h, fmt.Errorf("short zstd frame header")
	}
	for i := range dictBytes {
		h.dictID |= uint32(b[p+i]) << (8 * i)
	}
	p += dictBytes
	fcsBytes := []int{0, 2, 4, 8}[fhd>>6]
	if single && fcsBytes == 0 {
		fcsBytes = 1
	}
	var fcs uint64
	for i := range fcsBytes {
		fcs |= uint64(b[p+i]) << (8 * i)
	}
	if fcsBytes == 2 {
		fcs += 256
	}
	if single {
		// A single segment's window is the whole content.
		h.window = int(fcs)
	}
	return h, nil
}

func TestXZDict(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{0, 1 << 20}, {1 << 20, 1 << 20}, {1<<20 + 1, 3 << 19}, {9070452, 12 << 20},
		{16 << 20, 16 << 20}, {1 << 30, 64 << 20},
	} {
		if got := xzDict(tt.n); got != tt.want {
			t.Errorf("xzDict(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestXZFilterFor(t *testing.T) {
	cfg := map[string]bool{"CONFIG_XZ_DEC_X86": true, "CONFIG_XZ_DEC_ARM": true}
	for _, tt := range []struct{ arch, want string }{
		{"amd64", "x86"}, {"arm", "arm"}, {"arm64", ""}, {"riscv64", ""}, {"mips", ""},
	} {
		if got := XZFilterFor(tt.arch, cfg); got != tt.want {
			t.Errorf("XZFilterFor(%s) = %q, want %q", tt.arch, got, tt.want)
		}
	}
	if got := XZFilterFor("riscv64", map[string]bool{"CONFIG_XZ_DEC_RISCV": true}); got != "riscv" {
		t.Errorf("riscv64 = %q", got)
	}
}

func TestXZFilterChain(t *testing.T) {
	var raw bytes.Buffer
	if _, err := bigTree(t).WriteCPIO(&raw, time.Unix(42, 0)); err != nil {
		t.Fatal(err)
	}
	compress := func(opts ...CompressOption) []byte { out, _ := compressBytes(t, XZ, raw.Bytes(), opts...); return out }
	if xzFilterChain(compress(WithXZTool("none"))) {
		t.Error("the built-in encoder's stream has a filter chain")
	}
	if xzFilterChain(nil) || xzFilterChain([]byte("short")) {
		t.Error("a short head has a filter chain")
	}
	tool, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("no xz program")
	}
	if xzFilterChain(compress(WithXZTool(tool))) {
		t.Error("xz without a filter: a filter chain")
	}
	if !xzFilterChain(compress(WithXZTool(tool), WithXZFilter("x86"))) {
		t.Error("xz --x86: no filter chain")
	}
}

// compressTwice compresses raw twice with c, fails unless both give the
// same bytes, the writer says it was compressed by something that
// contains by, and the stream reads back to raw; it returns the stream.
func compressTwice(t *testing.T, c Compression, raw []byte, by string, opts ...CompressOption) []byte {
	t.Helper()
	out, got := compressBytes(t, c, raw, opts...)
	if again, _ := compressBytes(t, c, raw, opts...); !bytes.Equal(out, again) {
		t.Error("two compressions of the same input differ")
	}
	if !strings.Contains(got, by) {
		t.Errorf("compressed by %q, want it to say %q", got, by)
	}
	rc, _, err := Decompress(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, raw) {
		t.Errorf("read back %d bytes of %d: %v", len(back), len(raw), err)
	}
	return out
}

// compressBytes compresses raw with c and says what compressed it.
func compressBytes(t *testing.T, c Compression, raw []byte, opts ...CompressOption) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := NewCompressor(&buf, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), compressedBy(zw)
}
