package image

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/ulikunitz/xz"
)

// A CompressOption tunes a compressor.
type CompressOption func(*compressOptions)

type compressOptions struct {
	xzFilter string // a BCJ filter of xz(1): "x86", "arm", "arm64", …
	toolPath string // the xz program; "" looks it up in PATH
	noTool   bool
	zstdPath string // the zstd program; "" looks it up in PATH
	noZstd   bool
}

// WithXZFilter puts the branch converter (BCJ) filter for machine code of
// one architecture before LZMA2, as xz --x86 does: calls and jumps turned
// to absolute addresses compress better. Only the xz program has the
// filters; the built-in encoder leaves it out. The kernel must have been
// built with its decoder (CONFIG_XZ_DEC_X86, …): see XZFilterFor.
func WithXZFilter(filter string) CompressOption {
	return func(o *compressOptions) { o.xzFilter = filter }
}

// WithXZTool names the xz program to run, or "none" for the built-in
// encoder only.
func WithXZTool(path string) CompressOption {
	return func(o *compressOptions) {
		o.toolPath, o.noTool = path, path == "none"
	}
}

func (o compressOptions) xzTool() string { return lookTool("xz", o.toolPath, o.noTool) }

// lookTool is the program to compress with: path when set, else name
// found in PATH; "" when none is wanted or there is none.
func lookTool(name, path string, none bool) string {
	switch {
	case none:
		return ""
	case path != "":
		return path
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// XZFilterFor returns the xz BCJ filter for machine code of goarch when
// the kernel configuration config (a kernel's .config, as
// boot/config-VERSION) builds its decoder, else "".
func XZFilterFor(goarch string, config map[string]bool) string {
	f, ok := xzFilters[goarch]
	if !ok || !config[f.option] {
		return ""
	}
	return f.filter
}

// xzFilters are xz(1)'s BCJ filters by GOARCH, with the kernel option of
// their decoder.
var xzFilters = map[string]struct{ filter, option string }{
	"amd64":   {"x86", "CONFIG_XZ_DEC_X86"},
	"386":     {"x86", "CONFIG_XZ_DEC_X86"},
	"arm":     {"arm", "CONFIG_XZ_DEC_ARM"},
	"arm64":   {"arm64", "CONFIG_XZ_DEC_ARM64"},
	"riscv64": {"riscv", "CONFIG_XZ_DEC_RISCV"},
	"ppc64":   {"powerpc", "CONFIG_XZ_DEC_POWERPC"},
	"ppc64le": {"powerpc", "CONFIG_XZ_DEC_POWERPC"},
}

// xzWriter gathers the archive and compresses it on Close, with the xz
// program when there is one (preset 9e, the BCJ filter when asked: 20 %
// smaller than the built-in encoder on the default x86_64 image) and with
// ulikunitz/xz otherwise. Both are deterministic: one thread, and the
// dictionary sized from the input, not from the machine.
type xzWriter struct {
	gathered
	filter string
	tool   string
}

// gathered holds an archive until Close compresses it all at once: the
// programs' best settings want the whole input (its size sets the
// dictionary or window).
type gathered struct {
	w      io.Writer
	format string // for errors
	buf    bytes.Buffer
	closed bool
	used   string // what compressed it, once closed
}

func (g *gathered) Write(p []byte) (int, error) {
	if g.closed {
		return 0, fmt.Errorf("%s: write after close", g.format)
	}
	return g.buf.Write(p)
}

// compressedBy is the program and its options, or the built-in encoder.
func (g *gathered) compressedBy() string { return g.used }

// runTool compresses g's input with tool and args, one process, and
// returns its output.
func (g *gathered) runTool(tool string, args []string) ([]byte, error) {
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(g.buf.Bytes())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w: %s", g.format, tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// xzDict is the LZMA2 dictionary for n bytes of input: the smallest size
// the xz header can say (2^k or 3·2^(k-1)) that holds it all, between
// 1 MiB and 64 MiB. The kernel's decoder allocates what the header says,
// so a 64 MiB dictionary for a 9 MB archive would cost a small board
// memory it may not have while it boots.
func xzDict(n int) int {
	for d := 1 << 20; d < 64<<20; d *= 2 {
		if n <= d {
			return d
		}
		if n <= d+d/2 {
			return d + d/2
		}
	}
	return 64 << 20
}

func (z *xzWriter) Close() error {
	if z.closed {
		return nil
	}
	z.closed = true
	dict := xzDict(z.buf.Len())
	if z.tool != "" {
		out, used, err := z.run(dict, z.filter)
		if err != nil && z.filter != "" && !z.knows(z.filter) {
			// An xz older than the filter (--riscv came in 5.6).
			out, used, err = z.run(dict, "")
			used += " (this xz has no --" + z.filter + ")"
		}
		if err != nil {
			return err
		}
		z.used = used
		_, err = z.w.Write(out)
		return err
	}
	zw, err := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: dict}.NewWriter(z.w)
	if err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	if _, err := zw.Write(z.buf.Bytes()); err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	z.used = fmt.Sprintf("built-in encoder (no xz program; dict %d KiB, no BCJ filter)", dict>>10)
	return zw.Close()
}

func (z *xzWriter) run(dict int, filter string) (out []byte, used string, err error) {
	// The kernel's xz decoder checks CRC32 only; CRC64 fails to boot.
	opts := []string{"--check=crc32"}
	if filter != "" {
		opts = append(opts, "--"+filter)
	}
	opts = append(opts, fmt.Sprintf("--lzma2=preset=9e,dict=%dKiB", dict>>10))
	args := append([]string{"--format=xz", "--threads=1", "--stdout", "--quiet"}, opts...)
	out, err = z.runTool(z.tool, args)
	if err != nil {
		return nil, "", err
	}
	return out, z.tool + " " + strings.Join(opts, " "), nil
}

// knows reports whether the xz program takes the option --filter.
func (z *xzWriter) knows(filter string) bool {
	return exec.Command(z.tool, "--"+filter, "--format=xz", "--stdout", "--quiet").Run() == nil
}

// compressedBy says what compressed a stream, once its writer is closed:
// for xz and zstd, the program and its options or the built-in encoder.
func compressedBy(zw io.WriteCloser) string {
	if z, ok := zw.(interface{ compressedBy() string }); ok {
		return z.compressedBy()
	}
	return ""
}

// xzHeadSize is enough of an xz stream for its first block's header: the
// stream header (12 bytes) and a block header (at most 1024).
const xzHeadSize = 12 + 1024

// xzFilterChain reports whether the first block of the xz stream that
// head starts has more than one filter, as LZMA2 behind a BCJ filter.
func xzFilterChain(head []byte) bool {
	if len(head) < 14 || head[12] == 0 { // no block: the index follows
		return false
	}
	return head[13]&0x03 != 0 // block flags: the number of filters - 1
}

// xzToolReader decompresses r with the xz program.
func xzToolReader(tool string, r io.Reader) (io.ReadCloser, Compression, error) {
	cmd := exec.Command(tool, "--decompress", "--stdout", "--quiet", "--single-stream")
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, XZ, fmt.Errorf("xz: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, XZ, fmt.Errorf("xz: %w", err)
	}
	return &toolReader{cmd: cmd, out: out, stderr: &stderr}, XZ, nil
}

// toolReader reads a program's output; its error, once the output ends,
// is the program's.
type toolReader struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *bytes.Buffer
	done   bool
	err    error
}

func (t *toolReader) Read(p []byte) (int, error) {
	n, err := t.out.Read(p)
	if err == io.EOF {
		if werr := t.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (t *toolReader) wait() error {
	if !t.done {
		t.done = true
		if err := t.cmd.Wait(); err != nil {
			t.err = fmt.Errorf("xz: %w: %s", err, strings.TrimSpace(t.stderr.String()))
		}
	}
	return t.err
}

func (t *toolReader) Close() error {
	t.out.Close()
	if !t.done {
		// Stopped early (Inspect reads up to the trailer): not an error.
		_ = t.cmd.Process.Kill()
		t.done = true
		_ = t.cmd.Wait()
	}
	return nil
}

// xzFilterHint says what to do about an archive with a BCJ filter, which
// only the xz program reads.
type xzFilterHint struct{ r io.Reader }

func (h xzFilterHint) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err != nil && err != io.EOF && strings.Contains(err.Error(), "filter") {
		err = fmt.Errorf("%w (an archive with a BCJ filter needs the xz program to be read)", err)
	}
	return n, err
}
