// Package units is the TOML unit format: one file per unit, named
// NAME.KIND.toml, with systemd's sections and key names.
package units

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"
)

// Kinds of unit this format describes.
var Kinds = []string{"service", "target", "socket", "mount", "timer"}

// Unit is one decoded unit file.
type Unit struct {
	Name    string         `toml:"-"` // e.g. "sshd.service"
	Path    string         `toml:"-"`
	Unit    UnitSection    `toml:"Unit"`
	Service ServiceSection `toml:"Service"`
	Install InstallSection `toml:"Install"`
}

// Kind is the unit's kind: the suffix of its name.
func (u *Unit) Kind() string { return u.Name[strings.LastIndexByte(u.Name, '.')+1:] }

// UnitSection is [Unit].
type UnitSection struct {
	Description         string
	Documentation       List
	Requires            List
	Wants               List
	After               List
	Before              List
	Conflicts           List
	ConditionPathExists List
}

// ServiceSection is [Service].
type ServiceSection struct {
	Type             string
	ExecStartPre     Commands
	ExecStart        Commands
	ExecStartPost    Commands
	ExecStop         Commands
	ExecStopPost     Commands
	RemainAfterExit  bool
	Restart          string
	RestartSec       Duration
	TimeoutStopSec   Duration
	KillSignal       string
	Environment      List
	WorkingDirectory string
	StandardInput    string
	StandardOutput   string
	StandardError    string
	TTYPath          string
}

// InstallSection is [Install].
type InstallSection struct {
	WantedBy   List
	RequiredBy List
	Alias      List
}

// List is a list value: a TOML array of strings, or one string.
type List []string

// UnmarshalTOML accepts an array of strings or a single string.
func (l *List) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = List{v}
		return nil
	case []any:
		out := make(List, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want an array of strings, got an element of type %T", e)
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("want an array of strings, got %T", v)
}

// Error is a problem in a unit file, with the line and key where known.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|target|socket|mount|timer)$`)

// ValidName reports whether name is a valid unit name with a known kind.
func ValidName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("unit name %q: longer than 255 characters", name)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("unit name %q: want NAME.KIND with KIND one of %s", name, strings.Join(Kinds, ", "))
	}
	return nil
}

// Load reads and decodes the unit file at path (…/NAME.KIND.toml).
func Load(path string) (*Unit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unit: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a unit file strictly: unknown sections or keys, wrong types
// and bad values are errors naming the line and the key.
func Parse(path string, data []byte) (*Unit, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".toml")
	if err := ValidName(name); err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	u := &Unit{Name: name, Path: path}
	text := string(data)
	md, err := toml.Decode(text, u)
	if err != nil {
		return nil, decodeError(path, text, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, unknownKey(path, text, und[0])
	}
	if err := u.validate(text); err != nil {
		return nil, err
	}
	return u, nil
}

// typeErrRE picks line and key out of the decoder's type-mismatch errors.
var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

func decodeError(path, text string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		key := ""
		if pe.LastKey != "" {
			key = pe.LastKey
		}
		return &Error{File: path, Line: pe.Position.Line, Key: key, Msg: msg}
	}
	if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: path, Line: line, Key: m[2], Msg: m[3]}
	}
	return &Error{File: path, Msg: err.Error()}
}

// sections maps each section name to its struct type.
var sections = map[string]reflect.Type{
	"Unit":    reflect.TypeOf(UnitSection{}),
	"Service": reflect.TypeOf(ServiceSection{}),
	"Install": reflect.TypeOf(InstallSection{}),
}

func unknownKey(path, text string, k toml.Key) error {
	sec := k[0]
	typ, ok := sections[sec]
	if !ok {
		e := &Error{File: path, Line: sectionLine(text, sec), Msg: fmt.Sprintf("unknown section [%s]", sec)}
		if s := nearest(sec, sortedKeys(sections)); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean [%s]?)", s)
		}
		if len(k) == 1 && e.Line == 0 {
			e.Line = keyLine(text, "", sec)
			e.Msg = fmt.Sprintf("key %q outside of a section", sec)
		}
		return e
	}
	key := k[len(k)-1]
	e := &Error{File: path, Line: keyLine(text, sec, key), Key: sec + "." + key, Msg: "unknown key"}
	var names []string
	for i := 0; i < typ.NumField(); i++ {
		names = append(names, typ.Field(i).Name)
	}
	if s := nearest(key, names); s != "" {
		e.Msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return e
}

func sortedKeys(m map[string]reflect.Type) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sectionLine returns the 1-based line of "[sec]" in text, or 0.
func sectionLine(text, sec string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "["+sec+"]" {
			return i + 1
		}
	}
	return 0
}

// keyLine returns the 1-based line where key is set inside [sec], or 0.
func keyLine(text, sec, key string) int {
	cur := ""
	for i, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			cur = strings.Trim(t, "[] ")
			continue
		}
		if cur != sec {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
			return i + 1
		}
	}
	return 0
}

// nearest returns the candidate closest to s by edit distance, if close.
func nearest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= len(s)/2+1 {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (u *Unit) validate(text string) error {
	bad := func(sec, key, format string, args ...any) error {
		return &Error{File: u.Path, Line: keyLine(text, sec, key), Key: sec + "." + key, Msg: fmt.Sprintf(format, args...)}
	}
	for _, dep := range []struct {
		key  string
		list List
	}{
		{"Requires", u.Unit.Requires}, {"Wants", u.Unit.Wants}, {"After", u.Unit.After},
		{"Before", u.Unit.Before}, {"Conflicts", u.Unit.Conflicts},
	} {
		for _, n := range dep.list {
			if err := ValidName(n); err != nil {
				return bad("Unit", dep.key, "%v", err)
			}
		}
	}
	for _, p := range u.Unit.ConditionPathExists {
		if !strings.HasPrefix(strings.TrimPrefix(p, "!"), "/") {
			return bad("Unit", "ConditionPathExists", "%q is not an absolute path", p)
		}
	}
	for _, key := range []string{"WantedBy", "RequiredBy"} {
		l := u.Install.WantedBy
		if key == "RequiredBy" {
			l = u.Install.RequiredBy
		}
		for _, n := range l {
			if err := ValidName(n); err != nil {
				return bad("Install", key, "%v", err)
			}
		}
	}
	s := &u.Service
	if u.Kind() != "service" {
		if !reflect.DeepEqual(*s, ServiceSection{}) {
			return &Error{File: u.Path, Line: sectionLine(text, "Service"), Msg: fmt.Sprintf("[Service] section in a %s unit", u.Kind())}
		}
		return nil
	}
	if !oneOf(s.Type, "", "simple", "exec", "oneshot") {
		return bad("Service", "Type", "%q is not one of simple, exec, oneshot", s.Type)
	}
	if s.Type == "" {
		s.Type = "simple"
	}
	if len(s.ExecStart) == 0 {
		return &Error{File: u.Path, Line: sectionLine(text, "Service"), Key: "Service.ExecStart", Msg: "missing: a service needs ExecStart"}
	}
	if s.Type != "oneshot" && len(s.ExecStart) > 1 {
		return bad("Service", "ExecStart", "only Type=\"oneshot\" may have more than one command")
	}
	if !oneOf(s.Restart, "", "no", "on-success", "on-failure", "on-abnormal", "always") {
		return bad("Service", "Restart", "%q is not one of no, on-success, on-failure, on-abnormal, always", s.Restart)
	}
	if s.Restart == "" {
		s.Restart = "no"
	}
	if s.RestartSec == 0 {
		s.RestartSec = Duration(100e6)
	}
	if s.TimeoutStopSec == 0 {
		s.TimeoutStopSec = Duration(10e9)
	}
	for _, kv := range s.Environment {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return bad("Service", "Environment", "%q is not NAME=VALUE", kv)
		}
	}
	if !oneOf(s.StandardInput, "", "null", "tty") {
		return bad("Service", "StandardInput", "%q is not one of null, tty", s.StandardInput)
	}
	for _, o := range []struct{ key, v string }{{"StandardOutput", s.StandardOutput}, {"StandardError", s.StandardError}} {
		if !oneOf(o.v, "", "inherit", "console", "null", "tty", "journal", "log") {
			return bad("Service", o.key, "%q is not one of inherit, console, null, tty, log", o.v)
		}
	}
	if s.KillSignal == "" {
		s.KillSignal = "SIGTERM"
	}
	if unix.SignalNum(s.KillSignal) == 0 {
		return bad("Service", "KillSignal", "%q is not a signal name like SIGTERM", s.KillSignal)
	}
	if s.StandardInput == "tty" && s.TTYPath == "" {
		s.TTYPath = "/dev/console"
	}
	return nil
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// LoadDir loads every NAME.KIND.toml in dir. Units that fail to load are
// returned in bad, keyed by name, so the caller can report and skip them.
func LoadDir(dir string) (good map[string]*Unit, bad map[string]error, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("units: %w", err)
	}
	good, bad = map[string]*Unit{}, map[string]error{}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".toml") {
			continue
		}
		u, err := Load(filepath.Join(dir, n))
		if err != nil {
			bad[strings.TrimSuffix(n, ".toml")] = err
			continue
		}
		good[u.Name] = u
	}
	return good, bad, nil
}
