package blkid

import (
	"bytes"
	"errors"
	"fmt"
)

// Offsets in the FAT boot sector. FAT12/16 and FAT32 share the BIOS
// parameter block up to 0x24 and then differ.
const (
	fatSectorSizeOff  = 0x0B // uint16
	fatClusterSizeOff = 0x0D // uint8, sectors per cluster
	fatReservedOff    = 0x0E // uint16, reserved sectors
	fatFATsOff        = 0x10 // uint8
	fatDirEntriesOff  = 0x11 // uint16, root directory entries (FAT12/16)
	fatSectors16Off   = 0x13 // uint16
	fatMediaOff       = 0x15 // uint8
	fatLength16Off    = 0x16 // uint16, sectors per FAT (FAT12/16)
	fatSectors32Off   = 0x20 // uint32, when the 16-bit count is 0

	fat16SernoOff = 0x27 // [4]byte
	fat16LabelOff = 0x2B // [11]byte
	fat16MagicOff = 0x36 // [8]byte, e.g. "FAT16   "

	fat32LengthOff      = 0x24 // uint32, sectors per FAT
	fat32RootClusterOff = 0x2C // uint32
	fat32FSInfoOff      = 0x30 // uint16, sector of the FSInfo block
	fat32SernoOff       = 0x43 // [4]byte
	fat32LabelOff       = 0x47 // [11]byte
	fat32MagicOff       = 0x52 // [8]byte, "FAT32   "

	fat12Max = 0xFF4 // most clusters each FAT width can address
	fat16Max = 0xFFF4
	fat32Max = 0x0FFFFFF6

	fatDirEntryLen  = 32
	fatAttrVolumeID = 0x08
	fatAttrDir      = 0x10
	fatAttrLongName = 0x0F
	fatEntryFree    = 0xE5

	// fatMaxChain bounds the walk of the FAT32 root directory's cluster
	// chain, as blkid does, so a looping chain cannot hang the probe.
	fatMaxChain = 100
)

const fatNoName = "NO NAME    "

// probeVFAT recognizes FAT12, FAT16 and FAT32. Like blkid, the label is
// the volume-label entry of the root directory (which is what Windows and
// fatlabel change), else the copy in the boot sector; "NO NAME" is none.
// The UUID is the volume serial number, printed as blkid does: "ABCD-1234".
func probeVFAT(d *device) (*Info, error) {
	bs, err := d.read(0, 512)
	if err != nil {
		return nil, err
	}
	strong, ok := fatMagic(bs)
	if !ok {
		return nil, nil
	}
	if !strong {
		// Only a jump instruction or the 0x55AA marker: demand the marker,
		// and rule out the FAT-like headers OS/2 puts on JFS and HPFS.
		if bs[510] != 0x55 || bs[511] != 0xAA {
			return nil, nil
		}
		if m := string(bs[fat16MagicOff : fat16MagicOff+8]); m == "JFS     " || m == "HPFS    " {
			return nil, nil
		}
	}
	g, ok := fatGeometryOf(bs)
	if !ok {
		return nil, nil
	}

	info := &Info{Type: "vfat", Usage: "filesystem"}
	var volLabel, serno []byte
	switch {
	case le16(bs, fatLength16Off) != 0:
		rootStart := (uint64(g.reserved) + uint64(g.fatSize)) * uint64(g.sectorSize)
		volLabel, err = fatSearchLabel(d, rootStart, uint32(le16(bs, fatDirEntriesOff)))
		if err != nil {
			return nil, err
		}
		if volLabel == nil || string(volLabel) == fatNoName {
			volLabel = bs[fat16LabelOff : fat16LabelOff+11]
		}
		serno = bs[fat16SernoOff : fat16SernoOff+4]
		switch {
		case g.clusters < fat12Max:
			info.Version = "FAT12"
		case g.clusters < fat16Max:
			info.Version = "FAT16"
		}
	case le32(bs, fat32LengthOff) != 0:
		volLabel, err = fat32RootLabel(d, bs, g)
		if err != nil {
			return nil, err
		}
		if volLabel == nil || string(volLabel) == fatNoName {
			volLabel = bs[fat32LabelOff : fat32LabelOff+11]
		}
		serno = bs[fat32SernoOff : fat32SernoOff+4]
		info.Version = "FAT32"
		if ok, err := fat32FSInfoValid(d, bs, g); !ok || err != nil {
			return nil, err
		}
	}
	if volLabel != nil && string(volLabel) != fatNoName {
		info.Label = label(volLabel)
	}
	if serno != nil && !allZero(serno) {
		info.UUID = fmt.Sprintf("%02X%02X-%02X%02X", serno[3], serno[2], serno[1], serno[0])
	}
	return info, nil
}

// fatMagic reports whether bs carries one of the signatures blkid looks
// for, and whether it is a strong one (a filesystem name string) rather
// than just an x86 jump instruction or the boot sector marker.
func fatMagic(bs []byte) (strong, ok bool) {
	at := func(off int, m string) bool { return bytes.HasPrefix(bs[off:], []byte(m)) }
	switch {
	case at(fat32MagicOff, "MSWIN"), at(fat32MagicOff, "FAT32   "),
		at(fat16MagicOff, "MSDOS"), at(fat16MagicOff, "FAT16   "),
		at(fat16MagicOff, "FAT12   "), at(fat16MagicOff, "FAT     "):
		return true, true
	case bs[0] == 0xEB, bs[0] == 0xE9, bs[510] == 0x55 && bs[511] == 0xAA:
		return false, true
	}
	return false, false
}

type fatGeometry struct {
	sectorSize  uint32
	clusterSize uint32 // in sectors
	reserved    uint32 // in sectors
	fatSize     uint32 // all FATs, in sectors
	clusters    uint32
}

// fatGeometryOf checks the BIOS parameter block as blkid does. The
// arithmetic is uint32 like blkid's, so a nonsensical block fails the
// same way (an underflowing cluster count exceeds the maximum).
func fatGeometryOf(bs []byte) (fatGeometry, bool) {
	fats := uint32(bs[fatFATsOff])
	reserved := uint32(le16(bs, fatReservedOff))
	media := bs[fatMediaOff]
	clusterSize := uint32(bs[fatClusterSizeOff])
	sectorSize := uint32(le16(bs, fatSectorSizeOff))
	if fats == 0 || reserved == 0 || !(media >= 0xF8 || media == 0xF0) ||
		!pow2(clusterSize) || !pow2(sectorSize) || sectorSize < 512 || sectorSize > 4096 {
		return fatGeometry{}, false
	}
	sectors := uint32(le16(bs, fatSectors16Off))
	if sectors == 0 {
		sectors = le32(bs, fatSectors32Off)
	}
	fatLength := uint32(le16(bs, fatLength16Off))
	if fatLength == 0 {
		fatLength = le32(bs, fat32LengthOff)
	}
	fatSize := fatLength * fats
	dirSize := (uint32(le16(bs, fatDirEntriesOff))*fatDirEntryLen + sectorSize - 1) / sectorSize
	clusters := (sectors - (reserved + fatSize + dirSize)) / clusterSize

	limit := uint32(fat12Max)
	switch {
	case le16(bs, fatLength16Off) == 0 && le32(bs, fat32LengthOff) != 0:
		limit = fat32Max
	case clusters > fat12Max:
		limit = fat16Max
	}
	if clusters > limit {
		return fatGeometry{}, false
	}
	return fatGeometry{sectorSize, clusterSize, reserved, fatSize, clusters}, true
}

func pow2(n uint32) bool { return n != 0 && n&(n-1) == 0 }

// fatSearchLabel returns the name of the volume-label entry among the
// first entries of the directory at off, or nil. A directory that runs
// past the end of the device has no label, as for blkid.
func fatSearchLabel(d *device, off uint64, entries uint32) ([]byte, error) {
	if off > 1<<62 {
		return nil, nil
	}
	dir, err := d.read(int64(off), int(entries)*fatDirEntryLen)
	if errors.Is(err, errShort) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for e := dir; len(e) >= fatDirEntryLen; e = e[fatDirEntryLen:] {
		name, attr := e[:11], e[11]
		if name[0] == 0 {
			break // end of directory
		}
		clusterHigh, clusterLow := le16(e, 20), le16(e, 26)
		if name[0] == fatEntryFree || clusterHigh != 0 || clusterLow != 0 || attr&0x3F == fatAttrLongName {
			continue
		}
		if attr&(fatAttrVolumeID|fatAttrDir) == fatAttrVolumeID {
			return name, nil
		}
	}
	return nil, nil
}

// fat32RootLabel looks for the volume-label entry along the FAT32 root
// directory's cluster chain.
func fat32RootLabel(d *device, bs []byte, g fatGeometry) ([]byte, error) {
	clusterBytes := g.clusterSize * g.sectorSize
	dataStart := uint64(g.reserved) + uint64(g.fatSize) // in sectors
	fatEntries := le32(bs, fat32LengthOff) * g.sectorSize / 4
	next := le32(bs, fat32RootClusterOff)
	for i := 1; i < fatMaxChain && next >= 2 && next < fatEntries; i++ {
		off := (dataStart + uint64(next-2)*uint64(g.clusterSize)) * uint64(g.sectorSize)
		name, err := fatSearchLabel(d, off, clusterBytes/fatDirEntryLen)
		if name != nil || err != nil {
			return name, err
		}
		entry, err := d.read(int64(g.reserved)*int64(g.sectorSize)+int64(next)*4, 4)
		if errors.Is(err, errShort) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		next = le32(entry, 0) & 0x0FFFFFFF
	}
	return nil, nil
}

// fat32FSInfoValid checks the signatures of the FSInfo block, allowing
// zeros as blkid does (some formatters leave them unset).
func fat32FSInfoValid(d *device, bs []byte, g fatGeometry) (bool, error) {
	sect := le16(bs, fat32FSInfoOff)
	if sect == 0 {
		return true, nil
	}
	fsinfo, err := d.read(int64(sect)*int64(g.sectorSize), 512)
	if err != nil {
		return false, err
	}
	sig1, sig2 := string(fsinfo[0:4]), string(fsinfo[484:488])
	return (sig1 == "RRaA" || sig1 == "RRdA" || sig1 == "\x00\x00\x00\x00") &&
		(sig2 == "rrAa" || sig2 == "\x00\x00\x00\x00"), nil
}
