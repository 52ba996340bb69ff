package blkid

import (
	"encoding/binary"
	"fmt"
)

// Squashfs keeps its superblock at byte 0; the version is two uint16s at
// 28 and 30. It has no UUID and no label.
const (
	sqshSuperLen = 32
	sqshMajorOff = 28
	sqshMinorOff = 30
)

// probeSquashfs recognizes squashfs 4 ("squashfs", little-endian magic
// "hsqs") and the older formats blkid calls "squashfs3" (either byte
// order).
func probeSquashfs(d *device) (*Info, error) {
	sb, err := d.read(0, sqshSuperLen)
	if err != nil {
		return nil, err
	}
	var order binary.ByteOrder
	switch string(sb[:4]) {
	case "hsqs":
		order = binary.LittleEndian
	case "sqsh":
		order = binary.BigEndian
	default:
		return nil, nil
	}
	major, minor := order.Uint16(sb[sqshMajorOff:]), order.Uint16(sb[sqshMinorOff:])
	typ := "squashfs"
	if major < 4 {
		typ = "squashfs3"
	} else if string(sb[:4]) == "sqsh" {
		return nil, nil // squashfs 4 is little-endian only
	}
	return &Info{Type: typ, Usage: "filesystem", Version: fmt.Sprintf("%d.%d", major, minor)}, nil
}
