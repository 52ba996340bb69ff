package units

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dropped is one directive of a systemd unit file that a conversion did
// not carry over.
type Dropped struct {
	Key    string // "Section.Key"
	File   string // the drop-in it was read from; "" for the unit file itself
	Line   int
	Reason string
	// Harmless says that leaving it out changes nothing a service can
	// observe here (accounting switches, journal-only settings, a bus name).
	Harmless bool
}

func (d Dropped) String() string {
	word := "not supported"
	if d.Harmless {
		word = "ignored"
	}
	where := fmt.Sprintf("line %d", d.Line)
	if d.File != "" {
		where = d.File + " " + where
	}
	s := fmt.Sprintf("%s (%s): %s", d.Key, where, word)
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

// Conversion is the result of converting one systemd unit file.
type Conversion struct {
	TOML    []byte
	Dropped []Dropped
}

// Lost reports the dropped directives that change behaviour.
func (c *Conversion) Lost() []Dropped {
	var out []Dropped
	for _, d := range c.Dropped {
		if !d.Harmless {
			out = append(out, d)
		}
	}
	return out
}

// ConvertINI turns a systemd unit file (.service, .socket, .timer, .mount,
// .target) into this package's TOML format. name is the unit's file name
// (a directory part is ignored). Every directive that could not be carried
// over is listed in unsupported as "Section.Key (line N): reason"; the
// returned TOML always parses with Parse. err is set when the file cannot
// be read as INI or the result would not be a valid unit (for example a
// service without ExecStart).
func ConvertINI(name string, data []byte) (out []byte, unsupported []string, err error) {
	c, err := Convert(name, data)
	for _, d := range c.Dropped {
		unsupported = append(unsupported, d.String())
	}
	return c.TOML, unsupported, err
}

// Convert is ConvertINI with the dropped directives as values.
func Convert(name string, data []byte) (Conversion, error) {
	return ConvertFiles(name, data, nil)
}

// Source is one file given to ConvertFiles.
type Source struct {
	Name string // shown in reports, e.g. "override.conf"
	Data []byte
}

// ConvertFiles converts a unit file with its drop-ins (NAME.d/*.conf, in
// the order systemd reads them), which are read as if appended to it: a
// later assignment overrides or, for lists, appends, and an empty one
// resets.
func ConvertFiles(name string, data []byte, dropIns []Source) (Conversion, error) {
	name = filepath.Base(name)
	if err := ValidName(name); err != nil {
		return Conversion{}, err
	}
	kind := name[strings.LastIndexByte(name, '.')+1:]
	c := &converter{name: name}
	if err := c.read(string(data), kind); err != nil {
		return Conversion{Dropped: c.dropped}, err
	}
	for _, d := range dropIns {
		c.file = d.Name
		if err := c.read(string(d.Data), kind); err != nil {
			return Conversion{Dropped: c.dropped}, err
		}
	}
	c.file = ""
	// Values are checked by Parse itself: a rejected key is dropped and
	// reported, until what is left parses.
	for {
		out := c.encode()
		_, err := Parse(name+".toml", out)
		if err == nil {
			return Conversion{TOML: out, Dropped: c.dropped}, nil
		}
		var e *Error
		if !errors.As(err, &e) || !c.drop(e) {
			return Conversion{Dropped: c.dropped}, fmt.Errorf("convert %s: %w", name, err)
		}
	}
}

type iniSection struct {
	name    string
	entries []*iniEntry
}

type iniEntry struct {
	key  string
	line int
	val  any // string, bool, int64 or []string
}

type converter struct {
	name                 string
	file                 string // the drop-in being read, "" for the unit file
	sections             []*iniSection
	dropped              []Dropped
	permissionsStartOnly bool
}

func (c *converter) skip(sec, key string, line int, reason string) {
	d := Dropped{Key: sec + "." + key, File: c.file, Line: line, Reason: reason}
	if why, ok := harmless[d.Key]; ok && reason == "" {
		d.Reason, d.Harmless = why, true
	}
	if reason == "" {
		d.Reason = unsupportedWhy[d.Key]
	}
	c.dropped = append(c.dropped, d)
}

// wordLists are the list keys whose values are blank-separated words;
// other list keys take one value per assignment.
var wordLists = map[string]bool{
	"Documentation": true, "Requires": true, "Requisite": true, "Wants": true, "BindsTo": true,
	"PartOf": true, "OnFailure": true, "After": true, "Before": true, "Conflicts": true,
	"WantedBy": true, "RequiredBy": true, "Alias": true,
}

func (c *converter) section(name string) *iniSection {
	for _, s := range c.sections {
		if s.name == name {
			return s
		}
	}
	s := &iniSection{name: name}
	c.sections = append(c.sections, s)
	return s
}

func (c *converter) read(text, kind string) error {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	cur := ""
	for i := 0; i < len(lines); i++ {
		n := i + 1
		l := strings.TrimSpace(lines[i])
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if next != "" && (next[0] == '#' || next[0] == ';') {
				continue // systemd skips comments inside a continuation
			}
			l = strings.TrimSuffix(l, `\`) + " " + next
		}
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			if !strings.HasSuffix(l, "]") {
				return &Error{File: c.where(), Line: n, Msg: fmt.Sprintf("bad section header %q", l)}
			}
			cur = l[1 : len(l)-1]
			continue
		}
		key, val, ok := strings.Cut(l, "=")
		if !ok {
			return &Error{File: c.where(), Line: n, Msg: fmt.Sprintf("want KEY=VALUE, got %q", l)}
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if cur == "" {
			return &Error{File: c.where(), Line: n, Msg: fmt.Sprintf("%s= outside of a section", key)}
		}
		sec := cur
		if r, ok := renamed[cur+"."+key]; ok {
			sec, key, _ = strings.Cut(r, ".")
		}
		typ, ok := sections[sec]
		if !ok || !oneOf(sec, sectionsOf[kind]...) {
			c.skip(sec, key, n, "")
			continue
		}
		if sec == "Service" && key == "Type" {
			if why, ok := simpleTypes[strings.TrimSpace(val)]; ok {
				c.note(sec, key, n, why)
				val = "simple"
			}
		}
		if sec == "Service" && (key == "StandardOutput" || key == "StandardError") {
			if to, ok := outputAliases[strings.TrimSpace(val)]; ok {
				c.note(sec, key, n, fmt.Sprintf("%q is read as %q: output goes to the manager's log and its console", val, to))
				val = to
			}
		}
		if sec == "Service" && key == "Slice" {
			if strings.TrimSpace(val) == "system.slice" {
				c.note(sec, key, n, "system.slice is where every service is here")
			} else {
				c.skip(sec, key, n, "no slice units: services are not grouped under other slices")
			}
			continue
		}
		if sec == "Unit" && oneOf(key, "After", "Before", "Wants") {
			val = c.dropOtherKinds(sec, key, val, n)
		}
		if sec == "Service" && key == "PermissionsStartOnly" {
			switch strings.ToLower(val) {
			case "yes", "true", "1", "on":
				c.permissionsStartOnly = true
			case "no", "false", "0", "off", "":
				c.permissionsStartOnly = false
			default:
				c.skip(sec, key, n, fmt.Sprintf("%q is not a boolean", val))
			}
			continue
		}
		if val == "\x00" {
			continue
		}
		f, ok := typ.FieldByName(key)
		if !ok {
			c.skip(sec, key, n, "")
			continue
		}
		c.assign(c.section(sec), f.Type, key, val, n)
	}
	if c.permissionsStartOnly {
		c.privilegeControlCommands()
	}
	return nil
}

// where names the file being read in errors.
func (c *converter) where() string {
	if c.file != "" {
		return c.name + ": " + c.file
	}
	return c.name
}

// renamed maps directives systemd still reads under an old name or in an
// old section to where they live now.
var renamed = map[string]string{
	"Unit.StartLimitInterval":         "Unit.StartLimitIntervalSec",
	"Service.StartLimitInterval":      "Unit.StartLimitIntervalSec",
	"Service.StartLimitIntervalSec":   "Unit.StartLimitIntervalSec",
	"Service.StartLimitBurst":         "Unit.StartLimitBurst",
	"Service.ReadWriteDirectories":    "Service.ReadWritePaths",
	"Service.ReadOnlyDirectories":     "Service.ReadOnlyPaths",
	"Service.InaccessibleDirectories": "Service.InaccessiblePaths",
	"Service.MemoryLimit":             "Service.MemoryMax",
}

// outputAliases are StandardOutput= values read as one we have.
var outputAliases = map[string]string{
	"journal+console": "journal", "kmsg+console": "kmsg", "syslog": "journal", "syslog+console": "journal",
}

// otherKinds are unit kinds that do not exist here.
var otherKinds = []string{".automount", ".slice", ".swap", ".scope"}

// dropOtherKinds removes names of kinds that do not exist here from an
// ordering or Wants= list: ordering against or wanting a unit that is not
// there is a no-op, in systemd too.
func (c *converter) dropOtherKinds(sec, key, val string, line int) string {
	var keep []string
	for _, w := range strings.Fields(val) {
		other := false
		for _, k := range otherKinds {
			other = other || strings.HasSuffix(w, k)
		}
		if other {
			c.note(sec, key, line, fmt.Sprintf("%s left out: there are no %s units here", w, strings.TrimPrefix(filepath.Ext(w), ".")))
			continue
		}
		keep = append(keep, w)
	}
	if len(keep) == 0 && val != "" {
		return "\x00" // everything was left out: not an empty assignment
	}
	return strings.Join(keep, " ")
}

// simpleTypes are the service types started as Type=simple here, with why.
var simpleTypes = map[string]string{
	"dbus": "Type=dbus is started as simple: there is no bus to wait for the name on",
	"idle": "Type=idle is started as simple: jobs are not held back for console output",
}

// note records a directive carried over with a change that does not alter
// what the service sees.
func (c *converter) note(sec, key string, line int, why string) {
	c.dropped = append(c.dropped, Dropped{Key: sec + "." + key, File: c.file, Line: line, Reason: why, Harmless: true})
}

// privilegeControlCommands applies PermissionsStartOnly=yes: every
// command but ExecStart runs with full privileges, which is the "+" prefix.
func (c *converter) privilegeControlCommands() {
	for _, s := range c.sections {
		if s.name != "Service" {
			continue
		}
		for _, e := range s.entries {
			if e.key == "ExecStart" || !strings.HasPrefix(e.key, "Exec") {
				continue
			}
			l, _ := e.val.([]string)
			for i, cmd := range l {
				if p := strings.TrimLeft(cmd, "-@:"); p != "" && p[0] != '+' && p[0] != '!' {
					l[i] = "+" + cmd
				}
			}
		}
	}
}

var (
	listType     = reflect.TypeOf(List{})
	commandsType = reflect.TypeOf(Commands{})
	exitSetType  = reflect.TypeOf(ExitStatusSet{})
)

// assign applies one KEY=VALUE line to sec; an empty value resets the key.
func (c *converter) assign(sec *iniSection, typ reflect.Type, key, val string, line int) {
	var e *iniEntry
	for _, x := range sec.entries {
		if x.key == key {
			e = x
		}
	}
	if val == "" {
		if e != nil {
			sec.entries = removeEntry(sec.entries, e)
		}
		return
	}
	isList := typ == listType || typ == commandsType || typ == exitSetType
	if e == nil {
		e = &iniEntry{key: key}
		sec.entries = append(sec.entries, e)
	}
	e.line = line
	if isList {
		var add []string
		var err error
		switch {
		case key == "Environment":
			add, err = SplitWords(val)
		case wordLists[key] || typ == exitSetType:
			add = strings.Fields(val)
		case typ == commandsType:
			_, err = ParseCommand(val)
			add = []string{val}
		default:
			add = []string{val}
		}
		if err != nil {
			c.skip(sec.name, key, line, err.Error())
		} else {
			old, _ := e.val.([]string)
			e.val = append(old, add...)
		}
		if l, _ := e.val.([]string); len(l) == 0 {
			sec.entries = removeEntry(sec.entries, e)
		}
		return
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ.Kind() == reflect.Bool:
		switch strings.ToLower(val) {
		case "yes", "true", "1", "on":
			e.val = true
		case "no", "false", "0", "off":
			e.val = false
		default:
			c.skip(sec.name, key, line, fmt.Sprintf("%q is not a boolean", val))
			sec.entries = removeEntry(sec.entries, e)
		}
	case typ.Kind() == reflect.Int:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			c.skip(sec.name, key, line, fmt.Sprintf("%q is not an integer", val))
			sec.entries = removeEntry(sec.entries, e)
			return
		}
		e.val = n
	case typ.Kind() == reflect.Uint64 || typ == reflect.TypeOf(Rlimit{}):
		// Sizes and limits: plain numbers as integers, the rest ("1G",
		// "infinity", "SOFT:HARD") as strings.
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			e.val = n
		} else {
			e.val = val
		}
	case key == "KillSignal":
		e.val = signalName(val)
	default:
		e.val = val
	}
}

// signalName turns systemd's "TERM" or "15" into "SIGTERM".
func signalName(v string) string {
	if n, err := strconv.Atoi(v); err == nil {
		if s := unix.SignalName(unix.Signal(n)); s != "" {
			return s
		}
		return v
	}
	if !strings.HasPrefix(v, "SIG") {
		return "SIG" + v
	}
	return v
}

func removeEntry(l []*iniEntry, e *iniEntry) []*iniEntry {
	out := l[:0]
	for _, x := range l {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// drop removes the key an error from Parse names, reporting it.
func (c *converter) drop(perr *Error) bool {
	sec, key, ok := strings.Cut(perr.Key, ".")
	if !ok {
		return false
	}
	for _, s := range c.sections {
		if s.name != sec {
			continue
		}
		for _, e := range s.entries {
			if strings.EqualFold(e.key, key) {
				c.skip(sec, e.key, e.line, perr.Msg)
				s.entries = removeEntry(s.entries, e)
				return true
			}
		}
	}
	return false
}

// encode writes the sections as TOML, [Unit] first and [Install] last.
func (c *converter) encode() []byte {
	var b strings.Builder
	order := []string{"Unit", "Service", "Socket", "Mount", "Timer", "Path", "Install"}
	for _, name := range order {
		for _, s := range c.sections {
			if s.name != name || len(s.entries) == 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "[%s]\n", s.name)
			for _, e := range s.entries {
				fmt.Fprintf(&b, "%s = %s\n", e.key, tomlValue(e.val))
			}
		}
	}
	return []byte(b.String())
}

func tomlValue(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = tomlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case string:
		return tomlString(v)
	}
	return `""`
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
