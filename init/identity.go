package pid1

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/units/system"
)

// Files init reads for the system's identity before core starts, so that
// every service sees the final hostname and a clock that is not in the
// past.
const (
	hostnameFile = "/etc/hostname"
)

// fallbackHostname replaces the kernel's "(none)" when nothing names the
// system, as systemd does.
const fallbackHostname = "localhost"

// chooseHostname picks systemd.hostname= from the command line, else the
// first line of /etc/hostname (which the board's hostname key writes);
// "" when neither names one. Bad values are reported and skipped.
func chooseHostname(cmdline string, etc []byte, etcErr error) (string, []string) {
	var warnings []string
	if cmdline != "" {
		err := system.ValidHostname(cmdline)
		if err == nil {
			return cmdline, nil
		}
		warnings = append(warnings, fmt.Sprintf("systemd.hostname=: %v; ignored", err))
	}
	if etcErr != nil {
		if !errors.Is(etcErr, os.ErrNotExist) {
			warnings = append(warnings, fmt.Sprintf("%s: %v", hostnameFile, etcErr))
		}
		return "", warnings
	}
	for _, l := range strings.Split(string(etc), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := system.ValidHostname(l); err != nil {
			return "", append(warnings, fmt.Sprintf("%s: %v; ignored", hostnameFile, err))
		}
		return l, warnings
	}
	return "", warnings
}

func (p *pid1) setHostname() {
	etc, err := os.ReadFile(hostnameFile)
	name, warnings := chooseHostname(p.opts.Hostname, etc, err)
	for _, w := range warnings {
		p.logf("warning: %s", w)
	}
	if name == "" {
		var u unix.Utsname
		if unix.Uname(&u) == nil && unix.ByteSliceToString(u.Nodename[:]) != "(none)" {
			return
		}
		name = fallbackHostname
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		p.logf("warning: sethostname %q: %v", name, err)
	}
}

// ReadTimestamp reads a file holding Unix seconds.
func ReadTimestamp(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("%s: %q is not a time in Unix seconds", path, strings.TrimSpace(string(b)))
	}
	return time.Unix(sec, 0), nil
}

// ClockForward sets the clock to floor when it is behind it (a board
// without a battery-backed clock starts in 1970 or at the RTC's reset
// value). It returns the time the clock was at, and whether it moved.
func ClockForward(floor time.Time) (time.Time, bool, error) {
	now := time.Now()
	if !now.Before(floor) {
		return now, false, nil
	}
	tv := unix.NsecToTimeval(floor.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		return now, false, fmt.Errorf("setting the clock to %s: %w", floor.UTC().Format(time.RFC3339), err)
	}
	return now, true, nil
}

// clockFloor moves the clock up to the image's build time.
func (p *pid1) clockFloor() {
	floor, err := ReadTimestamp(system.BuildTimeFile)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		p.logf("warning: %v; ignored", err)
		return
	}
	was, moved, err := ClockForward(floor)
	if err != nil {
		p.logf("warning: %v", err)
	} else if moved {
		p.logf("clock was %s, before the image's build time; set to %s", was.UTC().Format(time.RFC3339), floor.UTC().Format(time.RFC3339))
	}
}
