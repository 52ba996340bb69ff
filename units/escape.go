package units

import (
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"
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

// expand replaces specifiers in every string value of the unit: %i %I %n
// %N %p %P %f %H and %%.
func (p *parsed) expand(hostname func() (string, error)) error {
	name := p.u.Name
	prefix, inst, kind := splitName(name)
	var host string
	spec := func(c byte) (string, error) {
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
		case '%':
			return "%", nil
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
		for i := 0; i < sv.NumField(); i++ {
			key := sv.Type().Field(i).Name
			var err error
			switch f := sv.Field(i).Addr().Interface().(type) {
			case *string:
				*f, err = sub(*f)
			case *List:
				err = subAll(*f, sub)
			case *Commands:
				for _, c := range *f {
					if err = subAll(c.Argv, sub); err != nil {
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
