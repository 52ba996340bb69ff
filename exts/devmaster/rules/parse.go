package rules

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// ruleKeys are the keys a [[rule]] table may hold.
func ruleKeys() []string {
	return []string{
		"action", "subsystem", "kernel", "devpath", "driver", "attr", "env",
		"owner", "group", "mode", "symlink", "set_env", "run", "start", "last",
	}
}

// isAction reports whether s is one of the uevent actions.
func isAction(s string) bool {
	switch s {
	case "add", "remove", "change", "move", "bind", "unbind", "online", "offline":
		return true
	}
	return false
}

// Parse reads the rules of one file. It is strict: an unknown key, a
// value of the wrong type or a bad value is an error naming file, line
// and key, and one bad rule rejects the whole file. All problems found
// are returned together (errors.Join of *Error).
func Parse(file string, data []byte) ([]Rule, error) {
	text := string(data)
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	p := &parser{file: file, layout: scanLayout(text)}
	for key := range doc {
		if key != "rule" {
			p.errorf(p.layout.top[key], key, "unknown key%s; a rules file holds [[rule]] tables", didYouMean(key, []string{"rule"}))
		}
	}
	var rules []Rule
	if v, ok := doc["rule"]; ok {
		tables, ok := asTables(v)
		if !ok {
			p.errorf(p.layout.top["rule"], "rule", "must be an array of tables: write each rule as [[rule]]")
		}
		for i, t := range tables {
			rules = append(rules, p.rule(i, t))
		}
	}
	switch len(p.errs) {
	case 0:
		return rules, nil
	case 1:
		return nil, p.errs[0]
	default:
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
		})
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
}

// asTables accepts [[rule]] tables and the inline form rule = [{…}].
func asTables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

type parser struct {
	file   string
	layout *layout
	errs   []*Error
}

func (p *parser) errorf(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// ruleParser reads one [[rule]] table.
type ruleParser struct {
	*parser
	index int
}

func (rp ruleParser) errorf(key, format string, args ...any) {
	rp.parser.errorf(rp.layout.line(rp.index, key), key, format, args...)
}

func (p *parser) rule(i int, t map[string]any) Rule {
	rp := ruleParser{p, i}
	r := Rule{File: p.file, Line: p.layout.line(i, "")}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	// Errors come out in the order of the file.
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(p.layout.line(i, a), p.layout.line(i, b)), cmp.Compare(a, b))
	})
	for _, k := range keys {
		v := t[k]
		switch k {
		case "action":
			r.action = rp.action(k, v)
		case "subsystem":
			r.subsystem = rp.pattern(k, v)
		case "kernel":
			r.kernel = rp.pattern(k, v)
		case "devpath":
			r.devpath = rp.pattern(k, v)
		case "driver":
			r.driver = rp.pattern(k, v)
		case "attr":
			r.attr = rp.keyed(k, v, validAttrName, "an attribute name: a path below the device, without '..'")
		case "env":
			r.env = rp.keyed(k, v, validEnvName, "a property name: letters, digits and '_'")
		case "owner":
			r.owner = rp.user(k, v)
		case "group":
			r.group = rp.user(k, v)
		case "mode":
			r.mode, r.modeSet = rp.mode(k, v)
		case "symlink":
			r.symlink = rp.templates(k, v, checkLinkTemplate)
		case "set_env":
			r.setEnv = rp.setEnv(k, v)
		case "run":
			r.run = rp.run(k, v)
		case "start":
			r.start = rp.templates(k, v, checkUnitTemplate)
		case "last":
			if b, ok := v.(bool); ok {
				r.last = b
			} else {
				rp.errorf(k, "must be true or false, not %s", typeName(v))
			}
		default:
			rp.errorf(k, "unknown key%s", didYouMean(k, ruleKeys()))
		}
	}
	return r
}

func didYouMean(key string, candidates []string) string {
	if s := suggest.Nearest(key, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}

func (rp ruleParser) str(key string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		rp.errorf(key, "must be a string, not %s", typeName(v))
	}
	return s, ok
}

func (rp ruleParser) pattern(key string, v any) *pattern {
	s, ok := rp.str(key, v)
	if !ok {
		return nil
	}
	pat, err := parsePattern(s)
	if err != nil {
		rp.errorf(key, "%v", err)
		return nil
	}
	return &pat
}

// action is a pattern of action names; globs would only hide typos.
func (rp ruleParser) action(key string, v any) *pattern {
	pat := rp.pattern(key, v)
	if pat == nil {
		return nil
	}
	for _, a := range pat.alts {
		if !isAction(a) {
			rp.errorf(key, "unknown action %q (want add, remove, change, move, bind, unbind, online or offline)", a)
			return nil
		}
	}
	return pat
}

// keyed reads a table of patterns (attr, env), in key order.
func (rp ruleParser) keyed(key string, v any, valid func(string) bool, what string) []keyed {
	m, ok := v.(map[string]any)
	if !ok {
		rp.errorf(key, "must be a table like { NAME = \"pattern\" }, not %s", typeName(v))
		return nil
	}
	var out []keyed
	for _, name := range sortedKeys(m) {
		sub := key + "." + name
		if !valid(name) {
			rp.errorf(sub, "%q is not %s", name, what)
			continue
		}
		if pat := rp.pattern(sub, m[name]); pat != nil {
			out = append(out, keyed{key: name, pattern: *pat})
		}
	}
	return out
}

func (rp ruleParser) user(key string, v any) string {
	s, ok := rp.str(key, v)
	if ok && !validUserName(s) {
		rp.errorf(key, "%q is neither a user/group name nor a number", s)
		return ""
	}
	return s
}

// mode must be an octal string: TOML has no leading-zero integers, and a
// decimal 660 would silently be another mode.
func (rp ruleParser) mode(key string, v any) (fs.FileMode, bool) {
	s, ok := v.(string)
	if !ok {
		rp.errorf(key, "must be an octal string like \"0660\", not %s", typeName(v))
		return 0, false
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 || s == "" {
		rp.errorf(key, "%q is not an octal mode up to 07777", s)
		return 0, false
	}
	return unixMode(uint32(n)), true
}

// unixMode converts permission, setuid, setgid and sticky bits to
// fs.FileMode, which keeps the last three elsewhere.
func unixMode(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// stringList reads an array of strings.
func (rp ruleParser) stringList(key string, v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		rp.errorf(key, "must be an array of strings like [\"…\"], not %s", typeName(v))
		return nil, false
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			rp.errorf(key, "element %d must be a string, not %s", i+1, typeName(e))
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// templates reads an array of values with substitutions, each checked by
// check.
func (rp ruleParser) templates(key string, v any, check func(template) error) []template {
	list, ok := rp.stringList(key, v)
	if !ok {
		return nil
	}
	var out []template
	for _, s := range list {
		t, err := parseTemplate(s)
		if err == nil {
			err = check(t)
		}
		if err != nil {
			rp.errorf(key, "%q: %v", s, err)
			continue
		}
		out = append(out, t)
	}
	return out
}

// checkLinkTemplate rejects links that could never be valid: absolute,
// with empty or ".." components, or with characters a link name may not
// hold (substituted values are escaped; literal text must be clean).
func checkLinkTemplate(t template) error {
	shape := t.shape()
	if strings.HasPrefix(shape, "/") {
		return errors.New("links are relative to /dev: drop the leading /")
	}
	for _, el := range strings.Split(shape, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("empty, '.' or '..' path component")
		}
	}
	for _, p := range t {
		if p.src != srcText {
			continue
		}
		for i := 0; i < len(p.arg); i++ {
			if c := p.arg[i]; !linkSafe(c) && c != '/' && c != '\\' {
				return fmt.Errorf("character %q not allowed in a link name (use letters, digits and #+-.:=@_)", c)
			}
		}
	}
	return nil
}

func checkUnitTemplate(t template) error { return checkUnitName(t.shape()) }

// run is one argv; the program must be an absolute path, since devmaster
// has no PATH worth trusting.
func (rp ruleParser) run(key string, v any) []template {
	argv, ok := rp.stringList(key, v)
	if !ok {
		return nil
	}
	if len(argv) == 0 {
		rp.errorf(key, "empty: give the program and its arguments, like [\"/bin/logger\", \"$kernel\"]")
		return nil
	}
	out := make([]template, len(argv))
	for i, s := range argv {
		t, err := parseTemplate(s)
		if err != nil {
			rp.errorf(key, "%q: %v", s, err)
			return nil
		}
		out[i] = t
	}
	if !strings.HasPrefix(out[0].literalPrefix(), "/") {
		rp.errorf(key, "program %q must be an absolute path", argv[0])
		return nil
	}
	return out
}

func (rp ruleParser) setEnv(key string, v any) []assignment {
	m, ok := v.(map[string]any)
	if !ok {
		rp.errorf(key, "must be a table like { NAME = \"value\" }, not %s", typeName(v))
		return nil
	}
	var out []assignment
	for _, name := range sortedKeys(m) {
		sub := key + "." + name
		if !validEnvName(name) {
			rp.errorf(sub, "%q is not a property name: letters, digits and '_'", name)
			continue
		}
		s, ok := rp.str(sub, m[name])
		if !ok {
			continue
		}
		t, err := parseTemplate(s)
		if err != nil {
			rp.errorf(sub, "%q: %v", s, err)
			continue
		}
		out = append(out, assignment{key: name, value: t})
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// typeName names the TOML type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date/time"
	}
}
