package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
)

// U-Boot's legacy image header (include/image.h): 64 bytes, big-endian,
// then the data.
const (
	uimageMagic   = 0x27051956
	uimageHdrLen  = 64
	uimageNameLen = 32

	uimageOSLinux      = 5
	uimageTypeRamdisk  = 3
	uimageTypeScript   = 6
	uimageCompressNone = 0
)

// uimageArch is U-Boot's IH_ARCH code for a GOARCH.
func uimageArch(goarch string) (byte, error) {
	switch goarch {
	case "arm":
		return 2, nil
	case "386":
		return 3, nil
	case "arm64":
		return 22, nil
	case "amd64":
		return 24, nil
	case "riscv64":
		return 26, nil
	}
	return 0, fmt.Errorf("no U-Boot architecture code for GOARCH %q", goarch)
}

type uimageHeader struct {
	Magic, HCRC, Time, Size, Load, EP, DCRC uint32
	OS, Arch, Type, Comp                    uint8
	Name                                    [uimageNameLen]byte
}

// uimageFormat is a U-Boot legacy ramdisk: the compressed cpio behind a
// 64-byte header, for `bootm KERNEL INITRD FDT`. The header says
// compression none, as U-Boot hands the kernel the archive as it is and the
// kernel decompresses it.
type uimageFormat struct{}

func (uimageFormat) Name() string                   { return "uimage" }
func (uimageFormat) DefaultName(Compression) string { return "uInitrd" }
func (uimageFormat) NeedsKernel() bool              { return false }

func (uimageFormat) Write(_ context.Context, in *Inputs, dst string) error {
	data, err := os.ReadFile(in.Initramfs)
	if err != nil {
		return err
	}
	addr := uint32(in.Board.Boot.RamdiskAddr)
	return writeUImage(dst, in.Board, uimageTypeRamdisk, in.Board.Name+" initramfs", addr, data, in.Mtime)
}

// writeUImage writes data as a legacy image of the given type to a new
// file dst.
func writeUImage(dst string, b *board.Board, typ uint8, name string, addr uint32, data []byte, mtime time.Time) error {
	arch, err := uimageArch(b.Arch)
	if err != nil {
		return err
	}
	if int64(len(data)) > 1<<32-1 {
		return errors.New("data too large for a uImage (4 GiB)")
	}
	h := uimageHeader{
		Magic: uimageMagic,
		Time:  uint32(mtime.Unix()),
		Size:  uint32(len(data)),
		Load:  addr,
		EP:    addr,
		DCRC:  crc32.ChecksumIEEE(data),
		OS:    uimageOSLinux,
		Arch:  arch,
		Type:  typ,
		Comp:  uimageCompressNone,
	}
	copy(h.Name[:uimageNameLen-1], name)
	// The header CRC is computed over the header with its CRC field zero.
	var hdr bytes.Buffer
	binary.Write(&hdr, binary.BigEndian, &h)
	h.HCRC = crc32.ChecksumIEEE(hdr.Bytes())
	hdr.Reset()
	binary.Write(&hdr, binary.BigEndian, &h)

	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(hdr.Bytes(), data...)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// uimageScript is a U-Boot script as `source` runs it: a legacy image of
// type script whose data is a zero-terminated list of part lengths (one
// part) and the script.
func uimageScript(dst string, b *board.Board, lines []string, mtime time.Time) error {
	script := []byte(strings.Join(lines, "\n") + "\n")
	data := binary.BigEndian.AppendUint32(nil, uint32(len(script)))
	data = binary.BigEndian.AppendUint32(data, 0)
	return writeUImage(dst, b, uimageTypeScript, "sysmaster boot script", 0, append(data, script...), mtime)
}

// readUImageHeader checks the header and data CRCs of the uImage at path.
// ok is false when path does not start with the uImage magic.
func readUImageHeader(path string) (h uimageHeader, ok bool, err error) {
	head, err := readHead(path, uimageHdrLen)
	if err != nil || len(head) < uimageHdrLen || binary.BigEndian.Uint32(head) != uimageMagic {
		return h, false, err
	}
	binary.Read(bytes.NewReader(head), binary.BigEndian, &h)
	zeroed := bytes.Clone(head)
	clear(zeroed[4:8])
	if crc32.ChecksumIEEE(zeroed) != h.HCRC {
		return h, true, errors.New("uImage header CRC mismatch")
	}
	f, err := os.Open(path)
	if err != nil {
		return h, true, err
	}
	defer f.Close()
	c := crc32.NewIEEE()
	n, err := io.Copy(c, io.NewSectionReader(f, uimageHdrLen, int64(h.Size)))
	if err != nil {
		return h, true, err
	}
	if n != int64(h.Size) {
		return h, true, fmt.Errorf("uImage truncated: %d of %d data bytes", n, h.Size)
	}
	if c.Sum32() != h.DCRC {
		return h, true, errors.New("uImage data CRC mismatch")
	}
	return h, true, nil
}

func (uimageFormat) Initramfs(path string) (io.ReadCloser, bool, error) {
	h, ok, err := readUImageHeader(path)
	if !ok || err != nil {
		return nil, ok, err
	}
	if h.Type != uimageTypeRamdisk {
		return nil, true, fmt.Errorf("uImage of type %d, not a ramdisk (%d)", h.Type, uimageTypeRamdisk)
	}
	rc, err := openSection(path, uimageHdrLen, int64(h.Size))
	return rc, true, err
}
