// Package blkid identifies the filesystem on a block device from its
// superblock, the way util-linux's blkid does, for the filesystems an
// embedded board meets: ext2/ext3/ext4 (and ext journal devices), vfat
// (FAT12/16/32), squashfs and swap.
//
// Every field of Info holds the exact string blkid prints for the same
// device, so the /dev/disk/by-uuid and by-label links devmaster makes from
// them are the ones a desktop's udev makes. The package reads a few
// sectors and uses only the standard library: it runs inside the static
// smbox binary on the board.
package blkid

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Info is what a probe found, named as blkid names its output.
type Info struct {
	Type    string // TYPE: "ext4", "ext3", "ext2", "jbd", "vfat", "squashfs", "squashfs3", "swap"
	Usage   string // USAGE: "filesystem", or "other" for swap and ext journal devices
	UUID    string // UUID: "" when the filesystem has none (squashfs) or it is all zeros
	Label   string // LABEL: "" when none
	Version string // VERSION: "1.0" (ext), "FAT32", "4.0" (squashfs), "1" (swap); may be ""
}

// ErrUnknown is returned, wrapped, when no known signature is found.
var ErrUnknown = errors.New("no known filesystem signature")

// errShort reports that the device ends before a region a probe needs; it
// means "not this filesystem", never a failure.
var errShort = errors.New("device too short")

// prober recognizes one family of filesystems: (nil, nil) means "not
// mine", errShort means the device is too small to tell.
type prober func(d *device) (*Info, error)

// Probe identifies the filesystem on r, a device or image of size bytes
// (size < 0 when unknown: reads past the end then decide). It returns an
// error wrapping ErrUnknown when no signature matches, and other errors
// only for failed reads.
func Probe(r io.ReaderAt, size int64) (*Info, error) {
	d := &device{r: r, size: size}
	// Signatures at fixed offsets are tried first; a FAT boot sector is
	// the weakest signature and goes last.
	for _, p := range []prober{probeSquashfs, probeExt, probeSwap, probeVFAT} {
		info, err := p(d)
		if errors.Is(err, errShort) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if info != nil {
			return info, nil
		}
	}
	return nil, fmt.Errorf("%w in %d bytes", ErrUnknown, size)
}

// ProbeFile identifies the filesystem on the block device or image file at
// path.
func ProbeFile(path string) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("blkid: %w", err)
	}
	defer f.Close()
	// Stat reports size 0 for block devices; seeking to the end works for
	// both them and regular files.
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("blkid: %s: %w", path, err)
	}
	info, err := Probe(f, size)
	if err != nil {
		return nil, fmt.Errorf("blkid: %s: %w", path, err)
	}
	return info, nil
}

// device reads regions of the probed device.
type device struct {
	r    io.ReaderAt
	size int64 // < 0: unknown
}

// read returns the n bytes at off, or errShort when the device ends
// before them. The size check comes before the allocation, so a bogus
// length in a superblock cannot make the probe allocate much.
func (d *device) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > 1<<62 {
		return nil, errShort
	}
	if d.size >= 0 && off+int64(n) > d.size {
		return nil, errShort
	}
	b := make([]byte, n)
	m, err := d.r.ReadAt(b, off)
	if m == n {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errShort
	}
	return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
}
