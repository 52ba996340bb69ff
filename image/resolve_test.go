package image

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dynELF is the content of a 64-bit little-endian ELF file with an
// optional PT_INTERP, and a .dynamic section with DT_NEEDED entries and a
// DT_RUNPATH (or DT_RPATH when rpath is set) linked to its .dynstr: what
// debug/elf and the resolver read, nothing more.
func dynELF(t *testing.T, machine elf.Machine, interp string, needed []string, runpath string, rpath bool) []byte {
	t.Helper()
	le := binary.LittleEndian
	var dynstr bytes.Buffer
	dynstr.WriteByte(0)
	str := func(s string) uint64 {
		off := dynstr.Len()
		dynstr.WriteString(s + "\x00")
		return uint64(off)
	}
	var dyn bytes.Buffer
	for _, n := range needed {
		binary.Write(&dyn, le, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: str(n)})
	}
	if runpath != "" {
		tag := elf.DT_RUNPATH
		if rpath {
			tag = elf.DT_RPATH
		}
		binary.Write(&dyn, le, elf.Dyn64{Tag: int64(tag), Val: str(runpath)})
	}
	binary.Write(&dyn, le, elf.Dyn64{Tag: int64(elf.DT_NULL)})
	shstr := []byte("\x00.dynstr\x00.dynamic\x00.shstrtab\x00")

	const ehsize, phsize, shsize = 64, 56, 64
	nprog := 0
	if interp != "" {
		nprog = 1
	}
	off := uint64(ehsize + phsize*nprog)
	interpOff := off
	if interp != "" {
		off += uint64(len(interp) + 1)
	}
	dynstrOff := off
	off += uint64(dynstr.Len())
	dynOff := (off + 7) &^ 7
	off = dynOff + uint64(dyn.Len())
	shstrOff := off
	off += uint64(len(shstr))
	shOff := (off + 7) &^ 7

	var buf bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	binary.Write(&buf, le, elf.Header64{Ident: ident, Type: uint16(elf.ET_DYN), Machine: uint16(machine), Version: 1,
		Phoff: ehsize, Shoff: shOff, Ehsize: ehsize, Phentsize: phsize, Phnum: uint16(nprog),
		Shentsize: shsize, Shnum: 4, Shstrndx: 3})
	if interp != "" {
		binary.Write(&buf, le, elf.Prog64{Type: uint32(elf.PT_INTERP), Off: interpOff, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1), Align: 1})
		buf.WriteString(interp + "\x00")
	}
	buf.Write(dynstr.Bytes())
	for uint64(buf.Len()) < dynOff {
		buf.WriteByte(0)
	}
	buf.Write(dyn.Bytes())
	buf.Write(shstr)
	for uint64(buf.Len()) < shOff {
		buf.WriteByte(0)
	}
	binary.Write(&buf, le, elf.Section64{})
	binary.Write(&buf, le, elf.Section64{Name: 1, Type: uint32(elf.SHT_STRTAB), Off: dynstrOff, Size: uint64(dynstr.Len()), Addralign: 1})
	binary.Write(&buf, le, elf.Section64{Name: 9, Type: uint32(elf.SHT_DYNAMIC), Off: dynOff, Size: uint64(dyn.Len()), Link: 1, Entsize: 16, Addralign: 8})
	binary.Write(&buf, le, elf.Section64{Name: 18, Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstr)), Addralign: 1})
	return buf.Bytes()
}

func TestReadELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	data := dynELF(t, elf.EM_AARCH64, "/lib/ld-linux-aarch64.so.1", []string{"libz.so.1", "libc.so.6"}, "$ORIGIN/../lib:/opt/lib", false)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	info, ok, err := readELF(p)
	if err != nil || !ok {
		t.Fatalf("readELF: %v %v", ok, err)
	}
	if info.machine != elf.EM_AARCH64 || info.interp != "/lib/ld-linux-aarch64.so.1" ||
		!slices.Equal(info.needed, []string{"libz.so.1", "libc.so.6"}) || !slices.Equal(info.runpath, []string{"$ORIGIN/../lib", "/opt/lib"}) || info.rpath != nil {
		t.Errorf("readELF = %+v", info)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := readELF(p); ok || err != nil {
		t.Errorf("a script: ok %v err %v", ok, err)
	}
}

// resolverWorld is a set of fake Debian packages for arm64 holding ELF
// files made by dynELF.
func resolverWorld(t *testing.T) *fakeSource {
	t.Helper()
	const ld = "/lib/ld-linux-aarch64.so.1"
	arm := func(interp string, needed ...string) string {
		return string(dynELF(t, elf.EM_AARCH64, interp, needed, "", false))
	}
	return &fakeSource{
		roots: map[string]string{
			"tool": fakePackage(t, map[string]string{
				"usr/bin/tool":            arm(ld, "libfoo.so.1", "libc.so.6"),
				"usr/bin/brokentool":      arm(ld, "libmissing.so.7"),
				"opt/app/bin/app":         string(dynELF(t, elf.EM_AARCH64, ld, []string{"libapp.so", "libc.so.6"}, "$ORIGIN/../lib", false)),
				"opt/app/lib/libapp.so":   arm("", "libc.so.6"),
				"usr/share/tool/data.txt": "not ELF",
			}),
			"libfoo1": fakePackage(t, map[string]string{
				"usr/lib/aarch64-linux-gnu/libfoo.so.1.2.3": arm("", "libc.so.6"),
				"usr/lib/aarch64-linux-gnu/libfoo.so.1":     "->libfoo.so.1.2.3",
			}),
			"libc6": fakePackage(t, map[string]string{
				"lib/ld-linux-aarch64.so.1":                   "->aarch64-linux-gnu/ld-linux-aarch64.so.1",
				"lib/aarch64-linux-gnu/ld-linux-aarch64.so.1": string(dynELF(t, elf.EM_AARCH64, "", nil, "", false)),
				"lib/aarch64-linux-gnu/libc.so.6":             arm("", "ld-linux-aarch64.so.1"),
			}),
			// An x86 library where an arm one is looked for: skipped.
			"wrongarch": fakePackage(t, map[string]string{
				"usr/lib/aarch64-linux-gnu/libmissing.so.7": string(dynELF(t, elf.EM_X86_64, "", nil, "", false)),
			}),
			// systemd's layout: a private library folder in the
			// executables' RUNPATH, one library there needing another.
			"svc": fakePackage(t, map[string]string{
				"usr/bin/svc": string(dynELF(t, elf.EM_AARCH64, ld, []string{"libcore.so", "libshared.so", "libc.so.6"}, "/usr/lib/aarch64-linux-gnu/svc", false)),
				"usr/lib/aarch64-linux-gnu/svc/libcore.so":   arm("", "libshared.so", "libc.so.6"),
				"usr/lib/aarch64-linux-gnu/svc/libshared.so": arm("", "libc.so.6"),
			}),
			// The same, but the executable does not load libshared.so
			// itself, so ld.so would not find it for libcore.so.
			"svconly": fakePackage(t, map[string]string{
				"usr/bin/svconly":                            string(dynELF(t, elf.EM_AARCH64, ld, []string{"libcore.so", "libc.so.6"}, "/usr/lib/aarch64-linux-gnu/svc", false)),
				"usr/lib/aarch64-linux-gnu/svc/libcore.so":   arm("", "libshared.so", "libc.so.6"),
				"usr/lib/aarch64-linux-gnu/svc/libshared.so": arm("", "libc.so.6"),
			}),
			"musl": fakePackage(t, map[string]string{
				"lib/ld-musl-aarch64.so.1":           "->/usr/lib/aarch64-linux-musl/libc.so",
				"usr/lib/aarch64-linux-musl/libc.so": string(dynELF(t, elf.EM_AARCH64, "", nil, "", false)),
			}),
		},
		depends: map[string][]string{
			"tool":    {"libfoo1", "libc6", "wrongarch", "virtual-only"},
			"libfoo1": {"libc6"},
			"svc":     {"libc6"},
			"svconly": {"libc6"},
		},
	}
}

func TestResolve(t *testing.T) {
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	b := loadBoard(t, "qemu-aarch64")
	tmp := t.TempDir()
	muslBin := writeFile(t, filepath.Join(tmp, "muslbin"), string(dynELF(t, elf.EM_AARCH64, "/lib/ld-musl-aarch64.so.1", []string{"libc.so", "libz.so.1"}, "", false)), 0o755)
	libz := writeFile(t, filepath.Join(tmp, "libz.so.1"), string(dynELF(t, elf.EM_AARCH64, "", []string{"libc.so"}, "", false)), 0o755)
	glibcExtra := writeFile(t, filepath.Join(tmp, "hello"), string(dynELF(t, elf.EM_AARCH64, "/lib/ld-linux-aarch64.so.1", []string{"libc.so.6"}, "", false)), 0o755)
	rpathBin := writeFile(t, filepath.Join(tmp, "rp"), string(dynELF(t, elf.EM_AARCH64, "/lib/ld-linux-aarch64.so.1", []string{"libc.so.6", "libr.so"}, "/opt/r", true)), 0o755)
	libr := writeFile(t, filepath.Join(tmp, "libr.so"), string(dynELF(t, elf.EM_AARCH64, "", nil, "", false)), 0o755)

	tests := []struct {
		name       string
		opts       []Option
		want       []string // regular files in the image
		notWant    []string
		wantFetch  []string // packages asked for, in order
		wantErr    []string
		staticOnly bool
	}{
		{
			name: "libraries from the package's dependencies, at their multiarch paths",
			opts: []Option{WithDeb("tool")},
			want: []string{"usr/bin/tool", "lib/ld-linux-aarch64.so.1", "usr/lib/aarch64-linux-gnu/libfoo.so.1",
				"lib/aarch64-linux-gnu/libc.so.6", "opt/app/lib/libapp.so"},
			// Only what is needed, not the whole packages.
			notWant: []string{"lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "usr/lib/aarch64-linux-gnu/libfoo.so.1.2.3"},
		},
		{
			name:      "a glibc extra brings libc6",
			opts:      []Option{WithExtraFile(glibcExtra, "/usr/bin/hello")},
			want:      []string{"usr/bin/hello", "lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/libc.so.6"},
			wantFetch: []string{"libc6"},
		},
		{
			name:      "musl: the loader is its libc, other libraries in the image are used",
			opts:      []Option{WithExtraFile(muslBin, "/usr/bin/m"), WithExtraFile(libz, "/usr/lib/libz.so.1")},
			want:      []string{"usr/bin/m", "lib/ld-musl-aarch64.so.1", "usr/lib/libz.so.1"},
			notWant:   []string{"usr/lib/aarch64-linux-musl/libc.so"},
			wantFetch: []string{"musl"},
		},
		{
			name:    "musl library missing",
			opts:    []Option{WithExtraFile(muslBin, "/usr/bin/m")},
			wantErr: []string{muslBin + ": needs libz.so.1: not in the image", "/lib/libz.so.1, /usr/local/lib/libz.so.1, /usr/lib/libz.so.1"},
		},
		{
			name: "a library needing one its executable loaded through RUNPATH",
			opts: []Option{WithDeb("svc")},
			want: []string{"usr/bin/svc", "usr/lib/aarch64-linux-gnu/svc/libcore.so", "usr/lib/aarch64-linux-gnu/svc/libshared.so",
				"lib/aarch64-linux-gnu/libc.so.6"},
		},
		{
			name:    "a library needing one only a RUNPATH it lacks would find",
			opts:    []Option{WithDeb("svconly")},
			wantErr: []string{"/usr/lib/aarch64-linux-gnu/svc/libcore.so: needs libshared.so: not in the image"},
		},
		{
			name: "DT_RPATH",
			opts: []Option{WithExtraFile(rpathBin, "/usr/bin/rp"), WithExtraFile(libr, "/opt/r/libr.so")},
			want: []string{"usr/bin/rp", "opt/r/libr.so", "lib/aarch64-linux-gnu/libc.so.6"},
		},
		{
			name: "a missing library names the binary and the library",
			opts: []Option{WithDeb("tool")},
			wantErr: []string{"/usr/bin/brokentool (package tool): needs libmissing.so.7: not in the image",
				"in the Debian packages tool, libfoo1, libc6, wrongarch (looked for /lib/aarch64-linux-gnu/libmissing.so.7,"},
		},
		{
			name:       "--static-only refuses a dynamic binary",
			opts:       []Option{WithExtraFile(glibcExtra, "/usr/bin/hello"), WithStaticOnly()},
			wantErr:    []string{glibcExtra + ": dynamically linked (interpreter \"/lib/ld-linux-aarch64.so.1\", libraries libc.so.6); --static-only"},
			staticOnly: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := resolverWorld(t)
			// The broken binary fails the first case otherwise.
			if tt.wantErr == nil {
				os.Remove(filepath.Join(src.roots["tool"], "usr/bin/brokentool"))
			}
			out := filepath.Join(t.TempDir(), "img.cpio")
			opts := append([]Option{WithCompression(None), WithSmbox(smbox), WithUnits(""), WithoutKernelModules(), WithPackageSource(src)}, tt.opts...)
			_, err := Build(context.Background(), b, out, opts...)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				if _, serr := os.Stat(out); serr == nil {
					t.Errorf("a failed build left %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := entryMap(t, out)
			for _, p := range tt.want {
				if e, ok := m[p]; !ok || !e.Mode.IsRegular() {
					t.Errorf("image lacks the file %s", p)
				}
			}
			for _, p := range tt.notWant {
				if _, ok := m[p]; ok {
					t.Errorf("image has %s", p)
				}
			}
			if tt.wantFetch != nil && !slices.Equal(src.asked, tt.wantFetch) {
				t.Errorf("fetched %q, want %q", src.asked, tt.wantFetch)
			}
		})
	}
}

// TestResolveDebianDropbear resolves Debian's dropbear (a dynamic arm64
// binary) from its real package: every library it needs, and what those
// need, must end up in the image, checked here with debug/elf alone.
func TestResolveDebianDropbear(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	src := aptSource(t)
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	b := loadBoard(t, "qemu-aarch64")
	out := filepath.Join(t.TempDir(), "img.cpio")
	var log bytes.Buffer
	_, err := Build(context.Background(), b, out, WithCompression(None), WithSmbox(smbox), WithUnits(""),
		WithoutKernelModules(), WithPackageSource(src), WithDeb("dropbear-bin"), WithProgress(&log))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	dir := t.TempDir()
	extract(t, out, dir)
	// The loader's own view: /lib/ld-linux-aarch64.so.1 and glibc's default
	// folders, no ld.so.cache.
	dirs := []string{"lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib"}
	for _, bin := range []string{"usr/sbin/dropbear", "usr/bin/dbclient", "usr/bin/dropbearkey"} {
		ef, err := elf.Open(filepath.Join(dir, bin))
		if err != nil {
			t.Fatal(err)
		}
		if ef.Machine != elf.EM_AARCH64 {
			t.Errorf("%s: machine %v", bin, ef.Machine)
		}
		ef.Close()
		seen := map[string]bool{}
		var walk func(file string)
		walk = func(file string) {
			ef, err := elf.Open(file)
			if err != nil {
				t.Errorf("%s: %v", file, err)
				return
			}
			defer ef.Close()
			libs, err := ef.ImportedLibraries()
			if err != nil {
				t.Errorf("%s: %v", file, err)
				return
			}
			for _, lib := range libs {
				if seen[lib] {
					continue
				}
				seen[lib] = true
				found := ""
				for _, d := range dirs {
					if fi, err := os.Stat(filepath.Join(dir, d, lib)); err == nil && fi.Mode().IsRegular() {
						found = filepath.Join(dir, d, lib)
						break
					}
				}
				if found == "" {
					t.Errorf("%s needs %s, which is not in the image's library folders", path.Base(file), lib)
					continue
				}
				walk(found)
			}
		}
		walk(filepath.Join(dir, bin))
		for _, want := range []string{"libc.so.6", "libtomcrypt.so.1", "libz.so.1"} {
			if bin == "usr/sbin/dropbear" && !seen[want] {
				t.Errorf("dropbear does not need %s? needed: %v", want, seen)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "lib/ld-linux-aarch64.so.1")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("no interpreter at /lib/ld-linux-aarch64.so.1: %v", err)
	}
	ld, err := elf.Open(filepath.Join(dir, "lib/ld-linux-aarch64.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	ld.Close()
	if ld.Machine != elf.EM_AARCH64 {
		t.Errorf("interpreter for %v", ld.Machine)
	}
}

// extract unpacks the regular files and links of a cpio image into dir.
func extract(t *testing.T, image, dir string) {
	t.Helper()
	f, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = Walk(f, func(e Entry, data io.Reader) error {
		p := filepath.Join(dir, filepath.FromSlash(e.Name))
		switch {
		case e.Mode.IsDir():
			return os.MkdirAll(p, 0o755)
		case e.Mode&fs.ModeSymlink != 0:
			return os.Symlink(e.Linkname, p)
		case e.Mode.IsRegular():
			b, err := io.ReadAll(data)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b, 0o755)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestResolveDebianMusl resolves a musl-linked arm64 binary against
// Debian's real musl package, whose loader is an absolute link to its libc.
func TestResolveDebianMusl(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	src := aptSource(t)
	dir := t.TempDir()
	smbox := writeFile(t, filepath.Join(dir, "smbox"), "fake\n", 0o755)
	bin := writeFile(t, filepath.Join(dir, "hello"), string(dynELF(t, elf.EM_AARCH64, "/lib/ld-musl-aarch64.so.1", []string{"libc.so"}, "", false)), 0o755)
	out := filepath.Join(dir, "img.cpio")
	_, err := Build(context.Background(), loadBoard(t, "qemu-aarch64"), out, WithCompression(None), WithSmbox(smbox),
		WithUnits(""), WithoutKernelModules(), WithPackageSource(src), WithExtraFile(bin, "/usr/bin/hello"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extract(t, out, root)
	ld, err := elf.Open(filepath.Join(root, "lib/ld-musl-aarch64.so.1"))
	if err != nil {
		t.Fatalf("no musl loader in the image: %v", err)
	}
	defer ld.Close()
	// musl's libc.so is its loader: a shared object with a dynamic symbol
	// table, for arm64.
	if ld.Machine != elf.EM_AARCH64 || ld.Type != elf.ET_DYN {
		t.Errorf("loader: %v %v", ld.Machine, ld.Type)
	}
	if syms, err := ld.DynamicSymbols(); err != nil || len(syms) < 100 {
		t.Errorf("loader has %d dynamic symbols (%v): not musl's libc", len(syms), err)
	}
}

// Packages and the libraries they bring give the same bytes every build.
func TestResolveReproducible(t *testing.T) {
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	b := loadBoard(t, "qemu-aarch64")
	var images [2][]byte
	for i := range images {
		src := resolverWorld(t)
		os.Remove(filepath.Join(src.roots["tool"], "usr/bin/brokentool"))
		out := filepath.Join(t.TempDir(), "img.cpio.zst")
		if _, err := Build(context.Background(), b, out, WithCompression(Zstd), WithSmbox(smbox), WithUnits(""),
			WithoutKernelModules(), WithPackageSource(src), WithDeb("tool")); err != nil {
			t.Fatal(err)
		}
		var err error
		if images[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Error("two builds with the same packages differ")
	}
}

// TestResolveLoaderOnce: x86-64's loader lives in /lib64, outside glibc's
// folders; libc's DT_NEEDED on it is the loaded interpreter, not a second
// copy from /lib/x86_64-linux-gnu.
func TestResolveLoaderOnce(t *testing.T) {
	const ld = "/lib64/ld-linux-x86-64.so.2"
	x86 := func(interp string, needed ...string) string {
		return string(dynELF(t, elf.EM_X86_64, interp, needed, "", false))
	}
	src := &fakeSource{roots: map[string]string{
		"tool": fakePackage(t, map[string]string{"usr/bin/tool": x86(ld, "libc.so.6")}),
		"libc6": fakePackage(t, map[string]string{
			"lib64/ld-linux-x86-64.so.2":                "->/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
			"lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": x86(""),
			"lib/x86_64-linux-gnu/libc.so.6":            x86("", "ld-linux-x86-64.so.2"),
		}),
	}, depends: map[string][]string{"tool": {"libc6"}}}
	smbox := writeFile(t, filepath.Join(t.TempDir(), "smbox"), "fake\n", 0o755)
	out := filepath.Join(t.TempDir(), "img.cpio")
	_, err := Build(context.Background(), loadBoard(t, "qemu-x86_64"), out, WithCompression(None), WithSmbox(smbox), WithUnits(""),
		WithoutKernelModules(), WithPackageSource(src), WithDeb("tool"))
	if err != nil {
		t.Fatal(err)
	}
	m := entryMap(t, out)
	for _, p := range []string{"usr/bin/tool", "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6"} {
		if e, ok := m[p]; !ok || !e.Mode.IsRegular() {
			t.Errorf("image lacks the file %s", p)
		}
	}
	if _, ok := m["lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"]; ok {
		t.Error("image has a second copy of the loader in /lib/x86_64-linux-gnu")
	}
}
