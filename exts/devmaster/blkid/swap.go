package blkid

import "encoding/binary"

// A swap area ends its first page with a 10-byte signature, so where it
// sits depends on the page size of the machine that made it. The v1
// header follows the first 1024 bytes (left for a boot loader).
const (
	swapHeaderOff = 1024
	swapHeaderLen = 516 // struct swap_header_v1_2, as blkid reads it

	swapVersionOff  = 0  // uint32, 1 (either byte order)
	swapLastPageOff = 4  // uint32
	swapUUIDOff     = 12 // [16]byte
	swapLabelOff    = 28 // [16]byte
	// padding[32] and padding[33]: blkid trusts UUID and label only when
	// these are zero.
	swapPadCheckOff = 44 + 32*4

	swapMinSize = 10 * 4096 // blkid ignores smaller devices
)

// tuxOnIceMagic marks a TuxOnIce hibernation image, which keeps a valid
// swap signature but is not usable swap.
const tuxOnIceMagic = "\xed\xc3\x02\xe9\x98\x56\xe5\x0c"

// probeSwap recognizes Linux swap areas: "SWAPSPACE2" (version "1", with
// UUID and label) and the ancient "SWAP-SPACE" (version "0").
func probeSwap(d *device) (*Info, error) {
	if d.size >= 0 && d.size < swapMinSize {
		return nil, nil
	}
	for pageSize := int64(4096); pageSize <= 65536; pageSize *= 2 {
		sig, err := d.read(pageSize-10, 10)
		if err != nil {
			return nil, err // errShort: larger pages do not fit either
		}
		switch string(sig) {
		case "SWAPSPACE2":
			return swapV1(d)
		case "SWAP-SPACE":
			return swapInfo(d, "0")
		}
	}
	return nil, nil
}

func swapInfo(d *device, version string) (*Info, error) {
	head, err := d.read(0, len(tuxOnIceMagic))
	if err != nil {
		return nil, err
	}
	if string(head) == tuxOnIceMagic {
		return nil, nil
	}
	return &Info{Type: "swap", Usage: "other", Version: version}, nil
}

func swapV1(d *device) (*Info, error) {
	info, err := swapInfo(d, "1")
	if info == nil || err != nil {
		return nil, err
	}
	h, err := d.read(swapHeaderOff, swapHeaderLen)
	if err != nil {
		return nil, err
	}
	// The header is in the byte order of the machine that made it.
	if le32(h, swapVersionOff) != 1 && binary.BigEndian.Uint32(h[swapVersionOff:]) != 1 {
		return nil, nil
	}
	if le32(h, swapLastPageOff) == 0 {
		return nil, nil
	}
	if allZero(h[swapPadCheckOff : swapPadCheckOff+8]) {
		if h[swapLabelOff] != 0 {
			info.Label = label(h[swapLabelOff : swapLabelOff+16])
		}
		info.UUID = uuid(h[swapUUIDOff : swapUUIDOff+16])
	}
	return info, nil
}
