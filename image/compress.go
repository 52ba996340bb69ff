package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// Compression is how an archive is compressed.
type Compression string

// The compressions the kernel's initramfs unpacker understands.
const (
	None Compression = "none"
	Gzip Compression = "gzip"
	XZ   Compression = "xz"
	Zstd Compression = "zstd"
	LZ4  Compression = "lz4"
)

// Compressions lists every supported Compression.
func Compressions() []Compression {
	return []Compression{None, Gzip, XZ, Zstd, LZ4}
}

// ParseCompression accepts a Compression name or its file extension.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(strings.TrimPrefix(s, ".")) {
	case "none", "cpio":
		return None, nil
	case "gzip", "gz":
		return Gzip, nil
	case "xz":
		return XZ, nil
	case "zstd", "zst":
		return Zstd, nil
	case "lz4":
		return LZ4, nil
	}
	names := make([]string, 0, len(Compressions()))
	for _, c := range Compressions() {
		names = append(names, string(c))
	}
	if near := suggest.Nearest(strings.ToLower(s), names); near != "" {
		return "", fmt.Errorf("unknown compression %q (did you mean %s? want none, gzip, xz, zstd or lz4)", s, near)
	}
	return "", fmt.Errorf("unknown compression %q (want none, gzip, xz, zstd or lz4)", s)
}

// Ext is the file name extension that follows ".cpio".
func (c Compression) Ext() string {
	switch c {
	case Gzip:
		return ".gz"
	case XZ:
		return ".xz"
	case Zstd:
		return ".zst"
	case LZ4:
		return ".lz4"
	}
	return ""
}

// NewCompressor returns a writer that compresses into w. Every kind is
// deterministic: the same input gives the same bytes. Closing it flushes
// the stream but does not close w.
func NewCompressor(w io.Writer, c Compression, opts ...CompressOption) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopCloser{w}, nil
	case Gzip:
		// The zero header has no name and mtime 0, so the output is stable.
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zw, nil
	case XZ:
		var o compressOptions
		for _, opt := range opts {
			opt(&o)
		}
		return &xzWriter{gathered: gathered{w: w, format: "xz"}, filter: o.xzFilter, tool: o.xzTool()}, nil
	case Zstd:
		var o compressOptions
		for _, opt := range opts {
			opt(&o)
		}
		return &zstdWriter{gathered: gathered{w: w, format: "zstd"}, tool: o.zstdTool()}, nil
	case LZ4:
		// The kernel reads only the legacy lz4 frame format.
		zw := lz4.NewWriter(w)
		if err := zw.Apply(lz4.LegacyOption(true), lz4.CompressionLevelOption(lz4.Level9)); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// DetectCompression tells the compression of a stream from its first bytes
// (six are enough). ok is false when they match no known format.
func DetectCompression(head []byte) (c Compression, ok bool) {
	magics := []struct {
		c     Compression
		magic []byte
	}{
		{Gzip, []byte{0x1f, 0x8b}},
		{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
		{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{LZ4, []byte{0x02, 0x21, 0x4c, 0x18}},
		{None, []byte(newcMagic[:5])}, // 070701 and 070702
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c, true
		}
	}
	return "", false
}

// Decompress detects the compression of r and returns a reader of the
// uncompressed stream.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", fmt.Errorf("reading magic: %w", err)
	}
	c, ok := DetectCompression(head)
	if !ok {
		return nil, "", fmt.Errorf("unknown format (starts with % x): not a cpio archive or a supported compression", head)
	}
	switch c {
	case None:
		return io.NopCloser(br), c, nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", err)
		}
		return zr, c, nil
	case XZ:
		// ulikunitz/xz reads LZMA2 alone; xz(1) also reads the BCJ filters
		// our xz archives carry when it wrote them. Plain streams (every
		// .ko.xz a kernel ships) stay in process.
		if head, _ := br.Peek(xzHeadSize); xzFilterChain(head) {
			if tool, err := exec.LookPath("xz"); err == nil {
				return xzToolReader(tool, br)
			}
		}
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(xzFilterHint{zr}), c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	default: // LZ4
		return io.NopCloser(lz4.NewReader(br)), c, nil
	}
}
