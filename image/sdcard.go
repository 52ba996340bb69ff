package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

const (
	mib           = 1 << 20
	sectorSize    = 512
	bootPartStart = 1 * mib // the first MiB holds the MBR, aligned as SD cards like
	minBootPart   = 64 * mib
	bootLabel     = "BOOT"
	// fatEpoch is the first time FAT can record.
	fatEpoch = 315532800 // 1980-01-01T00:00:00Z
)

// sdcardFormat is a whole disk image: an MBR, a FAT32 boot partition
// holding the bootdir files and, when the board asks for one, an empty
// data partition. `dd` writes it to a card.
type sdcardFormat struct{}

func (sdcardFormat) Name() string                   { return "sdcard" }
func (sdcardFormat) DefaultName(Compression) string { return "sdcard.img" }
func (sdcardFormat) NeedsKernel() bool              { return true }

func (sdcardFormat) Write(_ context.Context, in *Inputs, dst string) error {
	files, err := in.bootFiles()
	if err != nil {
		return err
	}
	return writeDisk(dst, files, in.Mtime, in.Board.Boot.DataSize*mib)
}

// writeDisk writes a disk image of files on a FAT32 partition and, when
// dataSize is not 0, an empty data partition of that size after it. The
// whole is a power of two in size, as SD cards are (QEMU insists on it).
func writeDisk(dst string, files []bootFile, mtime time.Time, dataSize int64) error {
	var content int64
	for _, f := range files {
		r, n, err := f.open()
		if err != nil {
			return err
		}
		r.Close()
		// Whole clusters (512 bytes for a small FAT32), with room to spare.
		content += (n + 4095) &^ 4095
	}
	need := bootPartStart + max(minBootPart, roundUp(content+content/8+8*mib, mib)) + dataSize
	size := int64(mib)
	for size < need {
		size *= 2
	}
	bootSize := fatSize(size - bootPartStart - dataSize)

	if mtime.Unix() < fatEpoch {
		mtime = time.Unix(fatEpoch, 0).UTC()
	}
	d, err := diskfs.Create(dst, size, diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("creating the disk image: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	parts := []*mbr.Partition{{
		Index:    1,
		Bootable: true,
		Type:     mbr.Fat32LBA,
		Start:    uint32(bootPartStart / sectorSize),
		Size:     uint32(bootSize / sectorSize),
	}}
	if dataSize > 0 {
		parts = append(parts, &mbr.Partition{
			Index: 2,
			Type:  mbr.Linux,
			Start: uint32((bootPartStart + bootSize) / sectorSize),
			Size:  uint32(dataSize / sectorSize),
		})
	}
	if err := d.Partition(&mbr.Table{Partitions: parts, LogicalSectorSize: sectorSize, PhysicalSectorSize: sectorSize}); err != nil {
		return fmt.Errorf("writing the partition table: %w", err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: bootLabel, Reproducible: true})
	if err != nil {
		return fmt.Errorf("creating the FAT32 boot partition: %w", err)
	}
	// go-diskfs stamps the volume label's entry with the time of day too.
	if err := fs.Chtimes("/"+bootLabel, mtime, mtime, mtime); err != nil {
		return fmt.Errorf("boot partition: volume label: %w", err)
	}
	sum := sha256.New()
	made := map[string]bool{}
	for _, f := range files {
		if dir := path.Dir(f.name); dir != "." && !made[dir] {
			if err := fs.Mkdir("/" + dir); err != nil {
				return fmt.Errorf("boot partition: mkdir %s: %w", dir, err)
			}
			// go-diskfs stamps the entries it makes itself (".", "..")
			// with the time of day.
			for _, p := range []string{"/" + dir, "/" + dir + "/.", "/" + dir + "/.."} {
				if err := fs.Chtimes(p, mtime, mtime, mtime); err != nil {
					return fmt.Errorf("boot partition: %s: %w", p, err)
				}
			}
			made[dir] = true
		}
		if err := copyToFAT(fs, f, sum); err != nil {
			return fmt.Errorf("boot partition: %s: %w", f.name, err)
		}
		if err := fs.Chtimes("/"+f.name, mtime, mtime, mtime); err != nil {
			return fmt.Errorf("boot partition: %s: %w", f.name, err)
		}
	}
	closed = true
	if err := d.Close(); err != nil {
		return fmt.Errorf("closing the disk image: %w", err)
	}
	return stampIDs(dst, sum.Sum(nil))
}

func copyToFAT(fs filesystem.FileSystem, f bootFile, sum io.Writer) error {
	r, _, err := f.open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := fs.OpenFile("/"+f.name, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	io.WriteString(sum, f.name+"\x00")
	if _, err := io.Copy(io.MultiWriter(w, sum), r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// stampIDs writes the MBR disk signature and the FAT volume serial number
// (in the boot sector and its backup), both derived from the content, so
// that the same files give the same image and another image other IDs.
func stampIDs(p string, sum []byte) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	hidden := binary.LittleEndian.AppendUint32(nil, bootPartStart/sectorSize)
	// MBR: the 32-bit disk signature at 440; FAT32: the volume ID at 0x43
	// of the boot sector and of its backup in sector 6.
	for _, at := range []struct {
		off int64
		id  []byte
	}{
		{440, sum[0:4]},
		{bootPartStart + 0x43, sum[4:8]},
		{bootPartStart + 6*sectorSize + 0x43, sum[4:8]},
		// The BPB's hidden sectors: where the partition starts.
		{bootPartStart + 0x1c, hidden},
		{bootPartStart + 6*sectorSize + 0x1c, hidden},
	} {
		if _, err := f.WriteAt(at.id, at.off); err != nil {
			return fmt.Errorf("stamping the disk IDs: %w", err)
		}
	}
	return f.Close()
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// fatSize returns the largest size up to size, in whole MiB, for which
// go-diskfs's FAT32 (512-byte clusters, 32 reserved sectors) gets FATs
// large enough for all its clusters: its sectors-per-FAT formula leaves out
// the two reserved FAT entries, so some sizes come out one entry short,
// which fsck and mtools reject.
func fatSize(size int64) int64 {
	for ; ; size -= mib {
		data := size/sectorSize - 32
		perFAT := (4*data + 519) / 520
		clusters := data - 2*perFAT
		if perFAT*sectorSize/4 >= clusters+2 {
			return size
		}
	}
}

func (sdcardFormat) Initramfs(p string) (io.ReadCloser, bool, error) {
	head, err := readHead(p, sectorSize)
	if err != nil || len(head) < sectorSize || head[510] != 0x55 || head[511] != 0xaa {
		return nil, false, err
	}
	// A FAT partition first: an MBR of an SD card, not a cpio that happens
	// to end a sector with 55 aa.
	if t := head[446+4]; t != byte(mbr.Fat32LBA) && t != byte(mbr.Fat32CHS) {
		return nil, false, nil
	}
	start := int64(binary.LittleEndian.Uint32(head[446+8:])) * sectorSize
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, true, fmt.Errorf("opening the disk image: %w", err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(1)
	if err != nil {
		return nil, true, fmt.Errorf("partition 1 (at %d): %w", start, err)
	}
	data, err := fs.ReadFile("/" + bootInitramfs)
	if err != nil {
		return nil, true, fmt.Errorf("partition 1: %s: %w", bootInitramfs, err)
	}
	if len(data) == 0 {
		return nil, true, errors.New("partition 1: empty " + bootInitramfs)
	}
	return io.NopCloser(bytes.NewReader(data)), true, nil
}
