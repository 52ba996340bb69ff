package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
)

// multiarch is the Debian multiarch triplet of each architecture: glibc's
// libraries live in /lib/TRIPLET and /usr/lib/TRIPLET.
var multiarch = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"i386":    "i386-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"armhf":   "arm-linux-gnueabihf",
	"armel":   "arm-linux-gnueabi",
	"riscv64": "riscv64-linux-gnu",
}

// isMusl tells musl's dynamic linker (/lib/ld-musl-ARCH.so.1) from glibc's.
func isMusl(interp string) bool { return strings.HasPrefix(path.Base(interp), "ld-musl-") }

// defaultDirs are the folders the loader interp searches on its own.
func (r *resolver) defaultDirs(interp string) []string {
	if isMusl(interp) {
		// musl's built-in path, used without /etc/ld-musl-ARCH.path.
		return []string{"/lib", "/usr/local/lib", "/usr/lib"}
	}
	var dirs []string
	if tri, ok := multiarch[r.b.DebianArch]; ok {
		dirs = append(dirs, "/lib/"+tri, "/usr/lib/"+tri)
	}
	return append(dirs, "/lib", "/usr/lib")
}

// muslArch is musl's name of each Debian architecture, as in its loader's
// name /lib/ld-musl-ARCH.so.1.
var muslArch = map[string]string{
	"amd64": "x86_64", "i386": "i386", "arm64": "aarch64", "armhf": "armhf", "armel": "arm", "riscv64": "riscv64",
}

func (r *resolver) muslLoader() string {
	return "/lib/ld-musl-" + muslArch[r.b.DebianArch] + ".so.1"
}

// runtimePackage is the Debian package of a loader, fetched for a binary
// that comes from no package (an --extra).
func runtimePackage(interp string) string {
	if isMusl(interp) {
		return "musl"
	}
	return "libc6"
}

// resolver checks the ELF files of an image and brings in what the dynamic
// ones need: the interpreter (PT_INTERP) and every DT_NEEDED library, found
// through DT_RPATH/DT_RUNPATH and the loader's default folders, in the
// image or in Debian packages of the board's architecture. Nothing runs on
// the host: it works for any architecture.
type resolver struct {
	b          *board.Board
	t          *Tree
	src        PackageSource
	staticOnly bool
	logf       func(string, ...any)

	pkgs    []*Package // searched in this order
	fetched map[string]bool
	queue   []elfItem
	later   []elfItem       // libraries no executable led to yet
	done    map[string]bool // image paths checked
}

// elfItem is a file in the image to check.
type elfItem struct {
	dst    string   // its path in the image
	src    string   // the host file
	owner  *Package // the package it came from, if any
	what   string   // how errors name it
	loader string   // for a library, the interpreter of what needs it
	// loaded are the DT_NEEDED names the process that led here has
	// loaded: ld.so takes a library already loaded under that name
	// before it searches, so a library without a RUNPATH may need one
	// that only its executable's RUNPATH finds (systemd's
	// libsystemd-core needs libsystemd-shared, both in
	// /usr/lib/TRIPLET/systemd). A library is checked once, in the
	// first process that needs it.
	loaded map[string]bool
	later  bool // checked after the executables: none led to it
}

// maxFetched bounds the packages one build fetches for libraries.
const maxFetched = 64

func newResolver(b *board.Board, t *Tree, src PackageSource, staticOnly bool, logf func(string, ...any)) *resolver {
	return &resolver{b: b, t: t, src: src, staticOnly: staticOnly, logf: logf,
		fetched: make(map[string]bool), done: make(map[string]bool)}
}

// addPackage makes p's files a place to look for libraries.
func (r *resolver) addPackage(p *Package) {
	if !r.fetched[p.Name] {
		r.fetched[p.Name] = true
		r.pkgs = append(r.pkgs, p)
	}
}

// check queues the file at image path dst (host file src) for checking.
func (r *resolver) check(dst, src string, owner *Package, what string) {
	r.queue = append(r.queue, elfItem{dst: dst, src: src, owner: owner, what: what})
}

// run checks every queued file and what they bring in.
func (r *resolver) run(ctx context.Context) error {
	for len(r.queue) > 0 || len(r.later) > 0 {
		if len(r.queue) == 0 {
			r.queue, r.later = r.later, nil
		}
		it := r.queue[0]
		r.queue = r.queue[1:]
		if r.done[it.dst] {
			continue
		}
		r.done[it.dst] = true
		if err := r.resolve(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) resolve(ctx context.Context, it elfItem) error {
	info, isELF, err := readELF(it.src)
	if err != nil {
		return fmt.Errorf("%s: %w", it.what, err)
	}
	if !isELF {
		return nil
	}
	want, class, ok := elfMachine(r.b.Arch)
	if !ok {
		return fmt.Errorf("%s: no ELF machine known for GOARCH %q", it.what, r.b.Arch)
	}
	if info.machine != want || info.class != class {
		return fmt.Errorf("%s: built for %v (%v), but the board is %s (%v)", it.what, info.machine, info.class, r.b.Arch, want)
	}
	if !info.dynamic() {
		return nil
	}
	if r.staticOnly {
		return fmt.Errorf("%s: dynamically linked (interpreter %q, libraries %s); --static-only takes static binaries only",
			it.what, info.interp, strings.Join(info.needed, ", "))
	}
	interp := info.interp
	if interp == "" && it.loaded == nil && !it.later {
		// A library given on its own (a package's file): checked once
		// the executables have been, so that it is checked as part of
		// the process that loads it.
		it.later = true
		r.later = append(r.later, it)
		r.done[it.dst] = false
		return nil
	}
	if interp == "" {
		// A shared library: loaded by the interpreter of what needs it.
		// One that no binary led to is musl's when it needs musl's libc.
		if it.loader == "" && slices.Contains(info.needed, "libc.so") {
			it.loader = r.muslLoader()
		}
		interp = it.loader
	} else {
		it.loader = interp
		it.loaded = make(map[string]bool)
		if err := r.place(ctx, it, interp, []string{interp}); err != nil {
			return err
		}
		// The loader is loaded under its own name: libc's DT_NEEDED on it
		// (ld-linux-x86-64.so.2, which glibc's folders would find a
		// second copy of) is that one.
		it.loaded[path.Base(interp)] = true
	}
	dirs := r.searchDirs(it, info, interp)
	for _, lib := range info.needed {
		if isMusl(interp) && (lib == "libc.so" || strings.HasPrefix(lib, "libc.musl-")) {
			continue // musl's loader is its libc
		}
		if it.loaded[lib] {
			continue
		}
		var cands []string
		if strings.Contains(lib, "/") {
			cands = []string{path.Clean("/" + lib)}
		} else {
			for _, d := range dirs {
				cands = append(cands, path.Join(d, lib))
			}
		}
		if err := r.place(ctx, it, lib, cands); err != nil {
			return err
		}
		if it.loaded != nil {
			it.loaded[lib] = true
		}
	}
	return nil
}

// searchDirs is where the loader looks for its libraries, in order.
func (r *resolver) searchDirs(it elfItem, info *elfInfo, interp string) []string {
	var dirs []string
	rp := info.runpath
	if len(rp) == 0 {
		rp = info.rpath
	}
	for _, d := range rp {
		d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", path.Dir(it.dst))
		if d == "" || strings.Contains(d, "$") || !path.IsAbs(d) {
			continue // $LIB, $PLATFORM: not worth guessing
		}
		dirs = append(dirs, path.Clean(d))
	}
	return append(dirs, r.defaultDirs(interp)...)
}

// place makes sure one of the image paths cands holds name (the
// interpreter or a library): one already in the image, else the first
// candidate found in a package, fetching the packages the binary's package
// depends on (or the C library's) when none has it.
func (r *resolver) place(ctx context.Context, it elfItem, name string, cands []string) error {
	want, class, _ := elfMachine(r.b.Arch)
	for _, c := range cands {
		if src, ok := r.inTree(c); ok {
			if src != "" {
				r.queue = append(r.queue, elfItem{dst: c, src: src, owner: it.owner, what: c, loader: it.loader, loaded: it.loaded})
			}
			return nil
		}
	}
	tried := 0
	for {
		// Exact paths in every package first; /usr-merged homes after.
		for _, usr := range []bool{false, true} {
			for _, p := range r.pkgs[tried:] {
				for _, c := range cands {
					host, ok := fileIn(p.Root, c, usr)
					if !ok {
						continue
					}
					if info, isELF, err := readELF(host); err != nil || !isELF || info.machine != want || info.class != class {
						continue // as ld.so skips a library of another machine
					}
					if err := r.t.AddHostFile(c, host, 0o755); err != nil {
						return fmt.Errorf("%s: adding %s: %w", it.what, c, err)
					}
					r.logf("%s: %s from package %s", it.what, c, p.Name)
					r.queue = append(r.queue, elfItem{dst: c, src: host, owner: p, what: c + " (package " + p.Name + ")", loader: it.loader, loaded: it.loaded})
					return nil
				}
			}
		}
		tried = len(r.pkgs)
		more, err := r.fetchMore(ctx, it, name)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	var names []string
	for _, p := range r.pkgs {
		names = append(names, p.Name)
	}
	where := "in the Debian packages " + strings.Join(names, ", ")
	switch {
	case r.src == nil:
		where = "no source of Debian packages to look in"
	case len(names) == 0:
		where = "in no Debian package"
	}
	return fmt.Errorf("%s: needs %s: not in the image, %s (looked for %s)",
		it.what, name, where, strings.Join(cands, ", "))
}

// fetchMore fetches the packages that may hold what it needs and are not
// here yet: the dependencies of its package, then theirs, else the C
// library for its loader. It reports whether it fetched any.
func (r *resolver) fetchMore(ctx context.Context, it elfItem, name string) (bool, error) {
	if r.src == nil || len(r.fetched) >= maxFetched {
		return false, nil
	}
	var next []string
	// Breadth first through the dependencies of the packages at hand,
	// starting from the binary's own.
	var owners []*Package
	if it.owner != nil {
		owners = append(owners, it.owner)
	}
	owners = append(owners, r.pkgs...)
	for _, p := range owners {
		for _, d := range p.Depends {
			if !r.fetched[d] && !slices.Contains(next, d) {
				next = append(next, d)
			}
		}
		if len(next) > 0 {
			break
		}
	}
	if len(next) == 0 {
		if rt := runtimePackage(it.loader); !r.fetched[rt] {
			next = append(next, rt)
		}
	}
	if len(next) == 0 {
		return false, nil
	}
	for _, n := range next {
		p, err := r.src.Package(ctx, r.b.DebianArch, r.b.DebianSuite, n)
		var npe *NoPackageError
		if errors.As(err, &npe) {
			// A virtual package or one of another arch: not a library home.
			r.fetched[n] = true
			continue
		}
		if err != nil {
			return false, fmt.Errorf("%s: looking for %s: %w", it.what, name, err)
		}
		r.logf("fetched Debian package %s for the libraries of %s", n, it.what)
		r.addPackage(p)
	}
	return true, nil
}

// inTree reports whether the image has p, following its links; src is the
// host file behind it ("" for data held in memory).
func (r *resolver) inTree(p string) (src string, ok bool) {
	for range 40 {
		n, ok := r.t.Lookup(p)
		if !ok {
			return "", false
		}
		switch n.Kind {
		case KindSymlink:
			if path.IsAbs(n.Target) {
				p = n.Target
			} else {
				p = path.Join("/", path.Dir("/"+n.Path), n.Target)
			}
			continue
		case KindFile:
			return n.Source, true
		}
		return "", false
	}
	return "", false
}

// fileIn finds the image path p in a package unpacked at root, following
// links inside it. With usr it looks under /usr instead: merged-/usr
// packages (trixie on) ship /lib's files in /usr/lib.
func fileIn(root, p string, usr bool) (string, bool) {
	if usr {
		if !strings.HasPrefix(p, "/lib") && !strings.HasPrefix(p, "/bin/") && !strings.HasPrefix(p, "/sbin/") {
			return "", false
		}
		p = "/usr" + p
	}
	return regularIn(root, p)
}

func regularIn(root, p string) (string, bool) {
	for range 40 {
		host := filepath.Join(root, filepath.FromSlash(p))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", false
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return "", false
			}
			if path.IsAbs(target) {
				p = path.Clean(target)
			} else {
				p = path.Join(path.Dir(p), target)
			}
		case fi.Mode().IsRegular():
			return host, true
		default:
			return "", false
		}
	}
	return "", false
}
