package kmod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// fileConfig is one modprobe configuration file, DIR/NAME.toml:
//
//	blacklist = ["pcspkr"]          # never loaded through an alias
//
//	[options]                       # parameters, whenever the module loads
//	virtio_net = "napi_tx=1"
//
//	[alias]                         # more names (fnmatch patterns) for modules
//	eth-driver = "virtio_net"
//
//	[softdep.virtio_net]            # load these before and after the module
//	pre = ["failover"]
//	post = []
type fileConfig struct {
	Blacklist []string               `toml:"blacklist"`
	Options   map[string]string      `toml:"options"`
	Alias     map[string]string      `toml:"alias"`
	Softdep   map[string]softdepFile `toml:"softdep"`
}

type softdepFile struct {
	Pre  []string `toml:"pre"`
	Post []string `toml:"post"`
}

// config is every configuration file and the kernel command line merged.
type config struct {
	blacklist map[string]bool
	options   map[string][]string
	aliases   []alias
	softdeps  map[string]softdep
}

func newConfig() *config {
	return &config{
		blacklist: make(map[string]bool),
		options:   make(map[string][]string),
		softdeps:  make(map[string]softdep),
	}
}

// loadConfig reads DIR/*.toml of each dir. A file name in an earlier dir
// hides the same name in later ones, so /etc overrides what /lib ships;
// the files then apply in the order of their names.
func loadConfig(dirs []string) (*config, error) {
	files := make(map[string]string)
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("modprobe config: %w", err)
		}
		for _, e := range ents {
			if _, seen := files[e.Name()]; seen || e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
				continue
			}
			files[e.Name()] = filepath.Join(dir, e.Name())
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	c := newConfig()
	for _, n := range names {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return nil, fmt.Errorf("modprobe config: %w", err)
		}
		if err := c.parse(files[n], string(data)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parse decodes one file strictly and merges it in: options add to those of
// earlier files, a softdep replaces the module's own.
func (c *config) parse(file, text string) error {
	var fc fileConfig
	md, err := toml.Decode(text, &fc)
	if err != nil {
		return decodeError(file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return &ConfigError{File: file, Line: keyLine(text, und[0]), Key: und[0].String(), Msg: "unknown key"}
	}
	bad := func(key toml.Key, format string, args ...any) error {
		return &ConfigError{File: file, Line: keyLine(text, key), Key: key.String(), Msg: fmt.Sprintf(format, args...)}
	}
	for _, n := range fc.Blacklist {
		if !validName(n) {
			return bad(toml.Key{"blacklist"}, "%q is not a module name", n)
		}
		c.blacklist[NormalizeName(n)] = true
	}
	for _, n := range sortedKeys(fc.Options) {
		if !validName(n) {
			return bad(toml.Key{"options", n}, "%q is not a module name", n)
		}
		if p := strings.TrimSpace(fc.Options[n]); p != "" {
			c.options[NormalizeName(n)] = append(c.options[NormalizeName(n)], p)
		}
	}
	for _, pat := range sortedKeys(fc.Alias) {
		target := fc.Alias[pat]
		if strings.ContainsAny(pat, " \t") {
			return bad(toml.Key{"alias", pat}, "%q: an alias has no blanks", pat)
		}
		if !validName(target) {
			return bad(toml.Key{"alias", pat}, "%q is not a module name", target)
		}
		c.aliases = append(c.aliases, newAlias(pat, target))
	}
	for _, n := range sortedKeys(fc.Softdep) {
		sd := fc.Softdep[n]
		if !validName(n) {
			return bad(toml.Key{"softdep", n}, "%q is not a module name", n)
		}
		var out softdep
		for _, l := range []struct {
			key string
			in  []string
			out *[]string
		}{{"pre", sd.Pre, &out.pre}, {"post", sd.Post, &out.post}} {
			for _, m := range l.in {
				if m == "" || strings.ContainsAny(m, " \t") {
					return bad(toml.Key{"softdep", n, l.key}, "%q is not a module name or alias", m)
				}
				*l.out = append(*l.out, m)
			}
		}
		c.softdeps[NormalizeName(n)] = out
	}
	return nil
}

// ConfigError is a mistake in a modprobe configuration file.
type ConfigError struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	return b.String() + ": " + e.Msg
}

// decodeError turns a TOML error into a ConfigError. Syntax errors are
// toml.ParseError; type mismatches only say their line in the text:
// `toml: line 3 (last key "options.x"): incompatible types: ...`.
func decodeError(file string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &ConfigError{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "toml: line "); ok {
		num, rest, _ := strings.Cut(rest, " ")
		key, text, ok := strings.Cut(strings.TrimPrefix(rest, `(last key "`), `"): `)
		if line, err := strconv.Atoi(num); err == nil && ok {
			return &ConfigError{File: file, Line: line, Key: key, Msg: text}
		}
	}
	return &ConfigError{File: file, Msg: msg}
}

// keyLine returns the 1-based line that sets key in text, or 0: the line
// of `k = …` under the table that makes up the rest of the key, or of the
// table header itself.
func keyLine(text string, key toml.Key) int {
	want := strings.Join(key, ".")
	var table []string
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			if end := strings.LastIndexByte(t, ']'); end > 0 {
				table = splitKey(strings.Trim(t[:end], "[]"))
			}
			if strings.Join(table, ".") == want {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		full := append(append([]string(nil), table...), splitKey(k)...)
		if strings.Join(full, ".") == want {
			return i + 1
		}
	}
	return 0
}

// splitKey splits a dotted TOML key into its parts, unquoted.
func splitKey(s string) []string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return parts
}

// addCmdline takes what the kernel command line says for modules:
// "MODULE.PARAM=VALUE" adds a parameter, and "modprobe.blacklist=A,B"
// blacklists modules, as with kmod. Parameters come after those of the
// files so that the command line wins.
func (c *config) addCmdline(cmdline string) {
	for _, arg := range splitCmdline(cmdline) {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			continue
		}
		if k == "modprobe.blacklist" {
			for _, n := range strings.Split(v, ",") {
				if n != "" {
					c.blacklist[NormalizeName(n)] = true
				}
			}
			continue
		}
		mod, param, ok := strings.Cut(k, ".")
		if !ok || !validName(mod) || param == "" {
			continue
		}
		c.options[NormalizeName(mod)] = append(c.options[NormalizeName(mod)], param+"="+v)
	}
}

// splitCmdline splits a kernel command line at blanks outside double
// quotes, as the kernel does; the quotes stay for the module to parse.
func splitCmdline(s string) []string {
	var out []string
	start, quoted := -1, false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || !quoted && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if s[i] == '"' {
			quoted = !quoted
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// validName reports whether s can be a module name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
