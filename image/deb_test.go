package image

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
)

// fakeSource serves packages from folders made by the test: name -> root.
type fakeSource struct {
	roots   map[string]string
	depends map[string][]string
	asked   []string
}

func (f *fakeSource) Package(_ context.Context, arch, suite, name string) (*Package, error) {
	f.asked = append(f.asked, name)
	root, ok := f.roots[name]
	if !ok {
		return nil, &NoPackageError{Name: name, Arch: arch, Suite: suite}
	}
	return &Package{Name: name, Arch: arch, Suite: suite, Root: root, Depends: f.depends[name]}, nil
}

// fakePackage lays out files (path -> content; "->target" makes a link).
func fakePackage(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestParseDepends(t *testing.T) {
	ctl := "Package: dropbear-bin\nVersion: 1\nPre-Depends: init-system-helpers (>= 1.54~)\n" +
		"Depends: libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libfoo1 | libbar1,\n zlib1g:any (>= 1:1.1.4) [arm64]\n" +
		"Description: x\n more, text\n"
	got := parseDepends([]byte(ctl))
	want := []string{"init-system-helpers", "libc6", "libcrypt1", "libfoo1", "zlib1g"}
	if !slices.Equal(got, want) {
		t.Errorf("parseDepends = %q, want %q", got, want)
	}
}

func TestBuildPackages(t *testing.T) {
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	static := fakeELF(t, "tool", elf.EM_AARCH64, elf.ELFCLASS64, "")
	staticData, err := os.ReadFile(static)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{roots: map[string]string{
		"i2c-tools": fakePackage(t, map[string]string{
			"usr/sbin/i2cdetect":              string(staticData),
			"usr/sbin/i2cget":                 string(staticData),
			"usr/bin/ddcmon":                  "#!/bin/sh\n",
			"usr/share/doc/i2c-tools/README":  "docs",
			"usr/share/man/man8/i2cget.8.gz":  "man",
			"etc/i2c.conf":                    "conf",
			"usr/lib/i2c/link":                "->../../sbin/i2cget",
			"usr/share/i2c-tools/data/a.json": "{}",
		}),
		"tzdata": fakePackage(t, map[string]string{"usr/share/zoneinfo/UTC": "TZif"}),
	}}
	b := loadBoard(t, "qemu-aarch64")

	tests := []struct {
		name     string
		packages []string
		files    map[string]board.PackageFiles
		debs     []string
		want     []string // paths in the image
		notWant  []string
		wantErr  string
	}{
		{
			name:     "whole package without its docs",
			packages: []string{"i2c-tools"},
			want:     []string{"usr/sbin/i2cdetect", "usr/sbin/i2cget", "usr/bin/ddcmon", "etc/i2c.conf", "usr/lib/i2c/link", "usr/share/i2c-tools/data/a.json"},
			notWant:  []string{"usr/share/doc/i2c-tools/README", "usr/share/man/man8/i2cget.8.gz"},
		},
		{
			name:     "a subset: a file, a pattern and a folder",
			packages: []string{"i2c-tools"},
			files:    map[string]board.PackageFiles{"i2c-tools": {Files: []string{"/usr/sbin/i2cget", "usr/bin/*", "/usr/share/doc"}}},
			want:     []string{"usr/sbin/i2cget", "usr/bin/ddcmon", "usr/share/doc/i2c-tools/README"},
			notWant:  []string{"usr/sbin/i2cdetect", "etc/i2c.conf", "usr/lib/i2c/link"},
		},
		{
			name: "--deb adds a package",
			debs: []string{"tzdata"},
			want: []string{"usr/share/zoneinfo/UTC"},
		},
		{
			name:     "--deb of a board's package keeps the board's subset",
			packages: []string{"i2c-tools"},
			files:    map[string]board.PackageFiles{"i2c-tools": {Files: []string{"/etc/i2c.conf"}}},
			debs:     []string{"i2c-tools"},
			want:     []string{"etc/i2c.conf"},
			notWant:  []string{"usr/sbin/i2cget"},
		},
		{
			name:     "missing package",
			packages: []string{"no-such-package"},
			wantErr:  `packages: Debian package "no-such-package" does not exist for arm64 in bookworm`,
		},
		{
			name:    "missing --deb package",
			debs:    []string{"nope-deb"},
			wantErr: `--deb: Debian package "nope-deb" does not exist for arm64 in bookworm`,
		},
		{
			name:    "bad --deb name",
			debs:    []string{"../etc"},
			wantErr: `--deb "../etc": not a Debian package name`,
		},
		{
			name:     "a subset entry that matches nothing",
			packages: []string{"i2c-tools"},
			files:    map[string]board.PackageFiles{"i2c-tools": {Files: []string{"/usr/sbin/i2cget", "/usr/sbin/nope"}}},
			wantErr:  `package i2c-tools: files: "/usr/sbin/nope" matches nothing in the package`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bb := *b
			bb.Packages, bb.Package = tt.packages, tt.files
			out := filepath.Join(t.TempDir(), "img.cpio")
			opts := []Option{WithCompression(None), WithSmbox(smbox), WithUnits(""), WithoutKernelModules(), WithPackageSource(src)}
			for _, d := range tt.debs {
				opts = append(opts, WithDeb(d))
			}
			_, err := Build(context.Background(), &bb, out, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tt.wantErr)
				}
				if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a failed build left %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := entryMap(t, out)
			for _, p := range tt.want {
				if _, ok := m[p]; !ok {
					t.Errorf("image lacks %s", p)
				}
			}
			for _, p := range tt.notWant {
				if _, ok := m[p]; ok {
					t.Errorf("image has %s", p)
				}
			}
			if e, ok := m["usr/lib/i2c/link"]; ok && e.Linkname != "../../sbin/i2cget" {
				t.Errorf("link = %q", e.Linkname)
			}
		})
	}
}

func TestBuildPackageErrors(t *testing.T) {
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	x86 := fakeELF(t, "tool", elf.EM_X86_64, elf.ELFCLASS64, "")
	data, err := os.ReadFile(x86)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{roots: map[string]string{
		"clash":   fakePackage(t, map[string]string{"bin/smbox": "not smbox"}),
		"wrongos": fakePackage(t, map[string]string{"usr/bin/tool": string(data)}),
	}}
	b := loadBoard(t, "qemu-aarch64")
	for _, tt := range []struct{ pkg, want string }{
		{"clash", "package clash: /bin/smbox is in the image already"},
		{"wrongos", "built for EM_X86_64"},
	} {
		t.Run(tt.pkg, func(t *testing.T) {
			_, err := Build(context.Background(), b, filepath.Join(t.TempDir(), "img"),
				WithSmbox(smbox), WithUnits(""), WithoutKernelModules(), WithPackageSource(src), WithDeb(tt.pkg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// Without a source, an image that needs a package fails at once.
	_, err = Build(context.Background(), b, filepath.Join(t.TempDir(), "img"),
		WithSmbox(smbox), WithUnits(""), WithoutKernelModules(), WithDeb("tzdata"))
	if err == nil || !strings.Contains(err.Error(), "no source of Debian packages") {
		t.Errorf("no source: %v", err)
	}
}

// aptSource is the real source, when this machine can reach the private
// apt index (scripts/setup has run); CI must have it.
func aptSource(t *testing.T) *AptSource {
	t.Helper()
	root, err := FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("SYSMASTER_CACHE")
	_, aerr := exec.LookPath("apt-get")
	if cache == "" || aerr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no apt or SYSMASTER_CACHE for Debian packages")
		}
		t.Skip("needs apt-get and SYSMASTER_CACHE (run scripts/setup)")
	}
	return NewAptSource(root, cache)
}

// TestAptSource fetches real packages through scripts/fetch-deb.
func TestAptSource(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	src := aptSource(t)
	// A private cache, so the test proves the download, not an old copy;
	// the apt index itself is shared.
	cache := t.TempDir()
	if err := os.Symlink(filepath.Join(src.Cache, "apt"), filepath.Join(cache, "apt")); err != nil {
		t.Fatal(err)
	}
	src.Cache = cache
	ctx := context.Background()
	p, err := src.Package(ctx, "arm64", "bookworm", "busybox-static")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckBinary(filepath.Join(p.Root, "bin", "busybox"), "arm64"); err != nil {
		t.Errorf("busybox-static for arm64: %v", err)
	}
	// The second time it comes from the cache.
	again, err := src.Package(ctx, "arm64", "bookworm", "busybox-static")
	if err != nil || again.Root != p.Root {
		t.Errorf("second fetch: %v, root %v (was %v)", err, again, p.Root)
	}
	_, err = src.Package(ctx, "arm64", "bookworm", "no-such-package-sm")
	var npe *NoPackageError
	if !errors.As(err, &npe) || npe.Arch != "arm64" {
		t.Errorf("missing package: %v, want a NoPackageError", err)
	}
	// dropbear-bin depends on its libraries.
	d, err := src.Package(ctx, "arm64", "bookworm", "dropbear-bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"libc6", "libtomcrypt1", "zlib1g"} {
		if !slices.Contains(d.Depends, want) {
			t.Errorf("dropbear-bin depends %q lack %s", d.Depends, want)
		}
	}
}

func TestMaxSize(t *testing.T) {
	dir := t.TempDir()
	smbox := writeFile(t, filepath.Join(dir, "smbox"), strings.Repeat("s", 300<<10), 0o755)
	big := writeFile(t, filepath.Join(dir, "big"), strings.Repeat("b", 200<<10), 0o644)
	b := loadBoard(t, "qemu-x86_64")
	out := filepath.Join(dir, "out", "img.cpio")
	build := func(max board.Size, existing bool) error {
		bb := *b
		bb.MaxSize = max
		if existing {
			writeFile(t, out, "previous", 0o644)
		}
		_, err := Build(context.Background(), &bb, out, WithCompression(None), WithSmbox(smbox), WithUnits(""),
			WithoutKernelModules(), WithExtraFile(big, "/usr/share/big"))
		return err
	}
	if err := build(1<<20, false); err != nil {
		t.Fatalf("under the budget: %v", err)
	}
	err := build(400<<10, true)
	if err == nil {
		t.Fatal("an image over max_size was written")
	}
	for _, want := range []string{"build qemu-x86_64: image is ", "over max_size 400K (409600 bytes)",
		"largest files (uncompressed): /bin/smbox 300.0 KiB, /usr/share/big 200.0 KiB, /lib/devmaster/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	// Nothing half-written: the previous file is untouched, no temp left.
	if data, rerr := os.ReadFile(out); rerr != nil || string(data) != "previous" {
		t.Errorf("output after the failed build: %q, %v", data, rerr)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("left in the output folder: %v", ents)
	}
}

func TestLargest(t *testing.T) {
	tr := NewTree()
	for i := range 12 {
		if err := tr.AddFile(fmt.Sprintf("/f%02d", i), make([]byte, 100*i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := writeFile(t, filepath.Join(t.TempDir(), "host"), strings.Repeat("x", 5000), 0o644)
	if err := tr.AddHostFile("/host", src, 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := tr.Largest(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 10 || top[0] != (Contributor{"/host", 5000}) || top[1] != (Contributor{"/f11", 1100}) || top[9] != (Contributor{"/f03", 300}) {
		t.Errorf("Largest(10) = %v", top)
	}
}
