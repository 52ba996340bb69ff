package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// module is one module file of the index.
type module struct {
	name string
	path string // absolute path of the file
	// deps lists every module it needs, directly or not, as modules.dep
	// does: users before what they use, so loading goes from the end.
	deps []string
}

// alias maps a normalized fnmatch pattern to a module.
type alias struct {
	pattern string
	prefix  string // literalPrefix of pattern
	module  string
}

// softdep lists the modules to load before (pre) and after (post) a
// module, each a name or an alias as written.
type softdep struct {
	pre, post []string
}

// index is what the text files of a module tree (lib/modules/VERSION) say:
// modules.dep, modules.alias, modules.softdep, modules.builtin and
// modules.builtin.modinfo. It is read once and not changed after.
type index struct {
	dir            string
	modules        map[string]*module
	aliases        []alias
	softdeps       map[string]softdep
	builtin        map[string]bool
	builtinAliases []alias
}

// loadIndex reads the index files of dir. A missing file is an empty one:
// an image may carry no modules at all, and then every name is unknown.
func loadIndex(dir string) (*index, error) {
	idx := &index{
		dir:      dir,
		modules:  make(map[string]*module),
		softdeps: make(map[string]softdep),
		builtin:  make(map[string]bool),
	}
	parsers := []struct {
		file  string
		parse func(file string, r io.Reader) error
	}{
		{"modules.dep", idx.parseDep},
		{"modules.alias", func(file string, r io.Reader) (err error) {
			idx.aliases, err = parseAliases(file, r)
			return err
		}},
		{"modules.softdep", func(file string, r io.Reader) (err error) {
			idx.softdeps, err = parseSoftdeps(file, r)
			return err
		}},
		{"modules.builtin", idx.parseBuiltin},
		{"modules.builtin.modinfo", func(file string, r io.Reader) (err error) {
			idx.builtinAliases, err = parseBuiltinModinfo(file, r)
			return err
		}},
	}
	for _, p := range parsers {
		name := filepath.Join(dir, p.file)
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("module index: %w", err)
		}
		err = p.parse(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// lines calls fn with each line of r that is neither blank nor a comment.
// An error from fn is given the file name and line number.
func lines(file string, r io.Reader, fn func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// parseDep reads modules.dep: "kernel/a.ko: kernel/b.ko kernel/c.ko".
func (idx *index) parseDep(file string, r io.Reader) error {
	return lines(file, r, func(line string) error {
		file, deps, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%q: want \"MODULE: DEPENDENCIES\"", line)
		}
		m, err := idx.moduleAt(strings.TrimSpace(file))
		if err != nil {
			return err
		}
		m.deps = m.deps[:0]
		for _, d := range strings.Fields(deps) {
			dm, err := idx.moduleAt(d)
			if err != nil {
				return err
			}
			m.deps = append(m.deps, dm.name)
		}
		return nil
	})
}

// moduleAt returns the module of a path in modules.dep, adding it when it
// is new: a dependency may come before its own line.
func (idx *index) moduleAt(p string) (*module, error) {
	name, ok := ModuleName(p)
	if !ok {
		return nil, fmt.Errorf("%q is not a module file (.ko, .ko.xz, .ko.zst or .ko.gz)", p)
	}
	if !path.IsAbs(p) {
		p = filepath.Join(idx.dir, p)
	}
	if m, ok := idx.modules[name]; ok {
		if m.path != p {
			return nil, fmt.Errorf("module %s is both %s and %s", name, m.path, p)
		}
		return m, nil
	}
	m := &module{name: name, path: p}
	idx.modules[name] = m
	return m, nil
}

// parseAliases reads modules.alias: "alias PATTERN MODULE".
func parseAliases(file string, r io.Reader) ([]alias, error) {
	var out []alias
	err := lines(file, r, func(line string) error {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return fmt.Errorf("%q: want \"alias PATTERN MODULE\"", line)
		}
		out = append(out, newAlias(f[1], f[2]))
		return nil
	})
	return out, err
}

func newAlias(pattern, mod string) alias {
	p := normalizeAlias(pattern)
	return alias{pattern: p, prefix: literalPrefix(p), module: NormalizeName(mod)}
}

// parseSoftdeps reads modules.softdep: "softdep MODULE pre: A B post: C".
func parseSoftdeps(file string, r io.Reader) (map[string]softdep, error) {
	out := make(map[string]softdep)
	err := lines(file, r, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "softdep" {
			return fmt.Errorf("%q: want \"softdep MODULE pre: ... post: ...\"", line)
		}
		name := NormalizeName(f[1])
		sd := out[name]
		var cur *[]string
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				cur = &sd.pre
			case "post:":
				cur = &sd.post
			default:
				// Words before "pre:" or "post:" belong to neither; kmod
				// drops them too.
				if cur != nil {
					*cur = append(*cur, w)
				}
			}
		}
		out[name] = sd
		return nil
	})
	return out, err
}

// parseBuiltin reads modules.builtin: the paths modules built into the
// kernel would have.
func (idx *index) parseBuiltin(file string, r io.Reader) error {
	return lines(file, r, func(line string) error {
		name, ok := ModuleName(line)
		if !ok {
			return fmt.Errorf("%q is not a module file", line)
		}
		idx.builtin[name] = true
		return nil
	})
}

// parseBuiltinModinfo takes the aliases from modules.builtin.modinfo, the
// NUL-separated "module.key=value" strings of the built-in modules.
func parseBuiltinModinfo(file string, r io.Reader) ([]alias, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []alias
	for _, kv := range bytes.Split(data, []byte{0}) {
		mod, rest, ok := bytes.Cut(kv, []byte(".alias="))
		if ok && len(mod) > 0 && len(rest) > 0 && !bytes.ContainsAny(mod, "=.") {
			out = append(out, newAlias(string(rest), string(mod)))
		}
	}
	return out, nil
}

// moduleSuffixes are the file names of modules: plain and compressed.
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// ModuleName returns the module name of a module file path (plain or
// compressed), or false when the file is not a module.
func ModuleName(p string) (string, bool) {
	base := path.Base(p)
	for _, s := range moduleSuffixes {
		if n, ok := strings.CutSuffix(base, s); ok && n != "" {
			return NormalizeName(n), true
		}
	}
	return "", false
}

// NormalizeName spells a module name as the kernel does: '-' and '_' are
// the same in module names.
func NormalizeName(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// normalizeAlias spells '-' as '_' outside of bracket classes, as kmod
// does on both sides of an alias lookup: modaliases such as input's hold
// dashes that module names may not.
func normalizeAlias(s string) string {
	if !strings.Contains(s, "-") {
		return s
	}
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case '[':
			if j := bytes.IndexByte(b[i:], ']'); j > 0 {
				i += j
			}
		}
	}
	return string(b)
}

// matchAliases returns the modules of the aliases that match the
// normalized modalias s, in index order, each once.
func matchAliases(aliases []alias, s string) []string {
	var out []string
	for _, a := range aliases {
		if !strings.HasPrefix(s, a.prefix) || !fnmatch(a.pattern, s) {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == a.module
		}
		if !dup {
			out = append(out, a.module)
		}
	}
	return out
}
