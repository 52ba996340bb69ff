// Package identity is the identity applet: the machine id (/etc/machine-id,
// generated on first boot and kept under /var/lib/sysmaster when /var is
// on persistent storage) and the saved clock (the clock never goes back
// before the last time the system saw). It runs as identity.service,
// after /var is mounted: `identity start` at boot, `identity stop` at
// shutdown.
package identity

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/atomicfile"
)

// Paths is where the applet reads and writes; tests point it elsewhere.
type Paths struct {
	MachineID string // /etc/machine-id
	StateDir  string // /var/lib/sysmaster
	// RuntimeID holds the machine id when /etc is read-only (a squashfs
	// root): it is bind-mounted over MachineID, as systemd does.
	RuntimeID string // /run/machine-id
}

// DefaultPaths are the board's.
func DefaultPaths() Paths {
	return Paths{MachineID: "/etc/machine-id", StateDir: "/var/lib/sysmaster", RuntimeID: "/run/machine-id"}
}

func (p Paths) savedID() string { return filepath.Join(p.StateDir, "machine-id") }
func (p Paths) clock() string   { return filepath.Join(p.StateDir, "clock") }

// Main is the identity applet.
func Main(args []string) int {
	if len(args) != 2 || (args[1] != "start" && args[1] != "stop") {
		fmt.Fprintln(os.Stderr, "usage: identity start|stop")
		return 2
	}
	s := &System{Paths: DefaultPaths(), Out: os.Stdout, Persistent: persistent, SetClock: setClock, Write: atomicfile.Write, Bind: bind}
	var err error
	if args[1] == "start" {
		err = s.Start()
	} else {
		err = s.Stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "identity: %v\n", err)
		return 1
	}
	return 0
}

// System is what the applet acts on.
type System struct {
	Paths Paths
	Out   io.Writer
	// Persistent says whether a directory is on storage that outlives a
	// reboot.
	Persistent func(dir string) bool
	// SetClock sets the wall clock.
	SetClock func(time.Time) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Write replaces a file whole; nil means atomicfile.Write.
	Write func(path string, data []byte, perm os.FileMode) error
	// Bind mounts the file src over dst.
	Bind func(src, dst string) error
}

func (s *System) write(path string, data []byte, perm os.FileMode) error {
	if s.Write != nil {
		return s.Write(path, data, perm)
	}
	return atomicfile.Write(path, data, perm)
}

func (s *System) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *System) logf(format string, args ...any) {
	fmt.Fprintf(s.Out, format+"\n", args...)
}

// Start sets up the machine id and moves the clock up to the saved one.
func (s *System) Start() error {
	keep := false
	if err := os.MkdirAll(s.Paths.StateDir, 0o755); errors.Is(err, unix.EROFS) {
		// A read-only root without a data partition: nothing outlives
		// this boot.
		s.logf("identity: %s is on a read-only filesystem: the machine id and the clock are not kept", s.Paths.StateDir)
	} else if err != nil {
		return fmt.Errorf("state directory: %w", err)
	} else {
		keep = s.Persistent(s.Paths.StateDir)
	}
	if err := s.machineID(keep); err != nil {
		return err
	}
	s.clockForward()
	return s.saveClock()
}

// Stop saves the clock for the next boot.
func (s *System) Stop() error { return s.saveClock() }

// setMachineID writes /etc/machine-id or, when /etc is read-only, a file
// under /run mounted over it.
func (s *System) setMachineID(id string) error {
	err := s.write(s.Paths.MachineID, []byte(id+"\n"), 0o444)
	if !errors.Is(err, unix.EROFS) || s.Paths.RuntimeID == "" || s.Bind == nil {
		return err
	}
	if _, serr := os.Stat(s.Paths.MachineID); serr != nil {
		return fmt.Errorf("%s is read-only and has no file to mount the id over (an image's root carries an empty one): %w", s.Paths.MachineID, err)
	}
	if err := s.write(s.Paths.RuntimeID, []byte(id+"\n"), 0o444); err != nil {
		return err
	}
	if err := s.Bind(s.Paths.RuntimeID, s.Paths.MachineID); err != nil {
		return fmt.Errorf("mounting %s over the read-only %s: %w", s.Paths.RuntimeID, s.Paths.MachineID, err)
	}
	return nil
}

// ValidMachineID reports whether id (without its newline) is 32 lowercase
// hex digits and not all zero.
func ValidMachineID(id string) bool {
	if len(id) != 32 || strings.Trim(id, "0") == "" {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// readID reads a machine id file; "" with no error when it is missing.
func readID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if !ValidMachineID(id) {
		return "", fmt.Errorf("%s: %q is not a machine id (32 hex digits)", path, id)
	}
	return id, nil
}

// NewMachineID is a random v4 UUID as 32 hex digits, as systemd makes them.
// An id that is kept for the life of the board waits for the kernel's
// random pool. One that lasts a single boot does not: it must be unique,
// and waiting would hold the boot until a hardware RNG driver is loaded
// or the kernel's jitter entropy has filled the pool, which on a single
// slow CPU takes seconds of its time.
func NewMachineID(kept bool) (string, error) {
	var b [16]byte
	if err := machineRandom(b[:], kept); err != nil {
		return "", fmt.Errorf("random machine id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:]), nil
}

func machineRandom(b []byte, wait bool) error {
	if !wait {
		_, err := unix.Getrandom(b, unix.GRND_INSECURE)
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		// Before Linux 5.6 there is no GRND_INSECURE.
	}
	_, err := unix.Getrandom(b, 0)
	return err
}

func (s *System) machineID(keep bool) error {
	etc, err := readID(s.Paths.MachineID)
	if err != nil {
		s.logf("identity: %v; ignored", err)
	}
	saved := ""
	if keep {
		if saved, err = readID(s.Paths.savedID()); err != nil {
			s.logf("identity: %v; ignored", err)
		}
	}
	id, how := etc, "from "+s.Paths.MachineID
	switch {
	case saved != "" && etc == "":
		id, how = saved, "kept from "+s.Paths.savedID()
	case id == "":
		if id, err = NewMachineID(keep); err != nil {
			return err
		}
		how = "generated on first boot"
		if !keep {
			how += " (" + s.Paths.StateDir + " is not on persistent storage: a new one each boot)"
		}
	}
	if id != etc {
		if err := s.setMachineID(id); err != nil {
			return fmt.Errorf("machine id: %w", err)
		}
	}
	if keep && id != saved {
		if err := s.write(s.Paths.savedID(), []byte(id+"\n"), 0o444); err != nil {
			s.logf("identity: cannot keep the machine id: %v", err)
		}
	}
	s.logf("identity: machine id %s, %s", id, how)
	return nil
}

// clockForward sets the clock to the saved time when it is behind it.
func (s *System) clockForward() {
	b, err := os.ReadFile(s.Paths.clock())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.logf("identity: %v; ignored", err)
		return
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || sec <= 0 {
		s.logf("identity: %s: %q is not a time in Unix seconds; ignored", s.Paths.clock(), strings.TrimSpace(string(b)))
		return
	}
	saved, now := time.Unix(sec, 0), s.now()
	if !now.Before(saved) {
		return
	}
	if err := s.SetClock(saved); err != nil {
		s.logf("identity: setting the clock to the saved %s: %v", saved.UTC().Format(time.RFC3339), err)
		return
	}
	s.logf("identity: clock was %s, before the last saved time; set to %s", now.UTC().Format(time.RFC3339), saved.UTC().Format(time.RFC3339))
}

func (s *System) saveClock() error {
	err := s.write(s.Paths.clock(), []byte(strconv.FormatInt(s.now().Unix(), 10)+"\n"), 0o644)
	switch {
	case errors.Is(err, unix.EROFS) || errors.Is(err, fs.ErrNotExist):
		return nil // a read-only root without a data partition; said at start
	case err != nil:
		return fmt.Errorf("saving the clock: %w", err)
	}
	return nil
}

func bind(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	// Read-only, as the file it covers.
	return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

// persistent says whether dir is on a filesystem that outlives a reboot:
// not the initramfs (rootfs) nor a tmpfs.
func persistent(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return false
	}
	return true
}

func setClock(t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Settimeofday(&tv)
}
