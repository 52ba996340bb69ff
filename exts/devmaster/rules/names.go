package rules

import (
	"fmt"
	"path"
	"strings"
)

// validEnvName accepts property names: letters, digits and '_', not
// starting with a digit.
func validEnvName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// validAttrName accepts sysfs attribute names, which may reach into a
// subdirectory ("device/serial") but never above the device.
func validAttrName(s string) bool {
	if s == "" || strings.HasPrefix(s, "/") || strings.ContainsAny(s, "\x00") {
		return false
	}
	for _, el := range strings.Split(s, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// validUserName accepts a user or group name as useradd does (letters,
// digits, '_', '-', '.', a trailing '$'; not starting with '-' or a
// digit), or a numeric id.
func validUserName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	if allDigits(s) {
		return true
	}
	if s[0] == '-' || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '-' && c != '.' && !(c == '$' && i == len(s)-1) {
			return false
		}
	}
	return true
}

// unitKinds are the unit kinds a device can ask to start.
const unitKinds = "service, target, socket, mount, timer"

func isUnitKind(k string) bool {
	switch k {
	case "service", "target", "socket", "mount", "timer":
		return true
	}
	return false
}

// checkUnitName accepts NAME.KIND and NAME@INSTANCE.KIND as the service
// manager names units.
func checkUnitName(s string) error {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || len(s) > 255 {
		return fmt.Errorf("unit name %q: want NAME.KIND with KIND one of %s", s, unitKinds)
	}
	base, kind := s[:dot], s[dot+1:]
	if !isUnitKind(kind) {
		return fmt.Errorf("unit name %q: kind %q is not one of %s", s, kind, unitKinds)
	}
	prefix, inst, templated := strings.Cut(base, "@")
	if prefix == "" || (templated && inst == "") {
		return fmt.Errorf("unit name %q: want NAME.KIND or NAME@INSTANCE.KIND", s)
	}
	for i := 0; i < len(base); i++ {
		if c := base[i]; !isAlnum(c) && !strings.ContainsRune(":_.\\-@", rune(c)) {
			return fmt.Errorf("unit name %q: character %q not allowed", s, c)
		}
	}
	if strings.Count(base, "@") > 1 {
		return fmt.Errorf("unit name %q: more than one '@'", s)
	}
	return nil
}

// linkSafe reports whether c may appear as is in a link name, as udev's
// encoding of by-id and by-label names allows.
func linkSafe(c byte) bool {
	return isAlnum(c) || strings.IndexByte("#+-.:=@_", c) >= 0
}

// escapeLink escapes a substituted value for a link name: bytes that are
// not link-safe become \xNN, as udev writes " " in a label as "\x20".
// A '/' stays only in paths ($devpath, $devnode): in a serial number or a
// label it would make directories, or climb out of /dev with "..".
func escapeLink(src source, v string) string {
	keepSlash := src == srcDevPath || src == srcDevNode
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if linkSafe(c) || (c == '/' && keepSlash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// escapeUnit escapes a substituted value for a unit name as
// systemd-escape does: '/' becomes '-', and bytes other than letters,
// digits, ':', '_' and '.' (and a leading '.') become \xNN.
func escapeUnit(_ source, v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case isAlnum(c) || c == ':' || c == '_' || (c == '.' && i > 0):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// checkLink validates a link name relative to /dev after substitution,
// and returns it cleaned. empty reports a missing component (a value that
// was not set), which drops the link quietly; any other error is worth a
// warning.
func checkLink(s string) (clean string, empty bool, err error) {
	if strings.HasPrefix(s, "/") {
		return "", false, fmt.Errorf("%q is absolute; links are relative to /dev", s)
	}
	for _, el := range strings.Split(s, "/") {
		if el == "" {
			return "", true, nil
		}
	}
	clean = path.Clean(s)
	if clean == "." {
		return "", false, fmt.Errorf("%q names /dev itself", s)
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false, fmt.Errorf("%q is outside /dev", s)
	}
	return clean, false, nil
}

// kernelNumber is the trailing decimal number of a sysname ("1" of vda1).
func kernelNumber(kernel string) string {
	i := len(kernel)
	for i > 0 && isDigit(kernel[i-1]) {
		i--
	}
	return kernel[i:]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
