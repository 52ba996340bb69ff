// Package system is the format of /etc/sysmaster/system.toml: settings of
// the system as a whole, read by init at boot and written by the image
// builder from the board's [system] table. Sections and keys follow
// systemd's system.conf.
package system

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sysmaster-go/sysmaster/units"
	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// Path is where init reads the file on the board.
const Path = "/etc/sysmaster/system.toml"

// BuildTimeFile holds the image's build time (Unix seconds), written by
// the image builder: init never lets the clock start before it.
const BuildTimeFile = "/etc/sysmaster/build-time"

// DefaultWatchdogDevice is used when WatchdogDevice is not set.
const DefaultWatchdogDevice = "/dev/watchdog0"

// Config is the whole file.
type Config struct {
	Manager Manager `toml:"Manager"`
}

// Manager is the [Manager] section.
type Manager struct {
	// RuntimeWatchdogSec is the hardware watchdog's timeout while the
	// system runs; 0 (the default) leaves the watchdog alone.
	RuntimeWatchdogSec units.Duration `toml:"RuntimeWatchdogSec,omitempty"`
	// RebootWatchdogSec is the timeout set for the final steps of a
	// shutdown, so one that hangs still resets the board; 0 keeps the
	// runtime timeout.
	RebootWatchdogSec units.Duration `toml:"RebootWatchdogSec,omitempty"`
	// WatchdogDevice is the device node (default /dev/watchdog0).
	WatchdogDevice string `toml:"WatchdogDevice,omitempty"`
}

// Device returns the watchdog device to open.
func (m Manager) Device() string {
	if m.WatchdogDevice == "" {
		return DefaultWatchdogDevice
	}
	return m.WatchdogDevice
}

// Empty reports whether nothing is set, so no file needs writing.
func (c Config) Empty() bool { return c == Config{} }

// Error is a bad setting, with the file and line it is on.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var parts []string
	if e.File != "" {
		f := e.File
		if e.Line > 0 {
			f += ":" + strconv.Itoa(e.Line)
		}
		parts = append(parts, f)
	}
	if e.Key != "" {
		parts = append(parts, e.Key)
	}
	return strings.Join(append(parts, e.Msg), ": ")
}

// Parse decodes the file strictly: an unknown section or key, a wrong type
// or a bad value is an error naming file, line and key.
func Parse(file string, data []byte) (Config, error) {
	var c Config
	text := string(data)
	md, err := toml.Decode(text, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		return Config{}, &Error{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Config{}, unknown(file, text, und[0])
	}
	if err := c.Validate(); err != nil {
		e := err.(*Error)
		e.File, e.Line = file, keyLine(text, strings.TrimPrefix(e.Key, "Manager."))
		return Config{}, e
	}
	return c, nil
}

// Encode writes c as a system.toml file that Parse reads back.
func (c Config) Encode() []byte {
	var b strings.Builder
	b.WriteString("# Written by smimage from the board's [system] table.\n[Manager]\n")
	m := c.Manager
	if m.RuntimeWatchdogSec != 0 {
		fmt.Fprintf(&b, "RuntimeWatchdogSec = \"%ds\"\n", m.RuntimeWatchdogSec.D()/time.Second)
	}
	if m.RebootWatchdogSec != 0 {
		fmt.Fprintf(&b, "RebootWatchdogSec = \"%ds\"\n", m.RebootWatchdogSec.D()/time.Second)
	}
	if m.WatchdogDevice != "" {
		fmt.Fprintf(&b, "WatchdogDevice = %q\n", m.WatchdogDevice)
	}
	return []byte(b.String())
}

// Validate checks the values; the error names the key.
func (c Config) Validate() error {
	m := c.Manager
	for _, d := range []struct {
		key string
		v   units.Duration
	}{{"RuntimeWatchdogSec", m.RuntimeWatchdogSec}, {"RebootWatchdogSec", m.RebootWatchdogSec}} {
		switch {
		case d.v == units.Infinity:
			return &Error{Key: "Manager." + d.key, Msg: "a watchdog cannot wait forever; use 0 to leave it off"}
		case d.v != 0 && (d.v.D() < time.Second || d.v.D()%time.Second != 0):
			return &Error{Key: "Manager." + d.key, Msg: fmt.Sprintf("%s: watchdogs count in whole seconds", d.v.D())}
		}
	}
	if m.WatchdogDevice != "" && !strings.HasPrefix(m.WatchdogDevice, "/dev/") {
		return &Error{Key: "Manager.WatchdogDevice", Msg: fmt.Sprintf("%q is not a device under /dev", m.WatchdogDevice)}
	}
	return nil
}

func unknown(file, text string, k toml.Key) error {
	if len(k) == 1 {
		e := &Error{File: file, Line: keyLine(text, "["+k[0]+"]"), Msg: fmt.Sprintf("unknown section [%s]", k[0])}
		if s := suggest.Nearest(k[0], []string{"Manager"}); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean [%s]?)", s)
		}
		return e
	}
	key := k[len(k)-1]
	e := &Error{File: file, Line: keyLine(text, key), Key: k.String(), Msg: "unknown key"}
	if k[0] == "Manager" {
		var names []string
		t := reflect.TypeOf(Manager{})
		for i := 0; i < t.NumField(); i++ {
			names = append(names, t.Field(i).Name)
		}
		if s := suggest.Nearest(key, names); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
	}
	return e
}

// keyLine is the first line that starts with s (a key or a section
// header), or 0.
func keyLine(text, s string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), s) {
			return i + 1
		}
	}
	return 0
}

// ValidHostname reports why name cannot be a hostname, or nil: 1 to 64
// letters, digits, '-' and '.', not starting with '-' or '.'.
func ValidHostname(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%q: a hostname has 1 to 64 characters", name)
	}
	if name[0] == '-' || name[0] == '.' {
		return fmt.Errorf("%q: a hostname starts with a letter or digit", name)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%q: a hostname has only letters, digits, '-' and '.'", name)
		}
	}
	return nil
}
