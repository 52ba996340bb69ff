package kmod

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // file:line: key: message, the file relative
	}{
		{"unknown top-level key", "blacklist = []\n\nblacklst = [\"a\"]\n", `x.toml:3: blacklst: unknown key`},
		{"unknown section", "[option]\nvirtio_net = \"a=1\"\n", `x.toml:1: option: unknown key`},
		{"unknown softdep key", "[softdep.virtio_net]\npre = []\n# note\nprex = [\"a\"]\n", `x.toml:4: softdep.virtio_net.prex: unknown key`},
		{"quoted table", "[softdep.\"virtio-net\"]\nposts = []\n", `x.toml:2: softdep.virtio-net.posts: unknown key`},
		{"wrong type", "[options]\nvirtio_net = 3\n", `x.toml:2: options.virtio_net: incompatible types`},
		{"wrong list type", "blacklist = \"pcspkr\"\n", `x.toml:1: blacklist: incompatible types`},
		{"syntax", "[options]\nvirtio_net =\n", `x.toml:2: options.virtio_net: expected value`},
		{"bad blacklist name", "\nblacklist = [\"a b\"]\n", `x.toml:2: blacklist: "a b" is not a module name`},
		{"bad options name", "[options]\n\"a/b\" = \"x=1\"\n", `x.toml:2: options."a/b": "a/b" is not a module name`},
		{"bad alias target", "[alias]\neth = \"virtio net\"\n", `x.toml:2: alias.eth: "virtio net" is not a module name`},
		{"bad softdep entry", "[softdep.a]\npre = [\"\"]\n", `x.toml:2: softdep.a.pre: "" is not a module name or alias`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTestFile(t, filepath.Join(dir, "x.toml"), []byte(tt.body))
			_, err := loadConfig([]string{dir})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a ConfigError", err)
			}
			if got := strings.TrimPrefix(err.Error(), dir+"/"); !strings.HasPrefix(got, tt.want) {
				t.Errorf("err = %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

func TestConfigMerge(t *testing.T) {
	etc, lib := t.TempDir(), t.TempDir()
	writeTestFile(t, filepath.Join(lib, "a.toml"), []byte("[options]\nvirtio_net = \"from=lib\"\n"))
	writeTestFile(t, filepath.Join(etc, "a.toml"), []byte("[options]\nvirtio-net = \"from=etc\"\n"))
	writeTestFile(t, filepath.Join(lib, "b.toml"), []byte("blacklist = [\"pcspkr\"]\n[options]\nvirtio_net = \"b=1\"\n[softdep.x]\npre = [\"y\"]\n"))
	writeTestFile(t, filepath.Join(etc, "c.toml"), []byte("[softdep.x]\npost = [\"z\"]\n[alias]\n\"eth*\" = \"virtio_net\"\n"))
	writeTestFile(t, filepath.Join(etc, "README"), []byte("not a config file"))
	c, err := loadConfig([]string{etc, lib, filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	// /etc/a.toml hides /lib/a.toml; b.toml adds to it.
	if got := c.options["virtio_net"]; !reflect.DeepEqual(got, []string{"from=etc", "b=1"}) {
		t.Errorf("options %q", got)
	}
	if !c.blacklist["pcspkr"] {
		t.Error("blacklist from /lib/modprobe.d/b.toml missing")
	}
	// The later file's softdep replaces the earlier one.
	if got := c.softdeps["x"]; !reflect.DeepEqual(got, softdep{post: []string{"z"}}) {
		t.Errorf("softdep x = %+v", got)
	}
	if got := matchAliases(c.aliases, "eth0"); !reflect.DeepEqual(got, []string{"virtio_net"}) {
		t.Errorf("alias eth* → %v", got)
	}
}

func TestKernelCmdline(t *testing.T) {
	c := newConfig()
	c.addCmdline(`BOOT_IMAGE=/vmlinuz root=/dev/vda ro quiet virtio_net.napi_tx=1 virtio-net.x="a b" rd.shell modprobe.blacklist=pcspkr,snd-pcsp .x=1 y.=2`)
	if got := c.options["virtio_net"]; !reflect.DeepEqual(got, []string{"napi_tx=1", `x="a b"`}) {
		t.Errorf("options %q", got)
	}
	if !c.blacklist["pcspkr"] || !c.blacklist["snd_pcsp"] {
		t.Errorf("blacklist %v", c.blacklist)
	}
	if len(c.options) != 1 {
		t.Errorf("options for other names: %v", c.options)
	}
	if got := splitCmdline(" a  \"b c\" d=\"e f\"\n"); !reflect.DeepEqual(got, []string{"a", `"b c"`, `d="e f"`}) {
		t.Errorf("splitCmdline = %q", got)
	}
}
