package blkid

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// Builders of minimal images: only the fields the probes read are set.

func le32put(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
func le16put(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

func mustUUID(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("bad test uuid " + s)
	}
	return b
}

type extFeatures struct{ compat, incompat, roCompat uint32 }

var (
	featExt2          = extFeatures{0x0038, 0x0002, 0x0003} // ext_attr,resize_inode,dir_index; filetype; sparse_super,large_file
	featExt3          = extFeatures{0x003C, 0x0002, 0x0003} // ext2 + has_journal
	featExt4          = extFeatures{0x003C, 0x02C2, 0x046B} // + extent,64bit,flex_bg; huge_file,dir_nlink,extra_isize,metadata_csum
	featExt4NoJournal = extFeatures{0x0038, 0x02C2, 0x046B} // mkfs.ext4 -O ^has_journal
	featJBD           = extFeatures{0x0000, 0x0008, 0x0000} // mke2fs -O journal_dev
)

func extImage(f extFeatures, uuid, label string) []byte {
	img := make([]byte, 4096)
	sb := img[extSuperOff:]
	le16put(sb[extMagicOff:], extMagic)
	le32put(sb[extRevOff:], 1)
	le32put(sb[extCompatOff:], f.compat)
	le32put(sb[extIncompatOff:], f.incompat)
	le32put(sb[extROCompatOff:], f.roCompat)
	if uuid != "" {
		copy(sb[extUUIDOff:], mustUUID(uuid))
	}
	copy(sb[extLabelOff:extLabelOff+16], label)
	return img
}

func squashfsImage(magic string, major, minor uint16, order binary.ByteOrder) []byte {
	img := make([]byte, 4096)
	copy(img, magic)
	order.PutUint16(img[sqshMajorOff:], major)
	order.PutUint16(img[sqshMinorOff:], minor)
	return img
}

func swapImage(pageSize int, uuid, label string) []byte {
	img := make([]byte, 128<<10)
	copy(img[pageSize-10:], "SWAPSPACE2")
	h := img[swapHeaderOff:]
	le32put(h[swapVersionOff:], 1)
	le32put(h[swapLastPageOff:], uint32(len(img)/pageSize-1))
	if uuid != "" {
		copy(h[swapUUIDOff:], mustUUID(uuid))
	}
	copy(h[swapLabelOff:swapLabelOff+16], label)
	return img
}

// fatParams describe a FAT boot sector; fat32 selects the FAT32 layout.
type fatParams struct {
	fat32       bool
	magic       string // FAT12/16 type string; "" = "FAT16   "
	clusterSize byte
	reserved    uint16
	dirEntries  uint16
	sectors     uint32
	fatLength   uint32
	serno       uint32
	bootLabel   string // 11 bytes, space padded
	rootLabel   string // "" = no volume-label entry in the root directory
	fsinfoSig   string // FAT32 FSInfo signature; "" = valid
}

var (
	// A 1.44 MB floppy.
	fat12Params = fatParams{magic: "FAT12   ", clusterSize: 1, reserved: 1, dirEntries: 224, sectors: 2880, fatLength: 9}
	// 10 MiB with 2 KiB clusters.
	fat16Params = fatParams{clusterSize: 4, reserved: 4, dirEntries: 512, sectors: 20480, fatLength: 20}
	// 34 MiB with 4 KiB clusters, small enough to build in memory.
	fat32Params = fatParams{fat32: true, clusterSize: 8, reserved: 32, sectors: 70000, fatLength: 70}
)

const fatSector = 512

func fatImage(p fatParams) []byte {
	dataStart := int(p.reserved) + 2*int(p.fatLength)
	// The FAT12/16 root directory follows the FATs; on FAT32 the first
	// data cluster (2, the root) is there.
	rootStart := dataStart * fatSector
	img := make([]byte, rootStart+int(p.clusterSize)*fatSector+int(p.dirEntries)*32)
	bs := img[:512]
	copy(bs, "\xEB\x3C\x90mkfs.fat")
	le16put(bs[fatSectorSizeOff:], fatSector)
	bs[fatClusterSizeOff] = p.clusterSize
	le16put(bs[fatReservedOff:], p.reserved)
	bs[fatFATsOff] = 2
	le16put(bs[fatDirEntriesOff:], p.dirEntries)
	if p.sectors < 0x10000 {
		le16put(bs[fatSectors16Off:], uint16(p.sectors))
	} else {
		le32put(bs[fatSectors32Off:], p.sectors)
	}
	bs[fatMediaOff] = 0xF8
	bootLabel := (p.bootLabel + "           ")[:11]
	if p.fat32 {
		le32put(bs[fat32LengthOff:], p.fatLength)
		le32put(bs[fat32RootClusterOff:], 2)
		le16put(bs[fat32FSInfoOff:], 1)
		bs[0x42] = 0x29
		le32put(bs[fat32SernoOff:], p.serno)
		copy(bs[fat32LabelOff:], bootLabel)
		copy(bs[fat32MagicOff:], "FAT32   ")
		fsinfo := img[fatSector : 2*fatSector]
		sig := p.fsinfoSig
		if sig == "" {
			sig = "RRaA"
		}
		copy(fsinfo, sig)
		copy(fsinfo[484:], "rrAa")
		// FAT entry of the root cluster: end of chain.
		le32put(img[int(p.reserved)*fatSector+2*4:], 0x0FFFFFFF)
	} else {
		le16put(bs[fatLength16Off:], uint16(p.fatLength))
		bs[0x26] = 0x29
		le32put(bs[fat16SernoOff:], p.serno)
		copy(bs[fat16LabelOff:], bootLabel)
		magic := p.magic
		if magic == "" {
			magic = "FAT16   "
		}
		copy(bs[fat16MagicOff:], magic)
	}
	bs[510], bs[511] = 0x55, 0xAA
	if p.rootLabel != "" {
		ent := img[rootStart:]
		copy(ent[:11], (p.rootLabel + "           ")[:11])
		ent[11] = fatAttrVolumeID
	}
	return img
}
