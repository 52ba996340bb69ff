package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseFstab turns the entries of an fstab file into mount units named
// after their mount points, wanted by local-fs.target unless "noauto".
// Swap entries and entries mounted on "none" are skipped. A bad line is
// reported (file:line) and skipped; the other entries are still returned.
func ParseFstab(path string, data []byte) ([]*Unit, []error) {
	var (
		out  []*Unit
		errs []error
		seen = map[string]int{}
	)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, &Error{File: path, Line: n, Msg: fmt.Sprintf(format, args...)})
		}
		f := strings.Fields(line)
		if len(f) < 3 || len(f) > 6 {
			bad("want SPEC FILE TYPE [OPTIONS [FREQ [PASSNO]]], got %d fields", len(f))
			continue
		}
		what, err := unescapeFstab(f[0])
		if err != nil {
			bad("%v", err)
			continue
		}
		where, err := unescapeFstab(f[1])
		if err != nil {
			bad("%v", err)
			continue
		}
		typ := f[2]
		opts := "defaults"
		if len(f) > 3 {
			opts = f[3]
		}
		if typ == "swap" || where == "none" || where == "swap" {
			continue
		}
		if !strings.HasPrefix(where, "/") {
			bad("mount point %q is not an absolute path", where)
			continue
		}
		for _, p := range []string{"LABEL", "UUID", "PARTLABEL", "PARTUUID"} {
			if v, ok := strings.CutPrefix(what, p+"="); ok {
				what = "/dev/disk/by-" + strings.ToLower(p) + "/" + udevEscape(strings.Trim(v, `"`))
			}
		}
		u := &Unit{Name: UnitNameFromPath(where, "mount"), Path: path}
		if prev, ok := seen[u.Name]; ok {
			bad("%s is mounted already by line %d", where, prev)
			continue
		}
		seen[u.Name] = n
		u.Unit.Description = "Mount " + where + " (from " + path + ")"
		u.Mount = MountSection{What: what, Where: where, Type: typ, Options: opts}
		if !oneOf("noauto", strings.Split(opts, ",")...) {
			u.Install.WantedBy = List{"local-fs.target"}
		}
		p := &parsed{u: u, files: []source{{path: path}}, origin: map[string]int{}}
		if err := p.validate(); err != nil {
			// Re-locate the error from the generated unit to the fstab line.
			if e, ok := err.(*Error); ok {
				err = &Error{File: path, Line: n, Key: e.Key, Msg: e.Msg}
			}
			errs = append(errs, err)
			continue
		}
		out = append(out, u)
	}
	return out, errs
}

// unescapeFstab decodes the octal escapes fstab uses for blanks ("\040").
func unescapeFstab(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+4 > len(s) {
				return "", fmt.Errorf("%q: bad octal escape", s)
			}
			n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err != nil {
				return "", fmt.Errorf("%q: bad octal escape", s)
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// udevEscape escapes a label as udev names its /dev/disk/by-* links.
func udevEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("#+-.:=@_", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}
