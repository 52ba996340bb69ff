package image

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/units"
	"github.com/sysmaster-go/sysmaster/units/system"
)

// fakeELF writes a minimal ELF executable header for machine, with a
// PT_INTERP segment naming interp when it is not empty.
func fakeELF(t *testing.T, name string, machine elf.Machine, class elf.Class, interp string) string {
	t.Helper()
	var buf bytes.Buffer
	le := binary.LittleEndian
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	nprog := uint16(0)
	if interp != "" {
		nprog = 1
	}
	if class == elf.ELFCLASS64 {
		hdr := elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: 1,
			Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: nprog, Shentsize: 64}
		binary.Write(&buf, le, hdr)
		if interp != "" {
			binary.Write(&buf, le, elf.Prog64{Type: uint32(elf.PT_INTERP), Off: 64 + 56, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1), Align: 1})
		}
	} else {
		hdr := elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: 1,
			Phoff: 52, Ehsize: 52, Phentsize: 32, Phnum: nprog, Shentsize: 40}
		binary.Write(&buf, le, hdr)
		if interp != "" {
			binary.Write(&buf, le, elf.Prog32{Type: uint32(elf.PT_INTERP), Off: 52 + 32, Filesz: uint32(len(interp) + 1), Memsz: uint32(len(interp) + 1), Align: 1})
		}
	}
	if interp != "" {
		buf.WriteString(interp + "\x00")
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, p, data string, perm fs.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadBoard(t *testing.T, name string) *board.Board {
	t.Helper()
	b, err := board.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entryMap(t *testing.T, path string) map[string]Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := Inspect(f)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]Entry, len(entries))
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}

func TestBuildReproducible(t *testing.T) {
	b := loadBoard(t, "qemu-x86_64")
	dir := t.TempDir()
	smbox := writeFile(t, filepath.Join(dir, "smbox"), "fake smbox\n", 0o755)
	units := filepath.Join(dir, "units")
	writeFile(t, filepath.Join(units, "b.service.toml"), "[Service]\nExecStart = \"/bin/b\"\n", 0o600)
	writeFile(t, filepath.Join(units, "a.target.toml"), "[Unit]\n", 0o644)
	writeFile(t, filepath.Join(units, "unit.go"), "package units\n", 0o644)
	busybox := fakeELF(t, "busybox", elf.EM_X86_64, elf.ELFCLASS64, "")
	tool := fakeELF(t, "tool", elf.EM_X86_64, elf.ELFCLASS64, "")
	mtime := time.Unix(1700000000, 0)

	for _, c := range Compressions() {
		t.Run(string(c), func(t *testing.T) {
			var outs [2]string
			for i := range outs {
				var progress bytes.Buffer
				outs[i] = filepath.Join(t.TempDir(), "sub", "initramfs.cpio"+c.Ext())
				res, err := Build(context.Background(), b, outs[i],
					WithCompression(c), WithMtime(mtime), WithSmbox(smbox), WithUnits(units), WithoutKernelModules(),
					WithBusybox(busybox), WithExtraFile(tool, "/usr/bin/tool"),
					WithFile("/etc/hostname", []byte("box\n"), 0o644),
					WithFile("/etc/motd", []byte("replaced\n"), 0o644),
					WithFile("/etc/motd", []byte("hello\n"), 0o600),
					WithProgress(&progress))
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(outs[i])
				if err != nil {
					t.Fatal(err)
				}
				if res.Path != outs[i] || res.CompressedBytes != fi.Size() || res.Compression != c {
					t.Errorf("result %+v, file size %d", res, fi.Size())
				}
				if c == None && res.RawBytes != res.CompressedBytes {
					t.Errorf("uncompressed: raw %d != written %d", res.RawBytes, res.CompressedBytes)
				}
				if !strings.Contains(progress.String(), "files,") {
					t.Errorf("no summary in progress output:\n%s", progress.String())
				}
				m := entryMap(t, outs[i])
				if len(m) != res.Files {
					t.Errorf("Files = %d, archive has %d", res.Files, len(m))
				}
			}
			a, err := os.ReadFile(outs[0])
			if err != nil {
				t.Fatal(err)
			}
			bb, err := os.ReadFile(outs[1])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, bb) {
				t.Fatal("two builds from the same inputs differ")
			}
			checkLayout(t, entryMap(t, outs[0]), mtime)
		})
	}
}

func checkLayout(t *testing.T, m map[string]Entry, mtime time.Time) {
	t.Helper()
	for _, l := range AppletLinks() {
		if e := m[strings.TrimPrefix(l, "/")]; e.Mode&fs.ModeSymlink == 0 || e.Linkname != "/bin/smbox" {
			t.Errorf("%s: %+v, want a link to /bin/smbox", l, e)
		}
	}
	if _, ok := m[ModprobeLink[1:]]; ok {
		t.Errorf("%s is in the initramfs: init links it", ModprobeLink)
	}
	for _, a := range BusyboxApplets() {
		if e := m["bin/"+a]; e.Mode&fs.ModeSymlink == 0 || e.Linkname != "/bin/busybox" {
			t.Errorf("bin/%s: %+v, want a link to /bin/busybox", a, e)
		}
	}
	want := map[string]fs.FileMode{
		"bin/smbox":                             0o755,
		"bin/busybox":                           0o755,
		"usr/bin/tool":                          0o755,
		"etc/hostname":                          0o644,
		"etc/motd":                              0o600,
		"etc/sysmaster/units":                   fs.ModeDir | 0o755,
		"etc/sysmaster/units/a.target.toml":     0o644,
		"etc/sysmaster/units/b.service.toml":    0o644,
		"dev/console":                           fs.ModeDevice | fs.ModeCharDevice | 0o600,
		"dev/null":                              fs.ModeDevice | fs.ModeCharDevice | 0o666,
		"tmp":                                   fs.ModeDir | fs.ModeSticky | 0o777,
		"proc":                                  fs.ModeDir | 0o755,
		"lib/devmaster/rules.d/50-default.toml": 0o644,
		"etc/sysmaster/network/50-default.toml": 0o644,
	}
	for p, mode := range want {
		e, ok := m[p]
		if !ok || e.Mode != mode {
			t.Errorf("%s: %+v, want mode %v", p, e, mode)
		}
	}
	if e := m["etc/motd"]; e.Size != int64(len("hello\n")) {
		t.Errorf("etc/motd: size %d: the later WithFile should win", e.Size)
	}
	if _, ok := m["etc/sysmaster/units/unit.go"]; ok {
		t.Error("a non-TOML file was copied from the units folder")
	}
	for _, e := range m {
		if !e.ModTime.Equal(mtime) || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: mtime %v owner %d:%d", e.Name, e.ModTime, e.UID, e.GID)
		}
	}
}

func TestBuildDefaults(t *testing.T) {
	b := loadBoard(t, "qemu-aarch64")
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/x\n", 0o644)
	writeFile(t, filepath.Join(root, "units", "x.service.toml"), "[Service]\nExecStart = \"/bin/x\"\n", 0o644)
	smbox := fakeELF(t, "smbox", elf.EM_AARCH64, elf.ELFCLASS64, "")
	t.Setenv("SOURCE_DATE_EPOCH", "1234567890")

	out := filepath.Join(t.TempDir(), "initramfs")
	res, err := Build(context.Background(), b, out, WithSmbox(smbox), WithModuleRoot(root), WithoutKernelModules())
	if err != nil {
		t.Fatal(err)
	}
	if want := Compression(b.Compression); res.Compression != want {
		t.Errorf("compression %q, want the board's %q", res.Compression, want)
	}
	m := entryMap(t, out)
	if _, ok := m["etc/sysmaster/units/x.service.toml"]; !ok {
		t.Error("units from the module root's units/ missing")
	}
	if e := m["init"]; !e.ModTime.Equal(time.Unix(1234567890, 0)) {
		t.Errorf("mtime %v, want SOURCE_DATE_EPOCH", e.ModTime)
	}
	for _, p := range []string{"etc/sysmaster/system.toml", "etc/hostname"} {
		if _, ok := m[p]; ok {
			t.Errorf("%s written for a board that does not set it", p)
		}
	}
	if e := m["etc/sysmaster/build-time"]; e.Size != int64(len("1234567890\n")) {
		t.Errorf("build-time: %+v, want SOURCE_DATE_EPOCH", e)
	}
	// A board's [system] table becomes the image's system.toml, its
	// hostname /etc/hostname.
	b.System.Manager.RuntimeWatchdogSec = units.Duration(30 * time.Second)
	b.Hostname = "gateway-1"
	if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithModuleRoot(root), WithoutKernelModules()); err != nil {
		t.Fatal(err)
	}
	m = entryMap(t, out)
	if e, ok := m["etc/sysmaster/system.toml"]; !ok || e.Size != int64(len(b.System.Encode())) {
		t.Errorf("system.toml from the board's [system]: %+v, present %v", e, ok)
	}
	if e := m["etc/hostname"]; e.Size != int64(len("gateway-1\n")) {
		t.Errorf("hostname: %+v", e)
	}
	b.System, b.Hostname = system.Config{}, ""

	t.Setenv("SOURCE_DATE_EPOCH", "soon")
	if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithModuleRoot(root), WithoutKernelModules()); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: err = %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	b := loadBoard(t, "qemu-x86_64")
	tmp := t.TempDir()
	smbox := writeFile(t, filepath.Join(tmp, "smbox"), "fake\n", 0o755)
	regular := writeFile(t, filepath.Join(tmp, "regular"), "x", 0o644)
	dynamic := fakeELF(t, "dyn", elf.EM_X86_64, elf.ELFCLASS64, "/lib64/ld-linux-x86-64.so.2")
	arm := fakeELF(t, "arm", elf.EM_ARM, elf.ELFCLASS32, "")

	tests := []struct {
		name     string
		out      string // relative to a fresh temp dir unless absolute
		existing bool   // a file is at out before the build
		opts     []Option
		wantErr  []string
	}{
		{name: "output under a regular file", out: filepath.Join(regular, "initramfs.cpio"),
			opts: []Option{WithSmbox(smbox)}, wantErr: []string{"output", regular, "not a directory"}},
		{name: "synthetic dynamic extra", out: "o.cpio",
			opts:    []Option{WithSmbox(smbox), WithExtraFile(dynamic, "/bin/dyn")},
			wantErr: []string{dynamic, "needs /lib64/ld-linux-x86-64.so.2", "not in the image", "no source of Debian packages"}},
		{name: "dynamic extra, static only", out: "o.cpio",
			opts:    []Option{WithSmbox(smbox), WithExtraFile(dynamic, "/bin/dyn"), WithStaticOnly()},
			wantErr: []string{dynamic, "dynamically linked", "/lib64/ld-linux-x86-64.so.2", "--static-only"}},
		{name: "wrong arch extra", out: "o.cpio", existing: true,
			opts:    []Option{WithSmbox(smbox), WithExtraFile(arm, "/bin/arm")},
			wantErr: []string{arm, "EM_ARM", "amd64", "EM_X86_64"}},
		{name: "wrong arch busybox", out: "o.cpio",
			opts: []Option{WithSmbox(smbox), WithBusybox(arm)}, wantErr: []string{arm, "EM_ARM"}},
		{name: "wrong arch smbox", out: "o.cpio",
			opts: []Option{WithSmbox(arm)}, wantErr: []string{arm, "EM_ARM"}},
		{name: "missing smbox", out: "o.cpio",
			opts: []Option{WithSmbox(filepath.Join(tmp, "nope"))}, wantErr: []string{"nope", "no such file"}},
		{name: "missing extra", out: "o.cpio",
			opts: []Option{WithSmbox(smbox), WithExtraFile(filepath.Join(tmp, "nope"), "/x")}, wantErr: []string{"nope"}},
		{name: "missing units", out: "o.cpio",
			opts: []Option{WithSmbox(smbox), WithUnits(filepath.Join(tmp, "nope"))}, wantErr: []string{"units", "nope"}},
		{name: "bad compression", out: "o.cpio",
			opts: []Option{WithSmbox(smbox), WithCompression("bzip2")}, wantErr: []string{"bzip2"}},
		{name: "file under a file", out: "o.cpio",
			opts: []Option{WithSmbox(smbox), WithFile("/bin/smbox/x", nil, 0o644)}, wantErr: []string{"bin/smbox", "not a directory"}},
		{name: "bad device rule", out: "o.cpio", existing: true,
			opts:    []Option{WithSmbox(smbox), WithFile("/etc/devmaster/rules.d/60-x.toml", []byte("[[rule]]\nsubsystem = \"tty\"\nmode = \"0999\"\n"), 0o644)},
			wantErr: []string{"60-x.toml:3", "mode"}},
		{name: "bad network file", out: "o.cpio", existing: true,
			opts:    []Option{WithSmbox(smbox), WithFile("/etc/sysmaster/network/60-x.toml", []byte("dhcp = \"ipv4\"\n[match]\nnmae = \"eth0\"\n"), 0o644)},
			wantErr: []string{"60-x.toml:3", "match.nmae", "did you mean name?"}},
		{name: "mtime before 1970", out: "o.cpio", existing: true,
			opts: []Option{WithSmbox(smbox), WithMtime(time.Unix(-5, 0))}, wantErr: []string{"mtime"}},
	}
	if fi, err := os.Stat("/bin/ls"); err == nil && fi.Mode().IsRegular() {
		tests = append(tests, struct {
			name     string
			out      string
			existing bool
			opts     []Option
			wantErr  []string
		}{name: "host /bin/ls", out: "o.cpio", opts: []Option{WithSmbox(smbox), WithExtraFile("/bin/ls", "/bin/ls")},
			wantErr: []string{"/bin/ls", "needs /lib64/ld-linux-x86-64.so.2"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := tt.out
			if !filepath.IsAbs(out) {
				out = filepath.Join(dir, out)
			}
			if tt.existing {
				writeFile(t, out, "previous", 0o644)
			}
			opts := append([]Option{WithUnits(""), WithoutKernelModules()}, tt.opts...)
			_, err := Build(context.Background(), b, out, opts...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if tt.existing {
				if data, err := os.ReadFile(out); err != nil || string(data) != "previous" {
					t.Errorf("existing output changed: %q, %v", data, err)
				}
			} else if _, err := os.Lstat(out); err == nil {
				t.Errorf("something is left at %s", out)
			}
			if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) > 0 && !tt.existing {
				t.Errorf("left in the output dir: %v", ents)
			}
		})
	}
}

func TestCheckBinary(t *testing.T) {
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		goarch  string
		wantErr string
	}{
		{"script", func(t *testing.T) string { return writeFile(t, filepath.Join(t.TempDir(), "s"), "#!/bin/sh\n", 0o755) }, "amd64", ""},
		{"empty", func(t *testing.T) string { return writeFile(t, filepath.Join(t.TempDir(), "e"), "", 0o755) }, "amd64", ""},
		{"static amd64", func(t *testing.T) string { return fakeELF(t, "x", elf.EM_X86_64, elf.ELFCLASS64, "") }, "amd64", ""},
		{"static arm", func(t *testing.T) string { return fakeELF(t, "x", elf.EM_ARM, elf.ELFCLASS32, "") }, "arm", ""},
		{"static riscv64", func(t *testing.T) string { return fakeELF(t, "x", elf.EM_RISCV, elf.ELFCLASS64, "") }, "riscv64", ""},
		{"aarch64 on arm", func(t *testing.T) string { return fakeELF(t, "x", elf.EM_AARCH64, elf.ELFCLASS64, "") }, "arm", "EM_AARCH64"},
		{"dynamic arm64", func(t *testing.T) string {
			return fakeELF(t, "x", elf.EM_AARCH64, elf.ELFCLASS64, "/lib/ld-linux-aarch64.so.1")
		}, "arm64", "needs /lib/ld-linux-aarch64.so.1"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "amd64", "no such file"},
		{"unknown arch", func(t *testing.T) string { return fakeELF(t, "x", elf.EM_MIPS, elf.ELFCLASS32, "") }, "mips", "GOARCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.path(t), tt.goarch)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestBuildCrossCompile really compiles smbox for arm64: from a tiny
// module, and from this module once it has its main package.
func TestBuildCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles smbox")
	}
	repo, err := FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tiny := t.TempDir()
	writeFile(t, filepath.Join(tiny, "go.mod"), "module example.com/tiny\n\ngo 1.21\n", 0o644)
	writeFile(t, filepath.Join(tiny, "main.go"), "package main\n\nfunc main() { println(\"hi\") }\n", 0o644)

	tests := []struct {
		name, root  string
		mayLackMain bool
	}{
		{"tiny module", tiny, false},
		{"this module", repo, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "initramfs.cpio.zst")
			_, err := Build(context.Background(), loadBoard(t, "qemu-aarch64"), out,
				WithModuleRoot(tt.root), WithCompression(Zstd), WithUnits(""), WithoutKernelModules())
			if err != nil && tt.mayLackMain && strings.Contains(err.Error(), "no Go files") {
				t.Skipf("the module has no main package yet: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSmboxELF(t, out, elf.EM_AARCH64)
		})
	}
}

func checkSmboxELF(t *testing.T, out string, machine elf.Machine) {
	t.Helper()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, _, err := Decompress(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := cpio.NewReader(rc)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("bin/smbox not in the archive")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "bin/smbox" {
			continue
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("bin/smbox: %v", err)
		}
		if ef.Machine != machine {
			t.Errorf("bin/smbox is %v, want %v", ef.Machine, machine)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("bin/smbox has PT_INTERP: not static")
			}
		}
		return
	}
}
