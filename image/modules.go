package image

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/exts/kmod"
	"github.com/sysmaster-go/sysmaster/units/suggest"
)

// modulesDir is where the module tree of the kernel goes in an image; the
// kernel's release is appended, as modprobe expects.
const modulesDir = "/lib/modules"

// ErrNoKernelModules means the module tree of a board's kernel has not been
// fetched into the cache.
var ErrNoKernelModules = errors.New("kernel modules not found")

// KernelModulesDir finds the module tree that scripts/fetch-kernel unpacked
// for b: cacheDir/kernel/NAME/lib/modules/VERSION.
func KernelModulesDir(cacheDir string, b *board.Board) (string, error) {
	dir := filepath.Join(cacheDir, "kernel", b.Name, "lib", "modules")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("kernel modules for board %s: %w", b.Name, err)
	}
	var trees []string
	for _, e := range ents {
		if e.IsDir() {
			trees = append(trees, e.Name())
		}
	}
	switch len(trees) {
	case 0:
		return "", fmt.Errorf("kernel modules for board %s not found in %s: run scripts/fetch-kernel %s: %w",
			b.Name, dir, b.FetchRef(), ErrNoKernelModules)
	case 1:
		return filepath.Join(dir, trees[0]), nil
	}
	return "", fmt.Errorf("kernel modules for board %s: %s holds several kernels (%s); name one",
		b.Name, dir, strings.Join(trees, ", "))
}

// kmodule is what an image needs to know of one kernel module.
type kmodule struct {
	name      string // from the file name, with '_' for '-' as the kernel names it
	rel       string // slash-separated path under the module tree
	depends   []string
	aliases   []string
	pre, post []string // soft dependencies
}

// moduleTree is the module tree of one kernel, lib/modules/VERSION. The
// modinfo of a module is read on first use, so that naming a few modules
// reads a few files.
type moduleTree struct {
	dir     string
	goarch  string
	files   map[string]string // module name → rel
	builtin map[string]bool
	mods    map[string]*kmodule
	allRead bool
}

func openModuleTree(dir, goarch string) (*moduleTree, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("kernel modules: %s is not a directory", dir)
	}
	t := &moduleTree{
		dir: dir, goarch: goarch,
		files:   make(map[string]string),
		builtin: make(map[string]bool),
		mods:    make(map[string]*kmodule),
	}
	// WalkDir does not follow symlinks, which keeps the build and source
	// links of an installed kernel out.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		name, ok := kmod.ModuleName(p)
		if !ok {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return t.addFile(name, filepath.ToSlash(rel))
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules in %s: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := kmod.ModuleName(strings.TrimSpace(line)); ok {
			t.builtin[name] = true
		}
	}
	return t, nil
}

// addFile records a module file. Of two files of one module, the one under
// updates/ wins, as in depmod's default search order.
func (t *moduleTree) addFile(name, rel string) error {
	old, dup := t.files[name]
	switch {
	case !dup:
		t.files[name] = rel
	case strings.HasPrefix(rel, "updates/") && !strings.HasPrefix(old, "updates/"):
		t.files[name] = rel
	case strings.HasPrefix(old, "updates/") && !strings.HasPrefix(rel, "updates/"):
	default:
		return fmt.Errorf("module %s is both %s and %s", name, old, rel)
	}
	return nil
}

// module returns the module called name, reading its modinfo when needed,
// or nil when there is no such file.
func (t *moduleTree) module(name string) (*kmodule, error) {
	if m, ok := t.mods[name]; ok {
		return m, nil
	}
	rel, ok := t.files[name]
	if !ok {
		return nil, nil
	}
	m, err := readModule(t.dir, rel, t.goarch)
	if err != nil {
		return nil, err
	}
	m.name = name
	t.mods[name] = m
	return m, nil
}

// all reads the modinfo of every module, in parallel: a whole Debian tree
// is over a thousand files.
func (t *moduleTree) all() ([]*kmodule, error) {
	names := make([]string, 0, len(t.files))
	for n := range t.files {
		names = append(names, n)
	}
	sort.Strings(names)
	if t.allRead {
		out := make([]*kmodule, len(names))
		for i, n := range names {
			out[i] = t.mods[n]
		}
		return out, nil
	}
	out := make([]*kmodule, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for i := range next {
				if m, ok := t.mods[names[i]]; ok {
					out[i] = m
					continue
				}
				out[i], errs[i] = readModule(t.dir, t.files[names[i]], t.goarch)
				if out[i] != nil {
					out[i].name = names[i]
				}
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, m := range out {
		t.mods[m.name] = m
	}
	t.allRead = true
	return out, nil
}

// readModuleFile returns the module file rel under dir, decompressed.
func readModuleFile(dir, rel string) ([]byte, error) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	defer f.Close()
	zr, _, err := Decompress(f)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	defer zr.Close()
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("module %s: decompressing: %w", p, err)
	}
	return data, nil
}

// moduleCompression is the compression a module file's name says, or ""
// for a plain .ko.
func moduleCompression(rel string) Compression {
	switch path.Ext(rel) {
	case ".xz":
		return XZ
	case ".zst":
		return Zstd
	case ".gz":
		return Gzip
	}
	return ""
}

// KernelConfig reads the configuration of the kernel whose module tree is
// dir (lib/modules/VERSION) from boot/config-VERSION beside lib, as
// Debian's packages and scripts/fetch-kernel lay them out: the options
// set to y, and the file's path.
func KernelConfig(dir string) (map[string]bool, string, error) {
	cfg := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(dir))), "boot", "config-"+filepath.Base(dir))
	data, err := os.ReadFile(cfg)
	if err != nil {
		return nil, cfg, fmt.Errorf("kernel configuration: %w", err)
	}
	set := make(map[string]bool)
	for _, line := range strings.Split(string(data), "\n") {
		if k, ok := strings.CutSuffix(strings.TrimSpace(line), "=y"); ok {
			set[k] = true
		}
	}
	return set, cfg, nil
}

// kernelDecompression returns the one compression the kernel of the
// module tree dir decompresses modules of itself (CONFIG_MODULE_DECOMPRESS
// with the CONFIG_MODULE_COMPRESS_* it was built for), or "" when it
// decompresses none or its configuration is not there. how says which,
// for the build's log.
func kernelDecompression(dir string) (c Compression, how string) {
	set, cfg, err := KernelConfig(dir)
	if err != nil {
		return "", "no kernel configuration at " + cfg
	}
	if !set["CONFIG_MODULE_DECOMPRESS"] {
		return "", "the kernel does not decompress modules (" + filepath.Base(cfg) + ")"
	}
	for k, c := range map[string]Compression{"CONFIG_MODULE_COMPRESS_XZ": XZ, "CONFIG_MODULE_COMPRESS_ZSTD": Zstd, "CONFIG_MODULE_COMPRESS_GZIP": Gzip} {
		if set[k] {
			return c, "the kernel decompresses only " + string(c) + " (" + filepath.Base(cfg) + ")"
		}
	}
	return "", "the kernel decompresses no module format (" + filepath.Base(cfg) + ")"
}

// readModule reads the modinfo of the module file rel under dir and checks
// that it was built for goarch.
func readModule(dir, rel, goarch string) (*kmodule, error) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	defer f.Close()
	var r io.ReaderAt = f
	if moduleCompression(rel) != "" {
		data, err := readModuleFile(dir, rel)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(data)
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	defer ef.Close()
	want, class, ok := elfMachine(goarch)
	if !ok {
		return nil, fmt.Errorf("module %s: no ELF machine known for GOARCH %q", p, goarch)
	}
	if ef.Machine != want || ef.Class != class || ef.Type != elf.ET_REL {
		return nil, fmt.Errorf("module %s: a %v %v file for %v, but the board is %s (%v)",
			p, ef.Class, ef.Type, ef.Machine, goarch, want)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", p)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: .modinfo: %w", p, err)
	}
	m := &kmodule{rel: rel}
	m.parseModinfo(info)
	return m, nil
}

// parseModinfo takes the keys of a .modinfo section (NUL-separated
// key=value strings) that say what else a module needs and what it drives.
func (m *kmodule) parseModinfo(info []byte) {
	for _, kv := range bytes.Split(info, []byte{0}) {
		key, value, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch key {
		case "alias":
			m.aliases = append(m.aliases, value)
		case "depends":
			for _, d := range strings.Split(value, ",") {
				if d = strings.TrimSpace(d); d != "" {
					m.depends = append(m.depends, kmod.NormalizeName(d))
				}
			}
		case "softdep":
			pre, post := parseSoftdep(value)
			m.pre = append(m.pre, pre...)
			m.post = append(m.post, post...)
		}
	}
}

// parseSoftdep splits "pre: a b post: c" into its lists. Words before the
// first "pre:" or "post:" belong to neither and are dropped, as kmod does.
func parseSoftdep(s string) (pre, post []string) {
	var cur *[]string
	for _, w := range strings.Fields(s) {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, kmod.NormalizeName(w))
			}
		}
	}
	return pre, post
}

// selectModules returns the modules the board asks for and all they need,
// sorted by name.
func (t *moduleTree) selectModules(b *board.Board, logf func(string, ...any)) ([]*kmodule, error) {
	sel := make(map[string]*kmodule)
	var queue []*kmodule
	add := func(m *kmodule) {
		if _, ok := sel[m.name]; !ok {
			sel[m.name] = m
			queue = append(queue, m)
		}
	}
	for _, n := range b.Modules.Names {
		name := kmod.NormalizeName(n)
		m, err := t.module(name)
		if err != nil {
			return nil, err
		}
		if m != nil {
			add(m)
			continue
		}
		if t.builtin[name] {
			logf("module %s is built into the kernel", name)
			continue
		}
		msg := fmt.Sprintf("board %s: module %q not found in %s", b.Name, n, t.dir)
		if near := nearestNames(name, t.files); len(near) > 0 {
			msg += " (did you mean " + strings.Join(near, ", ") + "?)"
		}
		return nil, errors.New(msg)
	}
	if len(b.Modules.Buses) > 0 {
		mods, err := t.all()
		if err != nil {
			return nil, err
		}
		buses := make(map[string]bool)
		for _, m := range mods {
			for _, a := range m.aliases {
				if bus, _, ok := strings.Cut(a, ":"); ok {
					buses[strings.TrimRight(bus, "*")] = true
				}
			}
		}
		for _, bus := range b.Modules.Buses {
			if !buses[bus] {
				return nil, fmt.Errorf("board %s: no module in %s has an alias on bus %q (buses there: %s)",
					b.Name, t.dir, bus, strings.Join(sortedKeys(buses), ", "))
			}
			for _, m := range mods {
				if m.onBus(bus) {
					add(m)
				}
			}
		}
	}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, d := range m.depends {
			dm, err := t.module(d)
			if err != nil {
				return nil, err
			}
			if dm == nil {
				return nil, fmt.Errorf("module %s (%s) depends on %s, which is not in %s", m.name, m.rel, d, t.dir)
			}
			add(dm)
		}
		for _, s := range slices.Concat(m.pre, m.post) {
			sm, err := t.resolveSoft(s)
			if err != nil {
				return nil, err
			}
			if sm == nil {
				logf("module %s: soft dependency %s is built in or missing", m.name, s)
				continue
			}
			add(sm)
		}
	}
	out := make([]*kmodule, 0, len(sel))
	for _, m := range sel {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// onBus reports whether m has an alias on bus: "pci:…", or "acpi*:…" for
// acpi.
func (m *kmodule) onBus(bus string) bool {
	for _, a := range m.aliases {
		if p, _, ok := strings.Cut(a, ":"); ok && strings.TrimRight(p, "*") == bus {
			return true
		}
	}
	return false
}

// resolveSoft finds a soft dependency: a module name or, as modprobe takes
// it, an alias. It returns nil for a built-in or missing module.
func (t *moduleTree) resolveSoft(name string) (*kmodule, error) {
	if m, err := t.module(name); m != nil || err != nil {
		return m, err
	}
	if t.builtin[name] {
		return nil, nil
	}
	mods, err := t.all()
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		for _, a := range m.aliases {
			// Soft dependencies are spelled with '_' for '-'.
			a = kmod.NormalizeName(a)
			if ok, _ := path.Match(a, name); ok || a == name {
				return m, nil
			}
		}
	}
	return nil, nil
}

// depOrder numbers mods so that each comes before every module it depends
// on, ties broken by name: the order of the dependencies on a line of
// modules.dep, which modprobe loads from the end.
func depOrder(mods []*kmodule) (map[string]int, error) {
	users := make(map[string]int, len(mods))
	byName := make(map[string]*kmodule, len(mods))
	for _, m := range mods {
		byName[m.name] = m
		for _, d := range m.depends {
			users[d]++
		}
	}
	var ready []string
	for _, m := range mods {
		if users[m.name] == 0 {
			ready = append(ready, m.name)
		}
	}
	sort.Strings(ready)
	order := make(map[string]int, len(mods))
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order[n] = len(order)
		for _, d := range byName[n].depends {
			if users[d]--; users[d] == 0 {
				i, _ := slices.BinarySearch(ready, d)
				ready = slices.Insert(ready, i, d)
			}
		}
	}
	if len(order) < len(mods) {
		var cycle []string
		for _, m := range mods {
			if _, ok := order[m.name]; !ok {
				cycle = append(cycle, m.name)
			}
		}
		return nil, fmt.Errorf("modules depend on each other in a cycle: %s", strings.Join(cycle, ", "))
	}
	return order, nil
}

// moduleIndexes renders modules.dep, modules.alias and modules.softdep for
// mods, which must hold every dependency of each of them.
func moduleIndexes(mods []*kmodule) (dep, alias, softdep []byte, err error) {
	order, err := depOrder(mods)
	if err != nil {
		return nil, nil, nil, err
	}
	byName := make(map[string]*kmodule, len(mods))
	for _, m := range mods {
		byName[m.name] = m
	}
	var deps, aliases, soft bytes.Buffer
	aliases.WriteString("# Aliases extracted from modules themselves.\n")
	soft.WriteString("# Soft dependencies extracted from modules themselves.\n")
	byPath := slices.Clone(mods)
	sort.Slice(byPath, func(i, j int) bool { return byPath[i].rel < byPath[j].rel })
	for _, m := range byPath {
		deps.WriteString(m.rel + ":")
		for _, d := range closure(m, byName, order) {
			deps.WriteString(" " + byName[d].rel)
		}
		deps.WriteByte('\n')
	}
	for _, m := range mods {
		for _, a := range m.aliases {
			fmt.Fprintf(&aliases, "alias %s %s\n", a, m.name)
		}
		if len(m.pre) == 0 && len(m.post) == 0 {
			continue
		}
		soft.WriteString("softdep " + m.name)
		if len(m.pre) > 0 {
			soft.WriteString(" pre: " + strings.Join(m.pre, " "))
		}
		if len(m.post) > 0 {
			soft.WriteString(" post: " + strings.Join(m.post, " "))
		}
		soft.WriteByte('\n')
	}
	return deps.Bytes(), aliases.Bytes(), soft.Bytes(), nil
}

// closure returns every module m needs, directly or not, in dependency order.
func closure(m *kmodule, byName map[string]*kmodule, order map[string]int) []string {
	seen := make(map[string]bool)
	var walk func(*kmodule)
	walk = func(m *kmodule) {
		for _, d := range m.depends {
			if !seen[d] {
				seen[d] = true
				walk(byName[d])
			}
		}
	}
	walk(m)
	out := sortedKeys(seen)
	sort.Slice(out, func(i, j int) bool { return order[out[i]] < order[out[j]] })
	return out
}

// addKernelModules puts the modules that b asks for, found in the module
// tree dir, under /lib/modules/VERSION with the index files modprobe reads.
func addKernelModules(t *Tree, b *board.Board, dir string, logf func(string, ...any)) error {
	mt, err := openModuleTree(dir, b.Arch)
	if err != nil {
		return err
	}
	mods, err := mt.selectModules(b, logf)
	if err != nil {
		return err
	}
	// A module the kernel cannot decompress itself goes in decompressed:
	// smbox's modprobe carries no decoders, and the archive's own
	// compression does better on the plain ELF than on a stream already
	// compressed.
	inKernel, how := kernelDecompression(dir)
	var plain []string
	data := make(map[string][]byte)
	for i, m := range mods {
		c := moduleCompression(m.rel)
		if c == "" || c == inKernel {
			continue
		}
		b, err := readModuleFile(dir, m.rel)
		if err != nil {
			return err
		}
		p := *m
		p.rel = strings.TrimSuffix(m.rel, path.Ext(m.rel))
		mods[i] = &p
		data[p.rel] = b
		plain = append(plain, m.name)
	}
	if len(plain) > 0 {
		logf("decompressing %d kernel modules (%s): %s", len(plain), how, strings.Join(plain, " "))
	}
	dep, alias, softdep, err := moduleIndexes(mods)
	if err != nil {
		return fmt.Errorf("kernel modules in %s: %w", dir, err)
	}
	root := path.Join(modulesDir, filepath.Base(dir))
	if err := t.AddDir(root, 0o755); err != nil {
		return err
	}
	names := make([]string, len(mods))
	for i, m := range mods {
		names[i] = m.name
		if b, ok := data[m.rel]; ok {
			if err := t.AddFile(path.Join(root, m.rel), b, 0o644); err != nil {
				return fmt.Errorf("kernel modules: %w", err)
			}
			continue
		}
		if err := t.AddHostFile(path.Join(root, m.rel), filepath.Join(dir, filepath.FromSlash(m.rel)), 0o644); err != nil {
			return fmt.Errorf("kernel modules: %w", err)
		}
	}
	for name, data := range map[string][]byte{"modules.dep": dep, "modules.alias": alias, "modules.softdep": softdep} {
		if err := t.AddFile(path.Join(root, name), data, 0o644); err != nil {
			return err
		}
	}
	// modprobe tells a built-in module from a missing one by these.
	for _, name := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		src := filepath.Join(dir, name)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := t.AddHostFile(path.Join(root, name), src, 0o644); err != nil {
			return fmt.Errorf("kernel modules: %w", err)
		}
	}
	logf("adding %d kernel modules from %s: %s", len(mods), dir, strings.Join(names, " "))
	return nil
}

// nearestNames returns up to three names closest to name by edit
// distance, when close enough to be a likely typo.
func nearestNames(name string, names map[string]string) []string {
	return suggest.Closest(name, sortedKeys(names), max(2, len(name)/3), 3)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
