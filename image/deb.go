package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
)

// Package is a Debian package unpacked on the host.
type Package struct {
	Name, Arch, Suite string
	// Root is the folder holding the package's files, as dpkg-deb -x
	// lays them out.
	Root string
	// Depends are the packages it depends on: the first alternative of
	// each Depends and Pre-Depends entry, without versions.
	Depends []string
}

// PackageSource gives Debian packages for an architecture.
type PackageSource interface {
	// Package returns the unpacked package name of Debian architecture
	// arch from suite; a *NoPackageError when there is none.
	Package(ctx context.Context, arch, suite, name string) (*Package, error)
}

// NoPackageError says that a Debian package does not exist for an
// architecture.
type NoPackageError struct{ Name, Arch, Suite string }

func (e *NoPackageError) Error() string {
	return fmt.Sprintf("Debian package %q does not exist for %s in %s", e.Name, e.Arch, e.Suite)
}

// AptSource fetches packages with scripts/fetch-deb, which downloads them
// through a private apt index (signatures checked by apt) and unpacks
// them. Unpacked packages are kept under Cache/deb/ARCH[-SUITE]/NAME and
// taken from there on later builds; delete that folder to fetch again.
type AptSource struct {
	Script string // scripts/fetch-deb
	Cache  string // the cache folder, as SYSMASTER_CACHE
}

// NewAptSource returns the source that uses the fetch-deb script of the
// module at root and the cache folder cache.
func NewAptSource(root, cache string) *AptSource {
	return &AptSource{Script: filepath.Join(root, "scripts", "fetch-deb"), Cache: cache}
}

// fetchDebNoPackage is fetch-deb's exit status for a missing package.
const fetchDebNoPackage = 3

// Package implements PackageSource.
func (s *AptSource) Package(ctx context.Context, arch, suite, name string) (*Package, error) {
	if !board.ValidPackageName(name) {
		return nil, fmt.Errorf("%q is not a Debian package name", name)
	}
	sub := arch
	if suite != "" && suite != "bookworm" {
		sub += "-" + suite
	}
	base := filepath.Join(s.Cache, "deb", sub)
	dir := filepath.Join(base, name)
	if p, err := readUnpacked(dir, name, arch, suite); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(base, "."+name+"-")
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, s.Script, arch, filepath.Join(tmp, "root"), name)
	cmd.Env = append(os.Environ(), "SYSMASTER_CACHE="+s.Cache, "DEBIAN_SUITE="+suite,
		"FETCH_DEB_CONTROL="+filepath.Join(tmp, "control.d"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == fetchDebNoPackage {
			return nil, &NoPackageError{Name: name, Arch: arch, Suite: suite}
		}
		return nil, fmt.Errorf("package %s (%s, %s): %s: %w: %s", name, arch, suite, s.Script, err, lastLine(stderr.String()))
	}
	if err := os.Rename(filepath.Join(tmp, "control.d", name+".control"), filepath.Join(tmp, "control")); err != nil {
		return nil, fmt.Errorf("package %s: no control file from %s: %w", name, s.Script, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another build may have unpacked it meanwhile.
		if p, rerr := readUnpacked(dir, name, arch, suite); rerr == nil {
			return p, nil
		}
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	return readUnpacked(dir, name, arch, suite)
}

// readUnpacked reads a package that AptSource unpacked into dir.
func readUnpacked(dir, name, arch, suite string) (*Package, error) {
	ctl, err := os.ReadFile(filepath.Join(dir, "control"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "root")); err != nil {
		return nil, err
	}
	return &Package{Name: name, Arch: arch, Suite: suite, Root: filepath.Join(dir, "root"), Depends: parseDepends(ctl)}, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// parseDepends takes the package names out of a control file's Depends and
// Pre-Depends fields: "libc6 (>= 2.34), libfoo1 | libbar1" gives libc6 and
// libfoo1.
func parseDepends(control []byte) []string {
	var deps []string
	var field string
	add := func(value string) {
		for _, entry := range strings.Split(value, ",") {
			alt, _, _ := strings.Cut(entry, "|")
			alt = strings.TrimSpace(alt)
			if i := strings.IndexAny(alt, " ([<"); i >= 0 {
				alt = alt[:i]
			}
			alt, _, _ = strings.Cut(alt, ":") // libc6:any
			if alt != "" {
				deps = append(deps, alt)
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(control))
	var value strings.Builder
	flush := func() {
		if field == "depends" || field == "pre-depends" {
			add(value.String())
		}
		value.Reset()
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			value.WriteString(" " + strings.TrimSpace(line))
			continue
		}
		flush()
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			field = ""
			continue
		}
		field = strings.ToLower(strings.TrimSpace(k))
		value.WriteString(strings.TrimSpace(v))
	}
	flush()
	return deps
}

// packageSkip are the folders of a package left out unless named in a
// [package.NAME] files list: documentation nobody reads on a board.
var packageSkip = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/bug"}

// packageFile is a file of a package that went into the image.
type packageFile struct {
	dst, src string
}

// addPackage adds the files of p to t: those selected by files (see
// board.PackageFiles), else all but packageSkip. Regular files that are
// already in the image are an error: a package never silently replaces
// smbox, busybox or another package. It returns the regular files added.
func addPackage(t *Tree, p *Package, files []string) ([]packageFile, error) {
	sel := make([]string, len(files))
	used := make([]bool, len(files))
	for i, f := range files {
		sel[i] = strings.Trim(path.Clean("/"+f), "/")
	}
	selected := func(rel string) bool {
		if len(sel) == 0 {
			for _, s := range packageSkip {
				if rel == s || strings.HasPrefix(rel, s+"/") {
					return false
				}
			}
			return true
		}
		hit := false
		for i, s := range sel {
			if ok, _ := path.Match(s, rel); ok || rel == s || strings.HasPrefix(rel, s+"/") {
				used[i] = true
				hit = true
			}
		}
		return hit
	}
	var added []packageFile
	err := filepath.WalkDir(p.Root, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(p.Root, host)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." || d.IsDir() || !selected(rel) {
			return nil
		}
		if old, ok := t.Lookup(rel); ok && old.Kind != KindDir {
			return fmt.Errorf("/%s is in the image already (a %v); the package does not replace it", rel, old.Kind)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return err
			}
			return t.AddSymlink(rel, target)
		case fi.Mode().IsRegular():
			added = append(added, packageFile{dst: "/" + rel, src: host})
			return t.AddHostFile(rel, host, fi.Mode())
		}
		// Packages carry no device nodes or fifos; dpkg-deb would not
		// unpack them as a user anyway.
		return fmt.Errorf("/%s: a %v, not a file or link", rel, fi.Mode().Type())
	})
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("package %s: files: %q matches nothing in the package", p.Name, files[i])
		}
	}
	return added, nil
}
