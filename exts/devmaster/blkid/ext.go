package blkid

import "fmt"

// The ext2/3/4 superblock starts at byte 1024; offsets below are within it.
const (
	extSuperOff = 1024
	extSuperLen = 512 // as much as blkid reads

	extMagicOff    = 0x38 // uint16 0xEF53
	extMinorRevOff = 0x3E // uint16
	extRevOff      = 0x4C // uint32
	extCompatOff   = 0x5C // uint32
	extIncompatOff = 0x60 // uint32
	extROCompatOff = 0x64 // uint32
	extUUIDOff     = 0x68 // [16]byte
	extLabelOff    = 0x78 // [16]byte

	extMagic = 0xEF53

	extCompatHasJournal   = 0x0004
	extIncompatFiletype   = 0x0002
	extIncompatRecover    = 0x0004
	extIncompatJournalDev = 0x0008
	extIncompatMetaBG     = 0x0010
	// sparse_super, large_file, btree_dir: the only read-only features
	// ext2 and ext3 know.
	extROCompatOld = 0x0001 | 0x0002 | 0x0004

	ext2Incompat = extIncompatFiletype | extIncompatMetaBG
	ext3Incompat = ext2Incompat | extIncompatRecover
)

// probeExt recognizes ext2, ext3, ext4 and external ext journals (jbd).
// Like blkid, the name follows the features in use rather than the
// mkfs that made it: a filesystem that only ext4 can mount is ext4, one
// with a journal that ext3 can mount is ext3, and one without is ext2.
// (blkid also looks at which drivers the running kernel has, so a
// journal-less ext2 is "ext4" on a host without the ext2 driver; the
// answer here does not depend on the host.)
func probeExt(d *device) (*Info, error) {
	sb, err := d.read(extSuperOff, extSuperLen)
	if err != nil {
		return nil, err
	}
	if le16(sb, extMagicOff) != extMagic {
		return nil, nil
	}
	compat := le32(sb, extCompatOff)
	incompat := le32(sb, extIncompatOff)
	roCompat := le32(sb, extROCompatOff)
	journal := compat&extCompatHasJournal != 0

	info := &Info{Usage: "filesystem"}
	switch {
	case incompat&extIncompatJournalDev != 0:
		info.Type, info.Usage = "jbd", "other"
	case !journal && roCompat&^extROCompatOld == 0 && incompat&^ext2Incompat == 0:
		info.Type = "ext2"
	case journal && roCompat&^extROCompatOld == 0 && incompat&^ext3Incompat == 0:
		info.Type = "ext3"
	default:
		info.Type = "ext4"
	}
	info.UUID = uuid(sb[extUUIDOff : extUUIDOff+16])
	info.Label = label(sb[extLabelOff : extLabelOff+16])
	info.Version = fmt.Sprintf("%d.%d", le32(sb, extRevOff), le16(sb, extMinorRevOff))
	return info, nil
}
