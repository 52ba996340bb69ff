// Package notify implements both ends of the sd_notify protocol: the
// manager's datagram socket that services report readiness and status to,
// and the client call that services (and applets) use to send them.
package notify

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxMessage is the largest datagram accepted; bigger ones are dropped
// rather than truncated, so a cut-off line is never misread.
const MaxMessage = 4096

// Message is one notification. PID, UID and GID come from the kernel's
// SCM_CREDENTIALS, never from the payload, so the manager can check who
// sent it.
type Message struct {
	PID      int
	UID, GID uint32

	Ready           bool          // READY=1
	Reloading       bool          // RELOADING=1
	Stopping        bool          // STOPPING=1
	Watchdog        bool          // WATCHDOG=1
	WatchdogTrigger bool          // WATCHDOG=trigger
	Status          string        // STATUS=
	MainPID         int           // MAINPID=, 0 when absent
	ExtendTimeout   time.Duration // EXTEND_TIMEOUT_USEC=
	Errno           int           // ERRNO=
	FDStore         bool          // FDSTORE=1
	FDName          string        // FDNAME=

	// FDs were passed with SCM_RIGHTS. The receiver of the Message owns
	// them; see Server.Run for who closes them.
	FDs []*os.File

	// Fields holds every KEY=VALUE line, known or not; the last of
	// repeated keys wins.
	Fields map[string]string
}

// Parse decodes the newline-separated KEY=VALUE payload of a notification.
// Empty lines are skipped; any other malformed line fails the whole
// message, as acting on half of it could be worse than ignoring it.
func Parse(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessage {
		return m, fmt.Errorf("notify: message of %d bytes exceeds %d", len(data), MaxMessage)
	}
	if !utf8.Valid(data) {
		return m, errors.New("notify: message is not valid UTF-8")
	}
	m.Fields = make(map[string]string)
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return Message{}, fmt.Errorf("notify: line %d %q: missing '='", i+1, clip(line))
		}
		if err := validKey(key); err != nil {
			return Message{}, fmt.Errorf("notify: line %d: %w", i+1, err)
		}
		if strings.ContainsRune(val, 0) {
			return Message{}, fmt.Errorf("notify: line %d: %s value contains NUL", i+1, key)
		}
		if err := m.set(key, val); err != nil {
			return Message{}, fmt.Errorf("notify: line %d: %w", i+1, err)
		}
		m.Fields[key] = val
	}
	return m, nil
}

func (m *Message) set(key, val string) error {
	var err error
	switch key {
	case "READY":
		m.Ready, err = boolFlag(key, val)
	case "RELOADING":
		m.Reloading, err = boolFlag(key, val)
	case "STOPPING":
		m.Stopping, err = boolFlag(key, val)
	case "FDSTORE":
		m.FDStore, err = boolFlag(key, val)
	case "WATCHDOG":
		switch val {
		case "1":
			m.Watchdog = true
		case "trigger":
			m.WatchdogTrigger = true
		default:
			return fmt.Errorf("WATCHDOG=%q: want 1 or trigger", clip(val))
		}
	case "STATUS":
		m.Status = val
	case "MAINPID":
		pid, perr := strconv.Atoi(val)
		if perr != nil || pid <= 0 {
			return fmt.Errorf("MAINPID=%q: want a positive integer", clip(val))
		}
		m.MainPID = pid
	case "EXTEND_TIMEOUT_USEC":
		us, perr := strconv.ParseUint(val, 10, 64)
		if perr != nil {
			return fmt.Errorf("EXTEND_TIMEOUT_USEC=%q: want an unsigned integer", clip(val))
		}
		if us > math.MaxInt64/uint64(time.Microsecond) {
			m.ExtendTimeout = time.Duration(math.MaxInt64)
		} else {
			m.ExtendTimeout = time.Duration(us) * time.Microsecond
		}
	case "ERRNO":
		n, perr := strconv.Atoi(val)
		if perr != nil || n < 0 {
			return fmt.Errorf("ERRNO=%q: want a non-negative integer", clip(val))
		}
		m.Errno = n
	case "FDNAME":
		if err := validFDName(val); err != nil {
			return err
		}
		m.FDName = val
	}
	return err
}

func boolFlag(key, val string) (bool, error) {
	if val != "1" {
		return false, fmt.Errorf("%s=%q: want 1", key, clip(val))
	}
	return true, nil
}

func validKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("key %q: only letters, digits and '_' allowed", clip(key))
		}
	}
	return nil
}

// validFDName follows systemd: printable ASCII without ':', at most 255
// bytes, because the names end up in the colon-separated LISTEN_FDNAMES.
func validFDName(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("FDNAME: length %d not in 1..255", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == ':' {
			return fmt.Errorf("FDNAME=%q: only printable ASCII without ':' allowed", clip(s))
		}
	}
	return nil
}

// clip keeps error messages about hostile input short.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
