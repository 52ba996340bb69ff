// Package uevent parses the kernel's device events (uevents) and receives
// them from the kernel's netlink socket.
package uevent

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSize bounds a message. The kernel builds a uevent in a 2 KiB
// environment buffer (UEVENT_BUFFER_SIZE, which also holds DEVPATH=) plus an
// "ACTION@DEVPATH" header of the same order, so real messages stay under
// 4.2 KiB; twice that leaves room for future growth while a bigger datagram
// is certainly not from the kernel.
const MaxSize = 8192

// Errors a message can be rejected with; Parse wraps them with details.
var (
	// ErrLibudev marks a message that libudev broadcast to its listeners
	// (it starts with "libudev\0"), never a kernel event.
	ErrLibudev = errors.New("uevent: libudev message")
	// ErrMalformed marks anything else that is not a well-formed uevent.
	ErrMalformed = errors.New("uevent: malformed message")
)

// Event is one kernel uevent.
type Event struct {
	Action    string // "add", "remove", "change", "bind", ...
	DevPath   string // "/devices/...", relative to the sysfs root
	Subsystem string
	Seqnum    uint64 // 0 for events made up in user space
	// Env holds every KEY=VALUE field, ACTION, DEVPATH, SUBSYSTEM and
	// SEQNUM included.
	Env map[string]string
}

// Get returns the value of the field key, "" when absent.
func (e *Event) Get(key string) string { return e.Env[key] }

// SysName is the kernel name of the device, the last element of DevPath.
func (e *Event) SysName() string { return e.DevPath[strings.LastIndexByte(e.DevPath, '/')+1:] }

// Keys returns the field names sorted.
func (e *Event) Keys() []string {
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Marshal encodes e in the kernel's wire format: the header, then the
// fields sorted by name, each NUL-terminated.
func (e *Event) Marshal() []byte {
	var b strings.Builder
	b.WriteString(e.Action)
	b.WriteByte('@')
	b.WriteString(e.DevPath)
	b.WriteByte(0)
	for _, k := range e.Keys() {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(e.Env[k])
		b.WriteByte(0)
	}
	return []byte(b.String())
}

// New builds an event from its fields, as read from a device's uevent file
// or a recording, checking them as Parse does. ACTION, DEVPATH and
// SUBSYSTEM must be present.
func New(env map[string]string) (*Event, error) {
	e := &Event{Env: env}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// NewSplit is New for fields their caller split and checked itself, as
// Parse does (no key empty or holding '=' or a NUL, no value holding a
// NUL): only ACTION, DEVPATH, SUBSYSTEM and SEQNUM are checked. Events
// made up from sysfs are built this way, one per device per trigger.
func NewSplit(env map[string]string) (*Event, error) {
	e := &Event{Env: env}
	if err := e.checkTyped(); err != nil {
		return nil, err
	}
	return e, nil
}

// Parse decodes one netlink message: "ACTION@DEVPATH\0" followed by
// NUL-terminated KEY=VALUE fields. The header must agree with the ACTION
// and DEVPATH fields, and SUBSYSTEM must be present, as the kernel always
// sends them; a missing final NUL means the message was truncated.
func Parse(msg []byte) (*Event, error) {
	if len(msg) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrMalformed, len(msg), MaxSize)
	}
	if strings.HasPrefix(string(msg), "libudev\x00") {
		return nil, ErrLibudev
	}
	if len(msg) == 0 || msg[len(msg)-1] != 0 {
		return nil, fmt.Errorf("%w: truncated (no final NUL)", ErrMalformed)
	}
	// One string for the whole message; fields are slices of it. Split
	// on NUL and cut at the first '=', a field can hold neither a NUL nor
	// a key an '=', so check need not look again.
	text := string(msg[:len(msg)-1])
	header, rest, _ := strings.Cut(text, "\x00")
	action, devpath, ok := strings.Cut(header, "@")
	if !ok {
		return nil, fmt.Errorf("%w: header %s is not ACTION@DEVPATH", ErrMalformed, clip(header))
	}
	e := &Event{Env: make(map[string]string, strings.Count(rest, "\x00")+1)}
	for more := len(text) > len(header); more; {
		var f string
		f, rest, more = strings.Cut(rest, "\x00")
		key, val, ok := strings.Cut(f, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%w: field %s is not KEY=VALUE", ErrMalformed, clip(f))
		}
		e.Env[key] = val
	}
	if err := e.checkTyped(); err != nil {
		return nil, err
	}
	if e.Action != action || e.DevPath != devpath {
		return nil, fmt.Errorf("%w: header %s disagrees with ACTION=%s DEVPATH=%s",
			ErrMalformed, clip(header), clip(e.Action), clip(e.DevPath))
	}
	return e, nil
}

// check fills the typed fields from Env and validates them and every
// field.
func (e *Event) check() error {
	if err := e.checkTyped(); err != nil {
		return err
	}
	// IndexByte rather than ContainsAny: this runs for every field of
	// every event made up from sysfs.
	for k, v := range e.Env {
		if k == "" || strings.IndexByte(k, '=') >= 0 || strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: bad field %s", ErrMalformed, clip(k))
		}
	}
	return nil
}

// checkTyped fills the typed fields from Env and validates them. DevPath
// is joined to the sysfs root later, so it must not climb out of it.
func (e *Event) checkTyped() error {
	e.Action, e.DevPath, e.Subsystem = e.Env["ACTION"], e.Env["DEVPATH"], e.Env["SUBSYSTEM"]
	if !validAction(e.Action) {
		return fmt.Errorf("%w: bad ACTION %s", ErrMalformed, clip(e.Action))
	}
	if !ValidDevPath(e.DevPath) {
		return fmt.Errorf("%w: bad DEVPATH %s", ErrMalformed, clip(e.DevPath))
	}
	if e.Subsystem == "" {
		return fmt.Errorf("%w: %s %s: no SUBSYSTEM", ErrMalformed, e.Action, clip(e.DevPath))
	}
	e.Seqnum = 0
	if s, ok := e.Env["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: bad SEQNUM %s", ErrMalformed, clip(s))
		}
		e.Seqnum = n
	}
	return nil
}

// validAction accepts the kernel's lower-case action words, known or not.
func validAction(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < 'a' || a[i] > 'z' {
			return false
		}
	}
	return true
}

// ValidDevPath reports whether p is an absolute, clean sysfs path: no empty,
// "." or ".." elements, no NUL.
func ValidDevPath(p string) bool {
	if len(p) < 2 || p[0] != '/' || strings.IndexByte(p, 0) >= 0 {
		return false
	}
	// Element by element without splitting: every event's path is checked.
	for rest := p[1:]; ; {
		el, next, more := strings.Cut(rest, "/")
		if el == "" || el == "." || el == ".." {
			return false
		}
		if !more {
			return true
		}
		rest = next
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}
