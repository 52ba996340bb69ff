// Package randomseed is the random-seed applet: at shutdown it saves a seed
// from the kernel's random pool under /var/lib/sysmaster, and at boot it
// feeds the saved seed back into the pool. As systemd-random-seed does, it
// credits the seed as entropy only when it is known to be fresh: the seed
// was drawn from an initialised pool, and has been replaced on disk before
// it is credited, so the same bytes are never credited twice (a power cut
// after loading leaves a new seed, not the old one).
package randomseed

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/atomicfile"
)

// SeedSize is how many bytes of the pool are kept, as the kernel's pool.
const SeedSize = 512

// DefaultFile is the seed on the board.
const DefaultFile = "/var/lib/sysmaster/random-seed"

// The file is magic, one flag byte, the seed, and the 128-bit FNV-1a of
// flag and seed: a torn or corrupt file is recognised and never credited.
// The sum guards against accidents, not an attacker (who can write the
// file can write its sum), so it needs no cryptographic hash, which
// would link crypto into smbox. Version 1 files (SHA-256) are ignored
// once, as corrupt ones are.
var magic = []byte("SMSEED\x00\x02")

const (
	flagCreditable = 1
	sumSize        = 16
	fileSize       = 8 + 1 + SeedSize + sumSize
)

func checksum(b []byte) []byte {
	h := fnv.New128a()
	h.Write(b)
	return h.Sum(nil)
}

// Pool is the kernel's random pool.
type Pool interface {
	// Read fills b; creditable reports that the pool was initialised.
	Read(b []byte) (creditable bool, err error)
	// Mix adds b to the pool, crediting it as entropy when credit is set.
	Mix(b []byte, credit bool) error
}

// Main is the random-seed applet.
func Main(args []string) int {
	if len(args) != 2 || (args[1] != "load" && args[1] != "save") {
		fmt.Fprintln(os.Stderr, "usage: random-seed load|save")
		return 2
	}
	var err error
	if args[1] == "load" {
		err = Load(DefaultFile, kernelPool{}, os.Stdout)
	} else {
		err = Save(DefaultFile, kernelPool{})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "random-seed: %v\n", err)
		return 1
	}
	return 0
}

// Encode makes the file's bytes.
func Encode(seed []byte, creditable bool) []byte {
	var flag byte
	if creditable {
		flag = flagCreditable
	}
	b := append(append(append([]byte{}, magic...), flag), seed...)
	return append(b, checksum(b[len(magic):])...)
}

// Decode checks the file's bytes and returns the seed.
func Decode(b []byte) (seed []byte, creditable bool, err error) {
	if len(b) != fileSize {
		return nil, false, fmt.Errorf("%d bytes, want %d", len(b), fileSize)
	}
	if !bytes.Equal(b[:len(magic)], magic) {
		return nil, false, errors.New("not a seed file (bad magic)")
	}
	body, sum := b[len(magic):fileSize-sumSize], b[fileSize-sumSize:]
	if !bytes.Equal(checksum(body), sum) {
		return nil, false, errors.New("checksum mismatch")
	}
	if body[0]&^flagCreditable != 0 {
		return nil, false, fmt.Errorf("unknown flags %#x", body[0])
	}
	return body[1:], body[0] == flagCreditable, nil
}

// Save writes a fresh seed from the pool.
func Save(path string, pool Pool) error {
	seed := make([]byte, SeedSize)
	creditable, err := pool.Read(seed)
	if err != nil {
		return fmt.Errorf("reading the random pool: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, Encode(seed, creditable), 0o600)
}

// Load mixes the saved seed into the pool, then replaces it, and credits
// it only when it was creditable and its replacement is on disk. A missing
// or corrupt file is reported; the boot goes on.
func Load(path string, pool Pool, out io.Writer) error {
	b, err := os.ReadFile(path)
	var seed []byte
	creditable := false
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(out, "random-seed: no seed in %s yet (first boot)\n", path)
	case err != nil:
		fmt.Fprintf(out, "random-seed: %s: %v; ignored\n", path, err)
	default:
		if seed, creditable, err = Decode(b); err != nil {
			fmt.Fprintf(out, "random-seed: %s: corrupt (%v); ignored\n", path, err)
			seed = nil
		}
	}
	// A new seed replaces the one just read before anything is credited.
	saved := Save(path, pool)
	if saved != nil {
		fmt.Fprintf(out, "random-seed: cannot refresh %s: %v\n", path, saved)
	}
	if seed == nil {
		return nil
	}
	credit := creditable && saved == nil
	if err := pool.Mix(seed, credit); err != nil {
		return fmt.Errorf("adding the seed to the pool: %w", err)
	}
	switch {
	case credit:
		fmt.Fprintf(out, "random-seed: loaded %d bytes from %s, credited\n", len(seed), path)
	case !creditable:
		fmt.Fprintf(out, "random-seed: loaded %d bytes from %s, not credited (saved before the pool was initialised)\n", len(seed), path)
	default:
		fmt.Fprintf(out, "random-seed: loaded %d bytes from %s, not credited (it could not be replaced, so it may be used again)\n", len(seed), path)
	}
	return nil
}

// kernelPool is /dev/urandom and getrandom(2).
type kernelPool struct{}

func (kernelPool) Read(b []byte) (bool, error) {
	// Without blocking: an uninitialised pool gives bytes that are not
	// creditable.
	if _, err := unix.Getrandom(b, unix.GRND_NONBLOCK); err == nil {
		return true, nil
	} else if !errors.Is(err, unix.EAGAIN) {
		return false, err
	}
	_, err := unix.Getrandom(b, unix.GRND_INSECURE)
	return false, err
}

func (kernelPool) Mix(b []byte, credit bool) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if !credit {
		_, err := f.Write(b)
		return err
	}
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(b))
	*(*int32)(unsafe.Pointer(&info[0])) = int32(8 * len(b))
	*(*int32)(unsafe.Pointer(&info[4])) = int32(len(b))
	copy(info[8:], b)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", errno)
	}
	return nil
}
