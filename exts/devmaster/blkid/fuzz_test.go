package blkid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzProbe: no input may panic, and every failure on an in-memory image
// is ErrUnknown (no read can fail there). An input is a patch written at
// off over one of the valid images the tests build (or over nothing), so
// that short inputs reach deep into every probe. Each image is probed
// with its true size and again with claim: more bytes than it holds, or
// an unknown size when negative.
func FuzzProbe(f *testing.F) {
	fat32 := fat32Params
	fat32.rootLabel = "ESP"
	bases := [][]byte{
		nil,
		extImage(featExt4, testUUID, "rootfs"),
		fatImage(fat12Params),
		fatImage(fat16Params),
		fatImage(fat32),
		squashfsImage("hsqs", 4, 0, binary.LittleEndian),
		swapImage(4096, testUUID, "swap"),
	}
	for i := range bases {
		f.Add(uint8(i), uint32(0), []byte{}, int64(0))
	}
	f.Add(uint8(1), uint32(extSuperOff+extIncompatOff), []byte{0x08}, int64(0))
	f.Add(uint8(3), uint32(fatClusterSizeOff), []byte{0x80}, int64(1<<40))
	f.Add(uint8(4), uint32(fat32RootClusterOff), []byte{0xff, 0xff, 0xff, 0x0f}, int64(0))
	f.Add(uint8(6), uint32(swapHeaderOff), []byte{0, 0, 0, 1}, int64(0))
	f.Add(uint8(0), uint32(0), []byte("hsqs\x00\x00"), int64(-1))
	f.Fuzz(func(t *testing.T, base uint8, off uint32, patch []byte, claim int64) {
		b := bases[int(base)%len(bases)]
		img := make([]byte, max(len(b), int(off%(1<<17))+len(patch)))
		copy(img, b)
		copy(img[off%(1<<17):], patch)
		claimed := int64(-1)
		if claim >= 0 {
			claimed = int64(len(img)) + claim%(1<<40)
		}
		for _, size := range []int64{int64(len(img)), claimed} {
			info, err := Probe(bytes.NewReader(img), size)
			if err != nil && !errors.Is(err, ErrUnknown) {
				t.Fatalf("Probe(size %d) = %v", size, err)
			}
			if err == nil && info.Type == "" {
				t.Fatalf("Probe(size %d) recognized nothing without an error", size)
			}
		}
	})
}
