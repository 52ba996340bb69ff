package image

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
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
			compress := func() []byte {
				var buf bytes.Buffer
				zw, err := NewCompressor(&buf, tt.c)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := zw.Write(raw.Bytes()); err != nil {
					t.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
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
	for _, c := range Compressions() {
		if _, err := NewCompressor(io.Discard, c); err != nil {
			t.Errorf("NewCompressor(%s): %v", c, err)
		}
	}
	if _, err := NewCompressor(io.Discard, "bzip2"); err == nil {
		t.Error("NewCompressor(bzip2): no error")
	}
}
