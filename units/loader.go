package units

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Loader loads units from a search path, applying drop-ins, templates and
// .wants/.requires directories:
//
//   - DIR/NAME.KIND.toml is a unit; the first directory holding a name wins.
//   - DIR/NAME.KIND.d/*.toml are drop-ins, applied in lexical order of file
//     name across all directories (for one file name, the earliest directory
//     wins); an instance also gets its template's NAME@.KIND.d/. A drop-in
//     key replaces the value, lists included ("[]" empties one).
//   - NAME@.KIND.toml is a template: never loaded itself, instantiated as
//     NAME@INSTANCE.KIND with specifiers (%i, %I, %n, %N, %p, %P, %f, %H,
//     %%) expanded in every string.
//   - DIR/TARGET.wants/NAME and DIR/TARGET.requires/NAME (symlinks or empty
//     files, as enabling creates them) append NAME to TARGET's Unit.Wants or
//     Unit.Requires, after drop-ins, so a drop-in cannot undo enabling. Such
//     a directory for a unit that has no file is ignored.
type Loader struct {
	Dirs []string // highest priority first, e.g. /etc/… before /lib/…
	// Hostname is what %H expands to; os.Hostname() when empty.
	Hostname string
}

// index is the unit files found on the search path.
type index struct {
	files map[string]string // unit name -> path of the winning file
	bad   map[string]error  // files whose names are not unit names
}

func (l *Loader) scan() (*index, error) {
	idx := &index{files: map[string]string{}, bad: map[string]error{}}
	found := false
	var firstErr error
	for _, dir := range l.Dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("units: %w", err)
		}
		found = true
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".toml") || e.IsDir() {
				continue
			}
			name := strings.TrimSuffix(n, ".toml")
			if _, ok := idx.files[name]; ok {
				continue
			}
			if _, ok := idx.bad[name]; ok {
				continue
			}
			p := filepath.Join(dir, n)
			if err := ValidName(name); err != nil {
				idx.bad[name] = &Error{File: p, Msg: err.Error()}
				continue
			}
			idx.files[name] = p
		}
	}
	if !found {
		if firstErr == nil {
			firstErr = errors.New("no unit directories given")
		}
		return nil, fmt.Errorf("units: %w", firstErr)
	}
	return idx, nil
}

// Load loads one unit by name, instantiating its template if it is an
// instance without a file of its own. A missing unit is an error wrapping
// fs.ErrNotExist.
func (l *Loader) Load(name string) (*Unit, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if IsTemplate(name) {
		return nil, fmt.Errorf("unit %s: a template cannot be loaded, only an instance of it like %s", name, strings.Replace(name, "@.", "@instance.", 1))
	}
	idx, err := l.scan()
	if err != nil {
		return nil, err
	}
	if err := idx.bad[name]; err != nil {
		return nil, err
	}
	return l.build(name, idx)
}

// LoadAll loads every unit on the search path, and every instance of a
// template that a loaded unit names (dependencies, [Install], .wants
// entries, a socket's Service or a timer's Unit). Units that fail to load
// are returned in bad, keyed by name, so the caller can report and skip
// them. err is set only when no directory could be read.
func (l *Loader) LoadAll() (good map[string]*Unit, bad map[string]error, err error) {
	idx, err := l.scan()
	if err != nil {
		return nil, nil, err
	}
	good, bad = map[string]*Unit{}, map[string]error{}
	for n, e := range idx.bad {
		bad[n] = e
	}
	var queue []string
	for n := range idx.files {
		if !IsTemplate(n) {
			queue = append(queue, n)
		}
	}
	sort.Strings(queue)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if good[n] != nil || bad[n] != nil {
			continue
		}
		u, err := l.build(n, idx)
		if err != nil {
			bad[n] = err
			continue
		}
		good[n] = u
		for _, ref := range u.references() {
			if good[ref] == nil && bad[ref] == nil && TemplateOf(ref) != "" && idx.files[TemplateOf(ref)] != "" {
				queue = append(queue, ref)
			}
		}
	}
	return good, bad, nil
}

// ResolveMountsFor turns each unit's RequiresMountsFor= into Requires=
// and After= on the mount units among good that cover its paths, as
// systemd does once every unit is loaded. It may be called again on the
// same units.
func ResolveMountsFor(good map[string]*Unit) {
	for _, u := range good {
		for _, m := range u.Unit.MountUnitsFor() {
			if good[m] == nil || m == u.Name {
				continue
			}
			if !oneOf(m, u.Unit.Requires...) {
				u.Unit.Requires = append(u.Unit.Requires, m)
			}
			if !oneOf(m, u.Unit.After...) {
				u.Unit.After = append(u.Unit.After, m)
			}
		}
	}
}

// references are the unit names u mentions.
func (u *Unit) references() []string {
	s := &u.Unit
	var out []string
	for _, l := range []List{s.Requires, s.Requisite, s.Wants, s.BindsTo, s.PartOf, s.OnFailure, s.After, s.Before,
		s.Conflicts, u.Install.WantedBy, u.Install.RequiredBy} {
		out = append(out, l...)
	}
	if u.Socket.Service != "" {
		out = append(out, u.Socket.Service)
	}
	if u.Timer.Unit != "" {
		out = append(out, u.Timer.Unit)
	}
	if u.PathUnit.Unit != "" {
		out = append(out, u.PathUnit.Unit)
	}
	return out
}

// build loads name from its file (or its template's) and drop-ins.
func (l *Loader) build(name string, idx *index) (*Unit, error) {
	names := []string{name}
	path := idx.files[name]
	if tmpl := TemplateOf(name); tmpl != "" {
		names = append(names, tmpl)
		if path == "" {
			path = idx.files[tmpl]
		}
	}
	if path == "" {
		return nil, fmt.Errorf("unit %s: %w", name, fs.ErrNotExist)
	}
	main, err := readSource(path)
	if err != nil {
		return nil, err
	}
	files := []source{main}
	for _, p := range l.dropIns(names) {
		f, err := readSource(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	hostname := os.Hostname
	if l.Hostname != "" {
		hostname = func() (string, error) { return l.Hostname, nil }
	}
	u, err := build(name, files, hostname)
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		suffix string
		list   *List
	}{{".wants", &u.Unit.Wants}, {".requires", &u.Unit.Requires}} {
		for _, d := range l.dirsNamed(names, w.suffix) {
			ents, err := os.ReadDir(d)
			if err != nil {
				return nil, fmt.Errorf("unit %s: %w", name, err)
			}
			for _, e := range ents {
				dep := strings.TrimSuffix(e.Name(), ".toml")
				if err := ValidName(dep); err != nil || IsTemplate(dep) {
					return nil, &Error{File: filepath.Join(d, e.Name()), Msg: fmt.Sprintf("not a unit name to add to %s", name)}
				}
				if !oneOf(dep, *w.list...) {
					*w.list = append(*w.list, dep)
				}
			}
		}
	}
	return u, nil
}

func readSource(path string) (source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return source{}, fmt.Errorf("unit: %w", err)
	}
	return source{path: path, text: string(b)}, nil
}

// dirsNamed lists the existing directories NAME+suffix across the search
// path, directory order outermost, then the order of names.
func (l *Loader) dirsNamed(names []string, suffix string) []string {
	var out []string
	for _, dir := range l.Dirs {
		for _, n := range names {
			d := filepath.Join(dir, n+suffix)
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
	}
	return out
}

// dropIns lists the drop-in files for names, sorted by file name; for one
// file name the first directory in dirsNamed order wins.
func (l *Loader) dropIns(names []string) []string {
	byName := map[string]string{}
	for _, d := range l.dirsNamed(names, ".d") {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() || !strings.HasSuffix(n, ".toml") {
				continue
			}
			if _, ok := byName[n]; !ok {
				byName[n] = filepath.Join(d, n)
			}
		}
	}
	keys := make([]string, 0, len(byName))
	for k := range byName {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = byName[k]
	}
	return out
}
