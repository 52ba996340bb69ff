// Package fsck is the fsck applet: it checks a filesystem before it is
// mounted, with the checker the image carries (Debian's e2fsck for ext2/3/4,
// fsck.fat for vfat), in preen mode, so the check runs only when the
// filesystem asks for one (not cleanly unmounted, errors recorded, mount
// count or interval reached). Without a checker it says so and lets the
// mount go on.
package fsck

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// checkers are where each filesystem's checker may be in an image.
var checkers = map[string][]string{
	"ext2": {"/sbin/e2fsck", "/usr/sbin/e2fsck"},
	"ext3": {"/sbin/e2fsck", "/usr/sbin/e2fsck"},
	"ext4": {"/sbin/e2fsck", "/usr/sbin/e2fsck"},
	"vfat": {"/sbin/fsck.fat", "/usr/sbin/fsck.fat", "/sbin/fsck.vfat", "/usr/sbin/fsck.vfat"},
}

// Main is the fsck applet: fsck TYPE DEVICE.
func Main(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fsck TYPE DEVICE")
		return 2
	}
	return Check(args[1], args[2], os.Stat, run, os.Stdout)
}

func run(checker, device string) (int, error) {
	cmd := exec.Command(checker, "-p", device)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// Check runs the checker for typ on device and says what it found. The
// exit status is 0 when the filesystem may be mounted.
func Check(typ, device string, stat func(string) (os.FileInfo, error), run func(checker, device string) (int, error), out io.Writer) int {
	// The unit runs once the wait for the device is over, found or not.
	if _, err := stat(device); err != nil {
		fmt.Fprintf(out, "fsck: %s: the device is not there (%v); not mounting it\n", device, err)
		return 1
	}
	paths, ok := checkers[typ]
	if !ok {
		fmt.Fprintf(out, "fsck: %s: no checker known for %s; mounting unchecked\n", device, typ)
		return 0
	}
	checker := ""
	for _, p := range paths {
		if _, err := stat(p); err == nil {
			checker = p
			break
		}
	}
	if checker == "" {
		fmt.Fprintf(out, "fsck: %s: the image has no checker for %s (%s); mounting unchecked\n", device, typ, paths[0])
		return 0
	}
	code, err := run(checker, device)
	if err != nil {
		fmt.Fprintf(out, "fsck: %s: running %s: %v\n", device, checker, err)
		return 1
	}
	// fsck's exit status is a bit mask (fsck(8)).
	switch {
	case code == 0:
		fmt.Fprintf(out, "fsck: %s: clean\n", device)
	case code&^3 == 0:
		fmt.Fprintf(out, "fsck: %s: errors corrected (%s exit %d)\n", device, checker, code)
	default:
		fmt.Fprintf(out, "fsck: %s: errors left uncorrected (%s exit %d); not mounting it\n", device, checker, code)
		return 1
	}
	return 0
}
