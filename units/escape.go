package units

import (
	"fmt"
	"path"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Escape escapes s for use in a unit name as systemd-escape does: "/"
// becomes "-", and bytes other than ASCII letters, digits, ":", "_" and
// "." (and a leading ".") become \xNN.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// Unescape reverses Escape.
func Unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-':
			b.WriteByte('/')
		case c == '\\':
			if i+4 > len(s) || s[i+1] != 'x' {
				return "", fmt.Errorf("%q: bad escape at offset %d", s, i)
			}
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf("%q: bad escape at offset %d", s, i)
			}
			b.WriteByte(byte(n))
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// EscapePath escapes a path like systemd-escape --path: "/mnt/data" ->
// "mnt-data", "/" -> "-".
func EscapePath(p string) string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return "-"
	}
	return Escape(p)
}

// UnescapePath reverses EscapePath.
func UnescapePath(s string) (string, error) {
	if s == "-" {
		return "/", nil
	}
	u, err := Unescape(s)
	if err != nil {
		return "", err
	}
	return "/" + u, nil
}

// UnitNameFromPath is the unit name systemd derives from a path, e.g.
// ("/mnt/data", "mount") -> "mnt-data.mount".
func UnitNameFromPath(p, kind string) string { return EscapePath(p) + "." + kind }

// systemSpecifiers are the specifiers that name the system manager's
// directories and user, as systemd resolves them for system units.
var systemSpecifiers = map[byte]string{
	't': "/run", 'S': "/var/lib", 'C': "/var/cache", 'L': "/var/log", 'E': "/etc",
	'T': "/tmp", 'V': "/var/tmp", 'h': "/root", 'u': "root", 'U': "0", 'g': "root", 'G': "0", 's': "/bin/sh",
}

// expand replaces specifiers in every string value of the unit: %i %I %n
// %N %p %P %f %j %J %H %l %v %a, the directories %t %S %C %L %E %T %V, the
// manager's user %h %u %U %g %G %s, and %%.
func (p *parsed) expand(hostname func() (string, error)) error {
	name := p.u.Name
	prefix, inst, kind := splitName(name)
	var host string
	var spec func(c byte) (string, error)
	spec = func(c byte) (string, error) {
		switch c {
		case 'n':
			return name, nil
		case 'N':
			return strings.TrimSuffix(name, "."+kind), nil
		case 'p':
			return prefix, nil
		case 'P':
			return Unescape(prefix)
		case 'i':
			return inst, nil
		case 'I':
			return Unescape(inst)
		case 'f':
			s := inst
			if s == "" {
				s = prefix
			}
			u, err := Unescape(s)
			return "/" + strings.TrimPrefix(u, "/"), err
		case 'H':
			if host == "" {
				h, err := hostname()
				if err != nil {
					return "", fmt.Errorf("%%H: %w", err)
				}
				host = h
			}
			return host, nil
		case 'j':
			return prefix[strings.LastIndexByte(prefix, '-')+1:], nil
		case 'J':
			return Unescape(prefix[strings.LastIndexByte(prefix, '-')+1:])
		case 'l':
			h, err := spec('H')
			short, _, _ := strings.Cut(h, ".")
			return short, err
		case 'v':
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return "", fmt.Errorf("%%v: %w", err)
			}
			return unix.ByteSliceToString(u.Release[:]), nil
		case 'a':
			return goarchToSystemd[runtime.GOARCH], nil
		case '%':
			return "%", nil
		}
		if v, ok := systemSpecifiers[c]; ok {
			return v, nil
		}
		return "", fmt.Errorf("unknown specifier %%%c", c)
	}
	sub := func(s string) (string, error) {
		if !strings.Contains(s, "%") {
			return s, nil
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != '%' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 == len(s) {
				return "", fmt.Errorf("%q: lone %% at the end (write %%%% for a literal %%)", s)
			}
			i++
			r, err := spec(s[i])
			if err != nil {
				return "", fmt.Errorf("%q: %w", s, err)
			}
			b.WriteString(r)
		}
		return b.String(), nil
	}
	uv := reflect.ValueOf(p.u).Elem()
	for _, sec := range []string{"Unit", "Service", "Socket", "Mount", "Timer", "Path", "Install"} {
		field := sec
		if sec == "Path" {
			field = "PathUnit"
		}
		sv := uv.FieldByName(field)
		for _, fd := range specifierFields(sv.Type()) {
			key := fd.Name
			var err error
			switch f := sv.FieldByIndex(fd.Index).Addr().Interface().(type) {
			case *string:
				*f, err = sub(*f)
			case *Choice:
				var s string
				s, err = sub(string(*f))
				*f = Choice(s)
			case *List:
				err = subAll(*f, sub)
			case *Commands:
				for i := range *f {
					c := &(*f)[i]
					if err = subAll(c.Argv, sub); err != nil {
						break
					}
					if c.Path, err = sub(c.Path); err != nil {
						break
					}
				}
			}
			if err != nil {
				return p.errAt(sec, key, "%v", err)
			}
		}
	}
	return nil
}

// specifierTypes are the field types whose values may hold specifiers.
var specifierTypes = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[Choice](), reflect.TypeFor[List](), reflect.TypeFor[Commands](),
}

// specifierFieldCache holds, per section type, its fields of
// specifierTypes: walking a section's fields by reflection for every unit
// was half the time of loading a unit directory. A cache of type
// information, as encoding/json keeps one.
var specifierFieldCache sync.Map // reflect.Type -> []reflect.StructField

func specifierFields(t reflect.Type) []reflect.StructField {
	if v, ok := specifierFieldCache.Load(t); ok {
		return v.([]reflect.StructField)
	}
	var out []reflect.StructField
	for _, fd := range reflect.VisibleFields(t) {
		if !fd.Anonymous && slices.Contains(specifierTypes, fd.Type) {
			out = append(out, fd)
		}
	}
	v, _ := specifierFieldCache.LoadOrStore(t, out)
	return v.([]reflect.StructField)
}

// goarchToSystemd maps GOARCH to systemd's architecture names (%a).
var goarchToSystemd = map[string]string{
	"amd64": "x86-64", "arm64": "arm64", "arm": "arm", "riscv64": "riscv64", "386": "x86",
}

func subAll(l []string, sub func(string) (string, error)) error {
	for i, s := range l {
		r, err := sub(s)
		if err != nil {
			return err
		}
		l[i] = r
	}
	return nil
}
