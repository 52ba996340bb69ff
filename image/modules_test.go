package image

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
)

// fakeKO returns a minimal relocatable ELF64 for machine whose .modinfo
// section holds info, the way the kernel's modpost lays it out.
func fakeKO(machine elf.Machine, info ...string) []byte {
	le := binary.LittleEndian
	modinfo := []byte(strings.Join(info, "\x00") + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const hdrSize, shSize = 64, 64
	infoOff := uint64(hdrSize)
	strOff := infoOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstrtab)) + 7) &^ 7
	var buf bytes.Buffer
	binary.Write(&buf, le, elf.Header64{
		Ident:   [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:    uint16(elf.ET_REL),
		Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: hdrSize, Shentsize: shSize, Shnum: 3, Shstrndx: 2,
	})
	buf.Write(modinfo)
	buf.Write(shstrtab)
	buf.Write(make([]byte, shOff-uint64(buf.Len())))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: infoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&buf, le, sh)
	}
	return buf.Bytes()
}

// writeKO writes a fake module at dir/rel, compressed as its name says.
func writeKO(t *testing.T, dir, rel string, machine elf.Machine, info ...string) {
	t.Helper()
	data := fakeKO(machine, info...)
	comp := None
	switch filepath.Ext(rel) {
	case ".xz":
		comp = XZ
	case ".zst":
		comp = Zstd
	case ".gz":
		comp = Gzip
	}
	if comp != None {
		var buf bytes.Buffer
		zw, err := NewCompressor(&buf, comp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	writeFile(t, filepath.Join(dir, rel), string(data), 0o644)
}

// fakeModuleTree lays out a small lib/modules/VERSION with the shapes a
// Debian tree has: chains of depends=, softdeps by name and by alias,
// compressed files, a dash in a file name and built-in modules.
func fakeModuleTree(t *testing.T, machine elf.Machine) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib", "modules", "6.1.0-test-amd64")
	mods := []struct {
		rel  string
		info []string
	}{
		{"kernel/drivers/virtio/virtio.ko", []string{"name=virtio", "depends="}},
		{"kernel/drivers/virtio/virtio_ring.ko", []string{"name=virtio_ring", "depends=virtio"}},
		{"kernel/drivers/virtio/virtio_pci.ko", []string{"alias=pci:v00001AF4d*sv*sd*bc*sc*i*", "depends=virtio_ring,virtio"}},
		{"kernel/net/core/failover.ko", []string{"depends="}},
		{"kernel/drivers/net/net_failover.ko", []string{"depends=failover"}},
		{"kernel/drivers/net/virtio_net.ko.xz", []string{"license=GPL", "alias=virtio:d00000001v*", "depends=virtio_ring,virtio,net_failover", "vermagic=6.1.0-test SMP"}},
		{"kernel/drivers/char/hw_random/virtio-rng.ko.zst", []string{"alias=virtio:d00000004v*", "depends=virtio,virtio_ring"}},
		{"kernel/drivers/block/virtio_blk.ko.gz", []string{"alias=virtio:d00000002v*", "depends=virtio_ring,virtio"}},
		{"kernel/drivers/net/e1000.ko", []string{"alias=pci:v00008086d0000100Esv*sd*bc*sc*i*", "alias=pci:v00008086d0000100Fsv*sd*bc*sc*i*", "depends="}},
		{"kernel/drivers/acpi/button.ko", []string{"alias=acpi*:PNP0C0C:*", "depends="}},
		{"kernel/net/netfilter/xt_LOG.ko", []string{"softdep=pre: nf_log_syslog", "depends="}},
		{"kernel/net/netfilter/nf_log_syslog.ko", []string{"depends="}},
		{"kernel/net/sched/act_mpls.ko", []string{"softdep=post: mpls_gso", "depends="}},
		{"kernel/net/mpls/mpls_gso.ko", []string{"depends="}},
		{"kernel/fs/smb/ksmbd.ko", []string{"softdep=pre: crc32", "softdep=pre: gone", "softdep=post: crypto-md5", "depends="}},
		{"kernel/crypto/md5.ko", []string{"alias=crypto-md5", "alias=md5", "depends="}},
		{"kernel/drivers/misc/broken.ko", []string{"depends=virtio,missing_dep"}},
		{"kernel/drivers/misc/loop_a.ko", []string{"depends=loop_b"}},
		{"kernel/drivers/misc/loop_b.ko", []string{"depends=loop_a"}},
	}
	for _, m := range mods {
		writeKO(t, dir, m.rel, machine, m.info...)
	}
	writeFile(t, filepath.Join(dir, "modules.builtin"), "kernel/fs/ext4/ext4.ko\nkernel/lib/crc32.ko\n", 0o644)
	writeFile(t, filepath.Join(dir, "modules.builtin.modinfo"), "ext4.alias=fs-ext4\x00crc32.license=GPL\x00", 0o644)
	writeFile(t, filepath.Join(dir, "modules.order"), "kernel/drivers/virtio/virtio.ko\n", 0o644)
	if err := os.Symlink("/usr/src/linux-headers-6.1.0-test", filepath.Join(dir, "build")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testBoard(t *testing.T, m board.Modules) *board.Board {
	t.Helper()
	b := loadBoard(t, "qemu-x86_64")
	b.Modules = m
	return b
}

func names(mods []*kmodule) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.name)
	}
	return out
}

func TestSelectModules(t *testing.T) {
	dir := fakeModuleTree(t, elf.EM_X86_64)
	tests := []struct {
		name    string
		modules board.Modules
		want    []string
		wantErr []string
	}{
		{name: "depends closure, compressed",
			modules: board.Modules{Names: []string{"virtio_net"}},
			want:    []string{"failover", "net_failover", "virtio", "virtio_net", "virtio_ring"}},
		{name: "dash and underscore", modules: board.Modules{Names: []string{"virtio_rng", "virtio-blk"}},
			want: []string{"virtio", "virtio_blk", "virtio_ring", "virtio_rng"}},
		{name: "softdep pre", modules: board.Modules{Names: []string{"xt_LOG"}},
			want: []string{"nf_log_syslog", "xt_LOG"}},
		{name: "softdep post", modules: board.Modules{Names: []string{"act_mpls"}},
			want: []string{"act_mpls", "mpls_gso"}},
		{name: "softdep by alias, built-in and missing ones skipped", modules: board.Modules{Names: []string{"ksmbd"}},
			want: []string{"ksmbd", "md5"}},
		{name: "built-in name", modules: board.Modules{Names: []string{"ext4", "failover"}},
			want: []string{"failover"}},
		{name: "bus", modules: board.Modules{Buses: []string{"virtio"}},
			want: []string{"virtio", "virtio_blk", "virtio_net", "virtio_ring", "virtio_rng", "failover", "net_failover"}},
		{name: "acpi bus", modules: board.Modules{Buses: []string{"acpi"}, Names: []string{"virtio"}},
			want: []string{"button", "virtio"}},
		{name: "pci bus", modules: board.Modules{Buses: []string{"pci"}},
			want: []string{"e1000", "virtio", "virtio_pci", "virtio_ring"}},
		{name: "unknown module", modules: board.Modules{Names: []string{"virtio_nett"}},
			wantErr: []string{"board qemu-x86_64", `module "virtio_nett" not found`, dir, "did you mean virtio_net"}},
		{name: "unknown bus", modules: board.Modules{Buses: []string{"usb"}},
			wantErr: []string{`bus "usb"`, "buses there: acpi, pci, virtio"}},
		{name: "missing dependency", modules: board.Modules{Names: []string{"broken"}},
			wantErr: []string{"broken", "depends on missing_dep", "not in " + dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt, err := openModuleTree(dir, "amd64")
			if err != nil {
				t.Fatal(err)
			}
			got, err := mt.selectModules(testBoard(t, tt.modules), t.Logf)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("selected %v, want an error", names(got))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(tt.want))
			if g := names(got); !slices.Equal(g, want) {
				t.Errorf("selected %v, want %v", g, want)
			}
		})
	}
}

func TestSelectModulesReadsOnlyWhatItNeeds(t *testing.T) {
	dir := fakeModuleTree(t, elf.EM_X86_64)
	// A module nobody asks for may be unreadable.
	writeFile(t, filepath.Join(dir, "kernel", "junk.ko"), "not an ELF", 0o644)
	mt, err := openModuleTree(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mt.selectModules(testBoard(t, board.Modules{Names: []string{"virtio_net"}}), t.Logf); err != nil {
		t.Fatal(err)
	}
	if _, err := mt.selectModules(testBoard(t, board.Modules{Buses: []string{"virtio"}}), t.Logf); err == nil || !strings.Contains(err.Error(), "junk.ko") {
		t.Errorf("a bus reads every module: err = %v, want one naming junk.ko", err)
	}
}

func TestModuleTreeErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"wrong machine", func(t *testing.T, dir string) {
			writeKO(t, dir, "kernel/a.ko", elf.EM_AARCH64, "depends=")
		}, "EM_AARCH64"},
		{"no modinfo", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "kernel", "a.ko"), "\x7fELF", 0o644)
		}, "a.ko"},
		{"bad compression", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "kernel", "a.ko.xz"), "plain", 0o644)
		}, "a.ko.xz"},
		{"twice", func(t *testing.T, dir string) {
			writeKO(t, dir, "kernel/x/a.ko", elf.EM_X86_64, "depends=")
			writeKO(t, dir, "kernel/y/a.ko.xz", elf.EM_X86_64, "depends=")
		}, "module a is both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			mt, err := openModuleTree(dir, "amd64")
			if err == nil {
				_, err = mt.selectModules(testBoard(t, board.Modules{Names: []string{"a"}}), t.Logf)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := openModuleTree(filepath.Join(t.TempDir(), "nope"), "amd64"); err == nil {
		t.Error("a missing tree opened")
	}
}

func TestUpdatesWin(t *testing.T) {
	dir := t.TempDir()
	writeKO(t, dir, "kernel/a.ko", elf.EM_X86_64, "depends=")
	writeKO(t, dir, "updates/dkms/a.ko", elf.EM_X86_64, "depends=")
	mt, err := openModuleTree(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if got := mt.files["a"]; got != "updates/dkms/a.ko" {
		t.Errorf("a is %s, want the one under updates/", got)
	}
}

func TestModuleIndexes(t *testing.T) {
	dir := fakeModuleTree(t, elf.EM_X86_64)
	mt, err := openModuleTree(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := mt.selectModules(testBoard(t, board.Modules{Names: []string{"virtio_net", "virtio_pci", "xt_LOG", "ksmbd"}}), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	dep, alias, soft, err := moduleIndexes(mods)
	if err != nil {
		t.Fatal(err)
	}
	// Each line lists a module's dependencies with users before what they
	// use: modprobe loads them from the end.
	wantDep := `kernel/crypto/md5.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/fs/smb/ksmbd.ko:
kernel/net/core/failover.ko:
kernel/net/netfilter/nf_log_syslog.ko:
kernel/net/netfilter/xt_LOG.ko:
`
	if string(dep) != wantDep {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", dep, wantDep)
	}
	wantAlias := `# Aliases extracted from modules themselves.
alias crypto-md5 md5
alias md5 md5
alias virtio:d00000001v* virtio_net
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
`
	if string(alias) != wantAlias {
		t.Errorf("modules.alias:\n%s\nwant:\n%s", alias, wantAlias)
	}
	wantSoft := `# Soft dependencies extracted from modules themselves.
softdep ksmbd pre: crc32 gone post: crypto_md5
softdep xt_LOG pre: nf_log_syslog
`
	if string(soft) != wantSoft {
		t.Errorf("modules.softdep:\n%s\nwant:\n%s", soft, wantSoft)
	}
}

func TestDepOrderCycle(t *testing.T) {
	dir := fakeModuleTree(t, elf.EM_X86_64)
	mt, err := openModuleTree(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := mt.selectModules(testBoard(t, board.Modules{Names: []string{"loop_a"}}), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := moduleIndexes(mods); err == nil || !strings.Contains(err.Error(), "loop_a, loop_b") {
		t.Errorf("err = %v, want a cycle of loop_a, loop_b", err)
	}
}

func TestParseSoftdep(t *testing.T) {
	tests := []struct {
		in        string
		pre, post []string
	}{
		{"pre: a b post: c", []string{"a", "b"}, []string{"c"}},
		{"post: c-d pre: a", []string{"a"}, []string{"c_d"}},
		{"gcm", nil, nil},
		{"x pre: a", []string{"a"}, nil},
		{"", nil, nil},
	}
	for _, tt := range tests {
		pre, post := parseSoftdep(tt.in)
		if !slices.Equal(pre, tt.pre) || !slices.Equal(post, tt.post) {
			t.Errorf("parseSoftdep(%q) = %v, %v; want %v, %v", tt.in, pre, post, tt.pre, tt.post)
		}
	}
}

func TestBuildWithKernelModules(t *testing.T) {
	dir := fakeModuleTree(t, elf.EM_X86_64)
	smbox := fakeELF(t, "smbox", elf.EM_X86_64, elf.ELFCLASS64, "")
	b := testBoard(t, board.Modules{Names: []string{"virtio_net", "virtio-rng"}})
	mtime := time.Unix(1700000000, 0)
	var outs [2]string
	for i := range outs {
		outs[i] = filepath.Join(t.TempDir(), "initramfs.cpio")
		if _, err := Build(context.Background(), b, outs[i], WithSmbox(smbox), WithUnits(""),
			WithCompression(None), WithMtime(mtime), WithKernelModules(dir)); err != nil {
			t.Fatal(err)
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
		t.Error("two builds from the same module tree differ")
	}
	m := entryMap(t, outs[0])
	root := "lib/modules/6.1.0-test-amd64/"
	for _, p := range []string{
		"kernel/drivers/net/net_failover.ko", "kernel/net/core/failover.ko",
		"kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
		"modules.dep", "modules.alias", "modules.softdep", "modules.builtin", "modules.builtin.modinfo",
	} {
		if e, ok := m[root+p]; !ok || e.Mode.Perm() != 0o644 {
			t.Errorf("%s: missing or not 0644 (%v)", root+p, e.Mode)
		}
	}
	for _, p := range []string{"kernel/drivers/virtio/virtio_pci.ko", "modules.order", "build"} {
		if _, ok := m[root+p]; ok {
			t.Errorf("%s is in the image, but nothing asked for it", root+p)
		}
	}
	// Without boot/config-VERSION beside the tree, nothing says the kernel
	// decompresses modules: every compressed one goes in as plain ELF.
	for _, p := range []string{"kernel/drivers/net/virtio_net.ko", "kernel/drivers/char/hw_random/virtio-rng.ko"} {
		if _, ok := m[root+p]; !ok {
			t.Errorf("%s: missing, the image must carry it decompressed", root+p)
		}
	}

	t.Run("no tree", func(t *testing.T) {
		_, err := Build(context.Background(), b, filepath.Join(t.TempDir(), "o.cpio"), WithSmbox(smbox), WithUnits(""))
		if err == nil || !strings.Contains(err.Error(), "scripts/fetch-kernel qemu-x86_64") {
			t.Errorf("err = %v, want it to say to run scripts/fetch-kernel", err)
		}
	})
	t.Run("without", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "o.cpio")
		if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithUnits(""), WithCompression(None),
			WithKernelModules(dir), WithoutKernelModules()); err != nil {
			t.Fatal(err)
		}
		if _, ok := entryMap(t, out)["lib/modules"]; ok {
			t.Error("lib/modules in an image built without kernel modules")
		}
	})
	t.Run("board without modules", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "o.cpio")
		var log bytes.Buffer
		if _, err := Build(context.Background(), testBoard(t, board.Modules{}), out, WithSmbox(smbox), WithUnits(""),
			WithCompression(None), WithKernelModules(dir), WithProgress(&log)); err != nil {
			t.Fatal(err)
		}
		if _, ok := entryMap(t, out)["lib/modules"]; ok {
			t.Error("lib/modules in an image for a board that asks for no modules")
		}
		if !strings.Contains(log.String(), "asks for no kernel modules") {
			t.Errorf("progress does not say the tree is unused:\n%s", log.String())
		}
	})
}

// TestKernelDecompressedModules: a compressed module stays as shipped when
// the kernel's configuration says it decompresses that format itself, and
// goes in decompressed (named .ko, in modules.dep too) when it does not.
func TestKernelDecompressedModules(t *testing.T) {
	smbox := fakeELF(t, "smbox", elf.EM_X86_64, elf.ELFCLASS64, "")
	b := testBoard(t, board.Modules{Names: []string{"virtio_net", "virtio-rng", "virtio_blk"}})
	tests := []struct {
		name   string
		config string // "" for no configuration file
		kept   []string
		plain  []string
	}{
		{"no configuration", "", nil, []string{"virtio_net", "virtio-rng", "virtio_blk"}},
		{"no decompression", "CONFIG_MODULE_COMPRESS_XZ=y\n# CONFIG_MODULE_DECOMPRESS is not set\n", nil, []string{"virtio_net", "virtio-rng", "virtio_blk"}},
		{"xz", "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n", []string{"virtio_net.ko.xz"}, []string{"virtio-rng", "virtio_blk"}},
		{"zstd", "CONFIG_MODULE_DECOMPRESS=y\nCONFIG_MODULE_COMPRESS_ZSTD=y\n", []string{"virtio-rng.ko.zst"}, []string{"virtio_net", "virtio_blk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeModuleTree(t, elf.EM_X86_64)
			if tt.config != "" {
				writeFile(t, filepath.Join(dir, "..", "..", "..", "boot", "config-6.1.0-test-amd64"), tt.config, 0o644)
			}
			out := filepath.Join(t.TempDir(), "initramfs.cpio")
			if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithUnits(""),
				WithCompression(None), WithKernelModules(dir)); err != nil {
				t.Fatal(err)
			}
			files := make(map[string]Entry)
			for n, e := range entryMap(t, out) {
				files[path.Base(n)] = e
			}
			for _, k := range tt.kept {
				if _, ok := files[k]; !ok {
					t.Errorf("%s not in the image as shipped", k)
				}
			}
			for _, n := range tt.plain {
				e, ok := files[n+".ko"]
				if !ok {
					t.Errorf("%s.ko not in the image", n)
					continue
				}
				if want := int64(len(fakeKOFor(t, dir, n))); e.Size != want {
					t.Errorf("%s.ko is %d bytes, want the decompressed %d", n, e.Size, want)
				}
			}
			dep := archiveFile(t, out, "lib/modules/6.1.0-test-amd64/modules.dep")
			for _, n := range tt.plain {
				if !strings.Contains(dep, "/"+n+".ko:") {
					t.Errorf("modules.dep does not list %s.ko:\n%s", n, dep)
				}
			}
		})
	}
}

// fakeKOFor returns the decompressed content of module name in dir.
func fakeKOFor(t *testing.T, dir, name string) []byte {
	t.Helper()
	mt, err := openModuleTree(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	data, err := readModuleFile(dir, mt.files[strings.ReplaceAll(name, "-", "_")])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestKernelModulesDir(t *testing.T) {
	cache := t.TempDir()
	b := loadBoard(t, "qemu-aarch64")
	mods := filepath.Join(cache, "kernel", b.Name, "lib", "modules")
	if _, err := KernelModulesDir(cache, b); !errors.Is(err, ErrNoKernelModules) || !strings.Contains(err.Error(), "scripts/fetch-kernel qemu-aarch64") {
		t.Errorf("empty cache: err = %v", err)
	}
	writeFile(t, filepath.Join(mods, "6.1.0-9-cloud-arm64", "modules.order"), "", 0o644)
	got, err := KernelModulesDir(cache, b)
	if err != nil || got != filepath.Join(mods, "6.1.0-9-cloud-arm64") {
		t.Errorf("KernelModulesDir = %q, %v", got, err)
	}
	writeFile(t, filepath.Join(mods, "6.1.0-56-cloud-arm64", "modules.order"), "", 0o644)
	if _, err := KernelModulesDir(cache, b); err == nil || !strings.Contains(err.Error(), "several kernels") {
		t.Errorf("two trees: err = %v", err)
	}
}

// realModuleTrees lists the Debian module trees at hand: the one unpacked
// at /tmp/kx and the ones scripts/fetch-kernel put in the cache.
func realModuleTrees(t *testing.T) map[string]string {
	trees := make(map[string]string)
	if m, _ := filepath.Glob("/tmp/kx/lib/modules/*-amd64"); len(m) == 1 {
		trees["qemu-x86_64"] = m[0]
	}
	cache := os.Getenv("SYSMASTER_CACHE")
	if cache == "" {
		if root, err := FindModuleRoot("."); err == nil {
			cache = filepath.Join(root, ".cache")
		}
	}
	for _, name := range []string{"qemu-x86_64", "qemu-aarch64"} {
		if dir, err := KernelModulesDir(cache, loadBoard(t, name)); err == nil {
			trees[name] = dir
		}
	}
	return trees
}

func TestRealModuleTree(t *testing.T) {
	trees := realModuleTrees(t)
	if len(trees) == 0 {
		t.Skip("no Debian module tree: run scripts/fetch-kernel qemu-x86_64")
	}
	for name, dir := range trees {
		t.Run(name, func(t *testing.T) {
			b := loadBoard(t, name)
			mt, err := openModuleTree(dir, b.Arch)
			if err != nil {
				t.Fatal(err)
			}
			mods, err := mt.selectModules(b, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			got := names(mods)
			for _, want := range []string{"virtio_net", "net_failover", "failover", "virtio_pci", "virtio_rng", "virtio_console", "virtio_blk"} {
				if !slices.Contains(got, want) {
					t.Errorf("selection %v lacks %s", got, want)
				}
			}
			dep, alias, _, err := moduleIndexes(mods)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(alias), "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n") {
				t.Errorf("modules.alias lacks virtio_pci's PCI alias:\n%s", alias)
			}
			var netLine string
			for _, l := range strings.Split(string(dep), "\n") {
				if strings.HasPrefix(l, "kernel/drivers/net/virtio_net.ko") {
					netLine = l
				}
			}
			nf := strings.Index(netLine, "/net_failover.ko")
			f := strings.Index(netLine, "/failover.ko")
			if nf < 0 || f < 0 || f < nf {
				t.Errorf("virtio_net line %q: want net_failover, then failover", netLine)
			}
		})
	}
}

// archiveFile returns the content of the file name in the archive p.
func archiveFile(t *testing.T, p, name string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []byte
	found := false
	err = Walk(f, func(e Entry, r io.Reader) error {
		if e.Name != name {
			return nil
		}
		found = true
		out, err = io.ReadAll(r)
		return err
	})
	if err != nil || !found {
		t.Fatalf("%s in %s: found %v, %v", name, p, found, err)
	}
	return string(out)
}

// TestBuildXZFilter: an xz image gets the BCJ filter of the board's code
// only when the kernel's configuration says its decoder has it.
func TestBuildXZFilter(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("no xz program: the built-in encoder has no filters")
	}
	smbox := fakeELF(t, "smbox", elf.EM_X86_64, elf.ELFCLASS64, "")
	b := testBoard(t, board.Modules{Names: []string{"virtio_net"}})
	for _, tt := range []struct {
		name, config string
		filter       bool
	}{
		{"decoder built", "CONFIG_XZ_DEC_X86=y\nCONFIG_XZ_DEC_BCJ=y\n", true},
		{"decoder not built", "# CONFIG_XZ_DEC_X86 is not set\n", false},
		{"no configuration", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeModuleTree(t, elf.EM_X86_64)
			if tt.config != "" {
				writeFile(t, filepath.Join(dir, "..", "..", "..", "boot", "config-6.1.0-test-amd64"), tt.config, 0o644)
			}
			out := filepath.Join(t.TempDir(), "initramfs.cpio.xz")
			var log bytes.Buffer
			if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithUnits(""),
				WithCompression(XZ), WithKernelModules(dir), WithProgress(&log)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(log.String(), "--x86"); got != tt.filter {
				t.Errorf("x86 filter %v, want %v; log:\n%s", got, tt.filter, log.String())
			}
			if _, ok := entryMap(t, out)["bin/smbox"]; !ok {
				t.Error("the archive does not read back")
			}
		})
	}
}
