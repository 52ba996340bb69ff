package kmod

import (
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFnmatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00008086d00001000sv00001AF4sd00000001bc02sc00i00", false},
		{"virtio:d00000001v*", "virtio:d00000001v00001AF4", true},
		{"virtio:d00000001v*", "virtio:d00000011v00001AF4", false},
		{"*", "", true},
		{"*", "a/b", true}, // unlike path.Match, '*' crosses '/'
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYYcd", false},
		{"a*b*c*", "abc", true},
		{"?", "", false},
		{"?x", "ax", true},
		{"d0[0-4]*", "d03dc", true},
		{"d0[0-4]*", "d05dc", false},
		{"d0[!0-4]*", "d05dc", true},
		{"d0[^0-4]*", "d03dc", false},
		{"[]]", "]", true},
		{"[!]]", "]", false},
		{"[a-]", "-", true},
		{"[ab", "[ab", true}, // no ']': the '[' is literal
		{"[ab", "a", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`[\]]`, "]", true},
		{`a\`, `a\`, true},
		{"dmi*:svnLENOVO:pn*:pvrThinkPad T61*", "dmi:bvnLENOVO:svnLENOVO:pn7661:pvrThinkPad T61:", true},
		{"of:N*T*Cvirtio,mmio*", "of:NvirtioT(null)Cvirtio,mmio", true},
		{"acpi*:LNRO0005:*", "acpi:LNRO0005:", true},
	}
	for _, tt := range tests {
		if got := fnmatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestNormalizeAlias(t *testing.T) {
	tests := []struct{ in, want string }{
		{"crypto-md5", "crypto_md5"},
		{"input:b0019v*-e0,1,*", "input:b0019v*_e0,1,*"},
		{"usb:v1234p[0-9A-F]-x", "usb:v1234p[0-9A-F]_x"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := normalizeAlias(tt.in); got != tt.want {
			t.Errorf("normalizeAlias(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseIndex(t *testing.T) {
	tests := []struct {
		name, file, body string
		wantErr          string
	}{
		{name: "dep without colon", file: "modules.dep", body: "kernel/a.ko:\nkernel/b.ko kernel/a.ko\n", wantErr: "modules.dep:2: \"kernel/b.ko kernel/a.ko\""},
		{name: "dep on a non-module", file: "modules.dep", body: "# comment\n\nkernel/a.ko: kernel/b.txt\n", wantErr: "modules.dep:3: \"kernel/b.txt\" is not a module file"},
		{name: "one module, two files", file: "modules.dep", body: "kernel/a.ko:\nkernel/x/a.ko.xz:\n", wantErr: "modules.dep:2: module a is both"},
		{name: "short alias", file: "modules.alias", body: "alias pci:x\n", wantErr: "modules.alias:1:"},
		{name: "not an alias", file: "modules.alias", body: "# c\nalia pci:x a\n", wantErr: "modules.alias:2:"},
		{name: "softdep without module", file: "modules.softdep", body: "softdep\n", wantErr: "modules.softdep:1:"},
		{name: "built-in non-module", file: "modules.builtin", body: "kernel/a.ko\nREADME\n", wantErr: "modules.builtin:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTestFile(t, filepath.Join(dir, tt.file), []byte(tt.body))
			_, err := loadIndex(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("err = %v, want it to name the file and contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadIndex(t *testing.T) {
	_, dir := fixtureTree(t)
	writeTestFile(t, filepath.Join(dir, "modules.dep"), []byte(fixtureDep+"/opt/extra/abs.ko: kernel/crypto/md5.ko\n"))
	writeTestFile(t, filepath.Join(dir, "modules.softdep"), []byte(fixtureSoftdep+"softdep cifs gcm pre: a b post: c\n"))
	idx, err := loadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	net := idx.modules["virtio_net"]
	if net == nil || net.path != filepath.Join(dir, "kernel/drivers/net/virtio_net.ko.xz") ||
		!reflect.DeepEqual(net.deps, []string{"net_failover", "failover", "virtio_ring", "virtio"}) {
		t.Errorf("virtio_net: %+v", net)
	}
	if m := idx.modules["virtio_rng"]; m == nil || path.Base(m.path) != "virtio-rng.ko.zst" {
		t.Errorf("virtio_rng (from virtio-rng.ko.zst): %+v", m)
	}
	if m := idx.modules["abs"]; m == nil || m.path != "/opt/extra/abs.ko" {
		t.Errorf("absolute path: %+v", m)
	}
	if got := idx.softdeps["cifs"]; !reflect.DeepEqual(got, softdep{pre: []string{"a", "b"}, post: []string{"c"}}) {
		t.Errorf("cifs softdep %+v: words before pre: are dropped", got)
	}
	if !idx.builtin["ext4"] || !idx.builtin["crc32c_generic"] || idx.builtin["virtio"] {
		t.Errorf("builtin %v", idx.builtin)
	}
	if got := matchAliases(idx.builtinAliases, "fs_ext4"); !reflect.DeepEqual(got, []string{"ext4"}) {
		t.Errorf("built-in alias fs-ext4: %v", got)
	}
	if got := matchAliases(idx.aliases, normalizeAlias("virtio:d00000002v00001AF4")); !reflect.DeepEqual(got, []string{"virtio_blk"}) {
		t.Errorf("alias of virtio_blk: %v", got)
	}
	if got := matchAliases(idx.aliases, "md5"); !reflect.DeepEqual(got, []string{"md5"}) {
		t.Errorf("two aliases of one module give it once: %v", got)
	}
}

func TestLiteralPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"pci:v00001AF4d*": "pci:v00001AF4d", "plain": "plain", "*x": "", `a\*`: "a", "ab[c]": "ab", "a?": "a",
	} {
		if got := literalPrefix(in); got != want {
			t.Errorf("literalPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
