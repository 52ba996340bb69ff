// Package kmod loads and unloads Linux kernel modules the way kmod's
// modprobe does, from the text index files of a module tree
// (modules.dep, modules.alias, modules.softdep, modules.builtin) that
// smimage writes into an image, and from TOML configuration files in
// modprobe.d. It backs the modprobe applet and devmaster's module loading.
package kmod

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

var (
	// ErrNotFound means no module, alias or built-in module has the name.
	ErrNotFound = errors.New("module not found")
	// ErrBuiltin means the module is part of the kernel and cannot be
	// removed.
	ErrBuiltin = errors.New("module is built into the kernel")
)

// notFoundError names the module and the tree it was looked for in.
type notFoundError struct{ name, dir string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("module %s not found in directory %s", e.name, e.dir)
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Option configures a Loader.
type Option func(*settings)

type settings struct {
	root       string
	configDirs []string
	kernel     Kernel
	cmdline    *string
	log        io.Writer
}

// WithRoot sets the module tree, the lib/modules/VERSION folder. The
// default is /lib/modules/ and the running kernel's release.
func WithRoot(dir string) Option { return func(s *settings) { s.root = dir } }

// WithConfigDirs sets the folders of the *.toml configuration files; the
// default is /etc/modprobe.d and /lib/modprobe.d.
func WithConfigDirs(dirs ...string) Option {
	return func(s *settings) { s.configDirs = dirs }
}

// WithKernel replaces the running kernel, for tests.
func WithKernel(k Kernel) Option { return func(s *settings) { s.kernel = k } }

// WithKernelCmdline sets the kernel command line whose "MODULE.PARAM=VALUE"
// and "modprobe.blacklist=" apply; the default is /proc/cmdline.
func WithKernelCmdline(cmdline string) Option {
	return func(s *settings) { s.cmdline = &cmdline }
}

// WithLog writes a line to w for each module loaded or removed, as
// modprobe -v prints them: "insmod PATH PARAMS", "rmmod NAME".
func WithLog(w io.Writer) Option { return func(s *settings) { s.log = w } }

// Loader loads modules with their dependencies. It is safe for concurrent
// use: a module that several callers need at once is loaded once.
type Loader struct {
	idx    *index
	cfg    *config
	kernel Kernel
	log    io.Writer

	mu       sync.Mutex
	inflight map[string]*flight
}

// flight is a module load in progress; others needing it wait on done.
type flight struct {
	done chan struct{}
	err  error
}

// NewLoader reads the index of the module tree and the configuration. A
// missing tree is an empty one; a malformed index or configuration file is
// an error that names file and line.
func NewLoader(opts ...Option) (*Loader, error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	if s.kernel == nil {
		s.kernel = linuxKernel{}
	}
	if s.cmdline == nil {
		// A system without /proc/cmdline has nothing to say here.
		data, _ := os.ReadFile("/proc/cmdline")
		cmdline := string(data)
		s.cmdline = &cmdline
	}
	idx, err := loadIndex(s.root)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(s.configDirs)
	if err != nil {
		return nil, err
	}
	cfg.addCmdline(*s.cmdline)
	return &Loader{idx: idx, cfg: cfg, kernel: s.kernel, log: s.log, inflight: make(map[string]*flight)}, nil
}

// newSettings applies opts to the defaults.
func newSettings(opts []Option) (*settings, error) {
	s := &settings{configDirs: []string{"/etc/modprobe.d", "/lib/modprobe.d"}}
	for _, o := range opts {
		o(s)
	}
	if s.root == "" {
		release, err := KernelRelease()
		if err != nil {
			return nil, err
		}
		s.root = filepath.Join("/lib/modules", release)
	}
	return s, nil
}

// KernelRelease returns the release of the running kernel, uname -r.
func KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// Dir returns the module tree the loader reads.
func (l *Loader) Dir() string { return l.idx.dir }

// Step is one module of a load plan.
type Step struct {
	Name    string
	Path    string // the module file; empty for a built-in module
	Params  string
	Builtin bool
	// Soft is set for a module pulled in by a soft dependency, and for
	// what it needs: failing to load it does not fail the plan.
	Soft bool
}

// Plan returns the modules that loading nameOrAlias involves, in load
// order, whether loaded already or not: soft pre-dependencies, then
// dependencies, the module, and soft post-dependencies. params is added to
// the configured parameters of the named modules. A name only blacklisted
// modules answer to gives an empty plan.
func (l *Loader) Plan(nameOrAlias, params string) ([]Step, error) {
	targets, err := l.resolve(nameOrAlias)
	if err != nil {
		return nil, err
	}
	return l.plan(targets, params), nil
}

// Probe loads a module, or the modules of an alias, with everything they
// need, and returns the names of the modules it loaded. A built-in or
// already loaded module is a success that loads nothing; an unknown name
// is an error wrapping ErrNotFound. On error, the names loaded before it
// are returned too.
func (l *Loader) Probe(nameOrAlias string) ([]string, error) {
	return l.ProbeParams(nameOrAlias, "")
}

// ProbeParams is Probe with parameters for the named module, added after
// the configured ones (the last value of a parameter wins).
func (l *Loader) ProbeParams(nameOrAlias, params string) ([]string, error) {
	targets, err := l.resolve(nameOrAlias)
	if err != nil {
		return nil, err
	}
	return l.run(l.plan(targets, params))
}

// ProbeAlias loads every module with an alias matching modalias, as a
// uevent's MODALIAS names a device, leaving out blacklisted modules. No
// match is not an error: most devices need no module.
func (l *Loader) ProbeAlias(modalias string) ([]string, error) {
	targets := l.byAlias(modalias)
	if len(targets) == 0 {
		return nil, nil
	}
	return l.run(l.plan(targets, ""))
}

// resolve finds what a name means, in kmod's order: a configured alias, a
// module, a built-in module, a module's alias, a built-in module's alias.
// An alias whose modules are all blacklisted resolves to nothing.
func (l *Loader) resolve(q string) ([]string, error) {
	a := normalizeAlias(q)
	if m := matchAliases(l.cfg.aliases, a); len(m) > 0 {
		for _, t := range m {
			if !l.known(t) {
				return nil, &notFoundError{t, l.idx.dir}
			}
		}
		return l.unlisted(m), nil
	}
	name := NormalizeName(q)
	if l.known(name) {
		return []string{name}, nil
	}
	if m := matchAliases(l.idx.aliases, a); len(m) > 0 {
		return l.unlisted(m), nil
	}
	if m := matchAliases(l.idx.builtinAliases, a); len(m) > 0 {
		return m, nil
	}
	return nil, &notFoundError{q, l.idx.dir}
}

// known reports whether name is a module of the tree or a built-in one.
func (l *Loader) known(name string) bool {
	_, ok := l.idx.modules[name]
	return ok || l.idx.builtin[name]
}

// byAlias returns the modules that a configured alias, else a module's
// alias, matching s names, without the blacklisted ones.
func (l *Loader) byAlias(s string) []string {
	a := normalizeAlias(s)
	if m := matchAliases(l.cfg.aliases, a); len(m) > 0 {
		return l.unlisted(m)
	}
	return l.unlisted(matchAliases(l.idx.aliases, a))
}

// unlisted drops blacklisted modules: the blacklist keeps a module from
// loading through an alias, never by its name.
func (l *Loader) unlisted(names []string) []string {
	var out []string
	for _, n := range names {
		if !l.cfg.blacklist[n] {
			out = append(out, n)
		}
	}
	return out
}

// plan orders the modules that loading targets involves.
func (l *Loader) plan(targets []string, params string) []Step {
	p := planner{l: l, seen: make(map[string]bool), extra: params}
	for _, t := range targets {
		p.visit(t, false, true)
	}
	return p.steps
}

type planner struct {
	l     *Loader
	seen  map[string]bool
	extra string
	steps []Step
}

func (p *planner) visit(name string, soft, target bool) {
	if p.seen[name] {
		return
	}
	p.seen[name] = true
	m, ok := p.l.idx.modules[name]
	switch {
	case !ok && p.l.idx.builtin[name]:
		p.steps = append(p.steps, Step{Name: name, Builtin: true, Soft: soft})
		return
	case !ok:
		// A configured alias a soft dependency goes through may name a
		// module that is not there; kmod skips it too.
		p.l.logf("module %s not found", name)
		return
	}
	sd := p.l.softdep(name)
	for _, s := range sd.pre {
		for _, t := range p.l.softTargets(name, s) {
			p.visit(t, true, false)
		}
	}
	for i := len(m.deps) - 1; i >= 0; i-- {
		p.visit(m.deps[i], soft, false)
	}
	params := p.l.cfg.options[name]
	if target && p.extra != "" {
		params = append(params[:len(params):len(params)], p.extra)
	}
	p.steps = append(p.steps, Step{Name: name, Path: m.path, Params: strings.Join(params, " "), Soft: soft})
	for _, s := range sd.post {
		for _, t := range p.l.softTargets(name, s) {
			p.visit(t, true, false)
		}
	}
}

// softdep returns the soft dependencies of a module: the configured ones,
// else the module's own.
func (l *Loader) softdep(name string) softdep {
	if sd, ok := l.cfg.softdeps[name]; ok {
		return sd
	}
	return l.idx.softdeps[name]
}

// softTargets resolves a soft dependency of mod, a module name or alias.
// One that is missing is skipped, as kmod skips it.
func (l *Loader) softTargets(mod, dep string) []string {
	if name := NormalizeName(dep); l.known(name) {
		return []string{name}
	}
	if m := l.byAlias(dep); len(m) > 0 {
		return m
	}
	l.logf("softdep %s: module %s not found", mod, dep)
	return nil
}

// run loads the steps of a plan that are not in the kernel yet.
func (l *Loader) run(steps []Step) ([]string, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	var done []string
	for _, s := range steps {
		if s.Builtin {
			continue
		}
		if in, err := l.kernel.IsLoaded(s.Name); err != nil {
			return done, fmt.Errorf("looking for module %s: %w", s.Name, err)
		} else if in {
			continue
		}
		did, err := l.load(s)
		if err != nil {
			if s.Soft {
				l.logf("softdep: %v", err)
				continue
			}
			return done, err
		}
		if did {
			done = append(done, s.Name)
		}
	}
	return done, nil
}

// load inserts a module once however many callers need it at the same
// time; did is false for those that waited, and when it was there already.
func (l *Loader) load(s Step) (did bool, err error) {
	l.mu.Lock()
	if f, ok := l.inflight[s.Name]; ok {
		l.mu.Unlock()
		<-f.done
		return false, f.err
	}
	f := &flight{done: make(chan struct{})}
	l.inflight[s.Name] = f
	l.mu.Unlock()

	did, f.err = l.insert(s)
	l.mu.Lock()
	delete(l.inflight, s.Name)
	l.mu.Unlock()
	close(f.done)
	return did, f.err
}

// insert hands a module file to the kernel. A compressed file is the
// kernel's to decompress: smbox carries no decoders (they would cost it
// 0.45 MB), and the image builder stores decompressed every module the
// board's kernel cannot take compressed.
func (l *Loader) insert(s Step) (bool, error) {
	l.logf("insmod %s", strings.TrimSpace(s.Path+" "+s.Params))
	f, err := os.Open(s.Path)
	if err != nil {
		return false, fmt.Errorf("loading module %s: %w", s.Name, err)
	}
	defer f.Close()
	err = l.kernel.Load(s.Name, f, nil, s.Params)
	switch comp := compressionOf(s.Path); {
	case errors.Is(err, unix.EEXIST):
		return false, nil
	case comp != "" && refused(err):
		return false, fmt.Errorf("loading module %s (%s): the kernel does not decompress %s modules (CONFIG_MODULE_DECOMPRESS with CONFIG_MODULE_COMPRESS_%s): install it decompressed, as smimage does for such a kernel: %w",
			s.Name, s.Path, comp, compressionConfig(comp), err)
	case err != nil:
		return false, fmt.Errorf("loading module %s (%s): %w", s.Name, s.Path, err)
	}
	return true, nil
}

// Remove unloads a module, or the modules of an alias, then what they
// needed and nothing else uses any more, as modprobe -r does: soft
// post-dependencies first, the module, its dependencies, soft
// pre-dependencies. A module that is not loaded is left alone; removing a
// built-in one is an error wrapping ErrBuiltin.
func (l *Loader) Remove(name string) error {
	targets, err := l.resolve(name)
	if err != nil {
		return err
	}
	loaded, err := l.kernel.Loaded()
	if err != nil {
		return fmt.Errorf("listing loaded modules: %w", err)
	}
	for _, t := range targets {
		m, ok := l.idx.modules[t]
		if !ok {
			return fmt.Errorf("removing module %s: %w", t, ErrBuiltin)
		}
		if !loaded[t] {
			continue
		}
		sd := l.softdep(t)
		l.unloadUnused(loaded, sd.post)
		if err := l.unload(t); err != nil {
			return err
		}
		delete(loaded, t)
		l.unloadUnused(loaded, m.deps)
		l.unloadUnused(loaded, sd.pre)
	}
	return nil
}

// unloadUnused unloads the loaded ones of names, in order, skipping those
// still in use.
func (l *Loader) unloadUnused(loaded map[string]bool, names []string) {
	for _, n := range names {
		if !loaded[n] {
			continue
		}
		if err := l.unload(n); err != nil {
			l.logf("%v", err)
			continue
		}
		delete(loaded, n)
	}
}

func (l *Loader) unload(name string) error {
	l.logf("rmmod %s", name)
	err := l.kernel.Unload(name)
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY):
		return fmt.Errorf("removing module %s: in use: %w", name, err)
	case err != nil:
		return fmt.Errorf("removing module %s: %w", name, err)
	}
	return nil
}

func (l *Loader) logf(format string, args ...any) {
	if l.log != nil {
		fmt.Fprintf(l.log, format+"\n", args...)
	}
}
