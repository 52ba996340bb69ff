package blkid

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// le16 and le32 read little-endian fields at off in a superblock.
func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// label decodes a fixed-size label field as blkid does: up to the first
// NUL, without trailing whitespace.
func label(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " \t\n\v\f\r")
}

// uuid formats a 16-byte DCE UUID in lowercase 8-4-4-4-12 form; blkid
// prints nothing for an all-zero one.
func uuid(b []byte) string {
	if len(b) != 16 || allZero(b) {
		return ""
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
