package blkid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const (
	testUUID    = "3e6be9de-8139-4e2f-9c32-8b2a1e4c5d6f"
	testUUIDHex = "3E6BE9DE81394E2F9C328B2A1E4C5D6F"
)

func probeBytes(b []byte) (*Info, error) { return Probe(bytes.NewReader(b), int64(len(b))) }

func TestProbe(t *testing.T) {
	fat16 := fat16Params
	fat16.serno, fat16.bootLabel = 0x1234ABCD, "BOOT DISK"
	fat16Root := fat16
	fat16Root.rootLabel = "ROOT LABEL"
	fat16NoName := fat16
	fat16NoName.rootLabel, fat16NoName.bootLabel = "NO NAME", "NO NAME"
	fat16RootNoName := fat16
	fat16RootNoName.rootLabel = "NO NAME"
	fat12 := fat12Params
	fat12.serno, fat12.bootLabel = 0x00C0FFEE, "FLOPPY"
	fat32 := fat32Params
	fat32.serno, fat32.bootLabel, fat32.rootLabel = 0xDEADBEEF, "EFI", "ESP"
	fat32BootOnly := fat32
	fat32BootOnly.rootLabel = ""
	fat32NoSerial := fat32
	fat32NoSerial.serno = 0

	tests := []struct {
		name string
		img  []byte
		want Info
	}{
		{"ext4", extImage(featExt4, testUUID, "rootfs"),
			Info{Type: "ext4", Usage: "filesystem", UUID: testUUID, Label: "rootfs", Version: "1.0"}},
		{"ext4 without journal", extImage(featExt4NoJournal, testUUID, ""),
			Info{Type: "ext4", Usage: "filesystem", UUID: testUUID, Version: "1.0"}},
		{"ext3", extImage(featExt3, testUUID, "data"),
			Info{Type: "ext3", Usage: "filesystem", UUID: testUUID, Label: "data", Version: "1.0"}},
		{"ext2", extImage(featExt2, testUUID, "boot"),
			Info{Type: "ext2", Usage: "filesystem", UUID: testUUID, Label: "boot", Version: "1.0"}},
		{"ext journal device", extImage(featJBD, testUUID, ""),
			Info{Type: "jbd", Usage: "other", UUID: testUUID, Version: "1.0"}},
		{"ext huge_file alone makes ext4", extImage(extFeatures{0, 0x0002, 0x0008}, testUUID, ""),
			Info{Type: "ext4", Usage: "filesystem", UUID: testUUID, Version: "1.0"}},
		{"ext zero uuid, 16-byte label", extImage(featExt4, "", "0123456789abcdef"),
			Info{Type: "ext4", Usage: "filesystem", Label: "0123456789abcdef", Version: "1.0"}},
		{"ext label trailing spaces", extImage(featExt4, testUUID, "my disk  "),
			Info{Type: "ext4", Usage: "filesystem", UUID: testUUID, Label: "my disk", Version: "1.0"}},
		{"ext label of spaces is none", extImage(featExt4, testUUID, "   "),
			Info{Type: "ext4", Usage: "filesystem", UUID: testUUID, Version: "1.0"}},

		{"vfat FAT16 boot label", fatImage(fat16),
			Info{Type: "vfat", Usage: "filesystem", UUID: "1234-ABCD", Label: "BOOT DISK", Version: "FAT16"}},
		{"vfat FAT16 root label wins", fatImage(fat16Root),
			Info{Type: "vfat", Usage: "filesystem", UUID: "1234-ABCD", Label: "ROOT LABEL", Version: "FAT16"}},
		{"vfat NO NAME is no label", fatImage(fat16NoName),
			Info{Type: "vfat", Usage: "filesystem", UUID: "1234-ABCD", Version: "FAT16"}},
		{"vfat root NO NAME falls back to boot", fatImage(fat16RootNoName),
			Info{Type: "vfat", Usage: "filesystem", UUID: "1234-ABCD", Label: "BOOT DISK", Version: "FAT16"}},
		{"vfat FAT12", fatImage(fat12),
			Info{Type: "vfat", Usage: "filesystem", UUID: "00C0-FFEE", Label: "FLOPPY", Version: "FAT12"}},
		{"vfat FAT32 root label", fatImage(fat32),
			Info{Type: "vfat", Usage: "filesystem", UUID: "DEAD-BEEF", Label: "ESP", Version: "FAT32"}},
		{"vfat FAT32 boot label", fatImage(fat32BootOnly),
			Info{Type: "vfat", Usage: "filesystem", UUID: "DEAD-BEEF", Label: "EFI", Version: "FAT32"}},
		{"vfat zero serial is no uuid", fatImage(fat32NoSerial),
			Info{Type: "vfat", Usage: "filesystem", Label: "ESP", Version: "FAT32"}},

		{"squashfs 4.0", squashfsImage("hsqs", 4, 0, binary.LittleEndian),
			Info{Type: "squashfs", Usage: "filesystem", Version: "4.0"}},
		{"squashfs 3.1 little-endian", squashfsImage("hsqs", 3, 1, binary.LittleEndian),
			Info{Type: "squashfs3", Usage: "filesystem", Version: "3.1"}},
		{"squashfs 3.0 big-endian", squashfsImage("sqsh", 3, 0, binary.BigEndian),
			Info{Type: "squashfs3", Usage: "filesystem", Version: "3.0"}},

		{"swap 4k pages", swapImage(4096, testUUID, "swap0"),
			Info{Type: "swap", Usage: "other", UUID: testUUID, Label: "swap0", Version: "1"}},
		{"swap 64k pages, no label", swapImage(65536, testUUID, ""),
			Info{Type: "swap", Usage: "other", UUID: testUUID, Version: "1"}},
		{"swap 16k pages", swapImage(16384, testUUID, "big"),
			Info{Type: "swap", Usage: "other", UUID: testUUID, Label: "big", Version: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := probeBytes(tt.img)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if *got != tt.want {
				t.Errorf("Probe = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestProbeUnknown(t *testing.T) {
	fatBadFSInfo := fat32Params
	fatBadFSInfo.fsinfoSig = "XXXX"
	fatBadMedia := fatImage(fat16Params)
	fatBadMedia[fatMediaOff] = 0x12
	fatBadSector := fatImage(fat16Params)
	le16put(fatBadSector[fatSectorSizeOff:], 500)
	fatTooManyClusters := fatImage(fat12Params)
	fatTooManyClusters[fatFATsOff] = 1
	le16put(fatTooManyClusters[fatSectors16Off:], 0)
	le32put(fatTooManyClusters[fatSectors32Off:], 1<<24) // FAT12 geometry, 16M clusters
	onlyMarker := make([]byte, 4096)
	onlyMarker[510], onlyMarker[511] = 0x55, 0xAA // an empty MBR
	jfs := fatImage(fat16Params)
	copy(jfs[fat16MagicOff:], "JFS     ")
	copy(jfs[0:3], "\xEB\x3C\x90")
	swapBadVersion := swapImage(4096, testUUID, "")
	le32put(swapBadVersion[swapHeaderOff:], 7)
	swapNoPages := swapImage(4096, testUUID, "")
	le32put(swapNoPages[swapHeaderOff+swapLastPageOff:], 0)
	swapTuxOnIce := swapImage(4096, testUUID, "")
	copy(swapTuxOnIce, tuxOnIceMagic)

	tests := []struct {
		name string
		img  []byte
	}{
		{"empty", nil},
		{"zeros", make([]byte, 1<<20)},
		{"fat32 bad fsinfo", fatImage(fatBadFSInfo)},
		{"fat bad media byte", fatBadMedia},
		{"fat bad sector size", fatBadSector},
		{"fat too many clusters", fatTooManyClusters},
		{"boot marker only", onlyMarker},
		{"jfs pseudo fat header", jfs},
		{"swap bad version", swapBadVersion},
		{"swap last page zero", swapNoPages},
		{"tuxonice image", swapTuxOnIce},
		{"squashfs 4 big-endian", squashfsImage("sqsh", 4, 0, binary.BigEndian)},
		{"swap smaller than 10 pages", swapImage(4096, testUUID, "")[:40959]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := probeBytes(tt.img)
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("Probe = %+v, %v; want ErrUnknown", got, err)
			}
		})
	}
}

// TestProbeTruncated cuts valid images short at every offset a probe
// reads: each must be unknown or still recognized, never a panic or an
// I/O error.
func TestProbeTruncated(t *testing.T) {
	fat32 := fat32Params
	fat32.rootLabel = "ESP"
	images := map[string][]byte{
		"ext4":     extImage(featExt4, testUUID, "x"),
		"vfat":     fatImage(fat16Params),
		"fat32":    fatImage(fat32),
		"squashfs": squashfsImage("hsqs", 4, 0, binary.LittleEndian),
		"swap":     swapImage(4096, testUUID, "x"),
	}
	cuts := []int{0, 1, 4, 31, 32, 511, 512, 1024, 1079, 1080, 1535, 1536, 1540, 4085, 4096, 16000, 32767, 40960}
	for name, img := range images {
		for _, n := range cuts {
			if n > len(img) {
				continue
			}
			if _, err := probeBytes(img[:n]); err != nil && !errors.Is(err, ErrUnknown) {
				t.Errorf("%s cut at %d: %v", name, n, err)
			}
			// A size larger than the data (a lying or growing device)
			// must not matter either.
			if _, err := Probe(bytes.NewReader(img[:n]), int64(len(img))); err != nil && !errors.Is(err, ErrUnknown) {
				t.Errorf("%s cut at %d, full size claimed: %v", name, n, err)
			}
		}
	}
}

// TestProbeFATRootLabelPastEnd: a root directory beyond the end of the
// device leaves the boot-sector label, as in blkid.
func TestProbeFATRootLabelPastEnd(t *testing.T) {
	p := fat16Params
	p.bootLabel, p.rootLabel = "BOOT", "ROOT"
	img := fatImage(p)
	info, err := probeBytes(img[:1024])
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != "BOOT" {
		t.Errorf("Label = %q, want BOOT", info.Label)
	}
}

type failingReader struct{ err error }

func (r failingReader) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestProbeReadError(t *testing.T) {
	eio := errors.New("input/output error")
	_, err := Probe(failingReader{eio}, 1<<20)
	if !errors.Is(err, eio) || errors.Is(err, ErrUnknown) {
		t.Fatalf("Probe = %v, want the read error", err)
	}
}

func TestProbeUnknownSize(t *testing.T) {
	img := extImage(featExt4, testUUID, "x")
	info, err := Probe(bytes.NewReader(img), -1)
	if err != nil || info.Type != "ext4" {
		t.Fatalf("Probe = %+v, %v", info, err)
	}
	if _, err := Probe(bytes.NewReader(img[:100]), -1); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Probe of 100 bytes, unknown size = %v, want ErrUnknown", err)
	}
}

func TestProbeFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "img")
	if err := os.WriteFile(p, swapImage(4096, testUUID, "s"), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := ProbeFile(p)
	if err != nil || info.Type != "swap" || info.UUID != testUUID {
		t.Fatalf("ProbeFile = %+v, %v", info, err)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ProbeFile(empty); !errors.Is(err, ErrUnknown) {
		t.Errorf("ProbeFile(empty) = %v, want ErrUnknown", err)
	}
	if _, err := ProbeFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ProbeFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestUUIDFormat(t *testing.T) {
	b := mustUUID(testUUIDHex)
	if got := uuid(b); got != testUUID {
		t.Errorf("uuid = %q, want %q", got, testUUID)
	}
	if got := uuid(make([]byte, 16)); got != "" {
		t.Errorf("uuid(zeros) = %q, want empty", got)
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc\x00def", "abc"},
		{"abc  \t", "abc"},
		{"  lead", "  lead"},
		{"\x00abc", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := label([]byte(tt.in)); got != tt.want {
			t.Errorf("label(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
