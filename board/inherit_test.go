package board

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeBoards writes name -> body as NAME.toml into a new folder.
func writeBoards(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const baseBoard = `description = "base"
arch = "arm64"
console = "ttyAMA0"
cmdline = "console=ttyAMA0"
[kernel]
package = "linux-image-arm64"
file = "vmlinuz-*"
[qemu]
binary = "qemu-system-aarch64"
machine = "virt"
cpu = "cortex-a57"
args = ["-device", "virtio-rng-pci"]
[modules]
names = ["virtio_net", "virtio_blk"]
`

func TestInherit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		load  string // board file to load, in the folder
		check func(t *testing.T, b *Board)
	}{
		{
			name: "scalars override, the rest comes from the parent",
			files: map[string]string{
				"base":  baseBoard,
				"child": "inherit = \"base\"\ndescription = \"child\"\nconsole = \"ttyS0\"\n",
			},
			load: "child",
			check: func(t *testing.T, b *Board) {
				if b.Name != "child" || b.Inherit != "base" || b.Description != "child" || b.Console != "ttyS0" {
					t.Errorf("own keys: %+v", b)
				}
				if b.Arch != "arm64" || b.Cmdline != "console=ttyAMA0" || b.Kernel.Package != "linux-image-arm64" {
					t.Errorf("inherited keys: %+v", b)
				}
			},
		},
		{
			name: "tables merge key by key",
			files: map[string]string{
				"base":  baseBoard,
				"child": "inherit = \"base\"\n[qemu]\ncpu = \"cortex-a72\"\n[kernel]\npackage = \"linux-image-rpi\"\n",
			},
			load: "child",
			check: func(t *testing.T, b *Board) {
				q := b.QEMU
				if q.CPU != "cortex-a72" || q.Machine != "virt" || q.Binary != "qemu-system-aarch64" || !slices.Equal(q.Args, []string{"-device", "virtio-rng-pci"}) {
					t.Errorf("qemu = %+v", q)
				}
				if b.Kernel.Package != "linux-image-rpi" || b.Kernel.File != "vmlinuz-*" {
					t.Errorf("kernel = %+v", b.Kernel)
				}
			},
		},
		{
			name: "arrays replace the parent's whole",
			files: map[string]string{
				"base":  baseBoard,
				"child": "inherit = \"base\"\n[modules]\nnames = [\"virtio_rng\"]\n[qemu]\nargs = []\n",
			},
			load: "child",
			check: func(t *testing.T, b *Board) {
				if !slices.Equal(b.Modules.Names, []string{"virtio_rng"}) {
					t.Errorf("modules.names = %v, want [virtio_rng]", b.Modules.Names)
				}
				if len(b.QEMU.Args) != 0 {
					t.Errorf("qemu.args = %v, want none", b.QEMU.Args)
				}
			},
		},
		{
			name: "three levels, nearest wins",
			files: map[string]string{
				"base":  baseBoard,
				"mid":   "inherit = \"base\"\ndescription = \"mid\"\n[qemu]\nmemory = \"1G\"\ncpu = \"mid-cpu\"\n",
				"child": "inherit = \"mid\"\n[qemu]\ncpu = \"child-cpu\"\n",
			},
			load: "child",
			check: func(t *testing.T, b *Board) {
				if b.Description != "mid" || b.QEMU.Memory != "1G" || b.QEMU.CPU != "child-cpu" || b.QEMU.Machine != "virt" || b.Inherit != "mid" {
					t.Errorf("board = %+v", b)
				}
			},
		},
		{
			name:  "a file inherits a built-in board",
			files: map[string]string{"mine": "inherit = \"qemu-aarch64\"\ndescription = \"mine\"\n[qemu]\nmemory = \"256M\"\n"},
			load:  "mine",
			check: func(t *testing.T, b *Board) {
				if b.Arch != "arm64" || b.QEMU.Machine != "virt" || b.QEMU.Memory != "256M" || len(b.Modules.Names) == 0 {
					t.Errorf("board = %+v", b)
				}
			},
		},
		{
			name:  "max_size through the merge",
			files: map[string]string{"base": "max_size = \"8M\"\n" + baseBoard, "child": "inherit = \"base\"\n", "big": "inherit = \"base\"\nmax_size = 1048576\n"},
			load:  "child",
			check: func(t *testing.T, b *Board) {
				if b.MaxSize != 8<<20 {
					t.Errorf("max_size = %d", b.MaxSize)
				}
				big, err := Load(filepath.Join(filepath.Dir(b.Ref), "big.toml"))
				if err != nil || big.MaxSize != 1<<20 {
					t.Errorf("big: %v, %v", big, err)
				}
			},
		},
		{
			name:  "a file named like the built-in board it inherits",
			files: map[string]string{"qemu-aarch64": "inherit = \"qemu-aarch64\"\ndescription = \"mine\"\n"},
			load:  "qemu-aarch64",
			check: func(t *testing.T, b *Board) {
				if b.Description != "mine" || b.QEMU.CPU != "cortex-a57" {
					t.Errorf("board = %+v", b)
				}
			},
		},
		{
			name:  "a path relative to the file",
			files: map[string]string{"base": baseBoard, "child": "inherit = \"./base.toml\"\n"},
			load:  "child",
			check: func(t *testing.T, b *Board) {
				if b.Arch != "arm64" || b.Inherit != "base" {
					t.Errorf("board = %+v", b)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBoards(t, tt.files)
			b, err := Load(filepath.Join(dir, tt.load+".toml"))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, b)
		})
	}
}

func TestInheritErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		load  string
		want  []string // every one must be in the error
	}{
		{
			name:  "missing parent",
			files: map[string]string{"child": "inherit = \"nope\"\n"},
			load:  "child",
			want:  []string{"child.toml: inherit \"nope\"", "unknown board", "chain: child -> nope"},
		},
		{
			name:  "missing grandparent",
			files: map[string]string{"child": "inherit = \"mid\"\n", "mid": "inherit = \"gone\"\narch = \"arm64\"\n"},
			load:  "child",
			want:  []string{"mid.toml: inherit \"gone\"", "chain: child -> mid -> gone"},
		},
		{
			name:  "missing file parent",
			files: map[string]string{"child": "inherit = \"sub/base.toml\"\n"},
			load:  "child",
			want:  []string{"child.toml: inherit \"sub/base.toml\"", "no file"},
		},
		{
			name:  "self",
			files: map[string]string{"a": "inherit = \"a\"\n"},
			load:  "a",
			want:  []string{"a.toml: inherit \"a\": cycle (chain: a -> a)"},
		},
		{
			name: "cycle of three",
			files: map[string]string{
				"a": "inherit = \"b\"\n", "b": "inherit = \"c\"\n", "c": "inherit = \"a\"\n",
			},
			load: "a",
			want: []string{"c.toml: inherit \"a\": cycle (chain: a -> b -> c -> a)"},
		},
		{
			name:  "unknown key in the parent names the parent",
			files: map[string]string{"base": baseBoard + "[extra]\nfoo = 1\n", "child": "inherit = \"base\"\n"},
			load:  "child",
			want:  []string{"base.toml: unknown key \"extra\""},
		},
		{
			name:  "unknown key in the child",
			files: map[string]string{"base": baseBoard, "child": "inherit = \"base\"\n[qemu]\ncpus = \"x\"\n"},
			load:  "child",
			want:  []string{"child.toml: unknown key \"qemu.cpus\""},
		},
		{
			name:  "syntax error in the parent names its line",
			files: map[string]string{"base": "arch = \"arm64\"\nbroken =\n", "child": "inherit = \"base\"\n"},
			load:  "child",
			want:  []string{"base.toml:2"},
		},
		{
			name:  "wrong type in the child",
			files: map[string]string{"base": baseBoard, "child": "inherit = \"base\"\n[modules]\nnames = \"virtio_net\"\n"},
			load:  "child",
			want:  []string{"child.toml", "modules.names"},
		},
		{
			name:  "the merged board is validated",
			files: map[string]string{"base": baseBoard, "child": "inherit = \"base\"\narch = \"vax\"\n"},
			load:  "child",
			want:  []string{"child.toml: arch \"vax\""},
		},
		{
			name:  "inherit is a string",
			files: map[string]string{"child": "inherit = [\"base\"]\narch = \"arm64\"\n"},
			load:  "child",
			want:  []string{"child.toml", "inherit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBoards(t, tt.files)
			_, err := Load(filepath.Join(dir, tt.load+".toml"))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// A built-in board may inherit another built-in one, never a file on disk.
func TestInheritBuiltin(t *testing.T) {
	src := source{file: "board/x.toml", name: "x", builtin: true,
		data: []byte("inherit = \"qemu-aarch64\"\ndescription = \"x\"\n")}
	b, err := parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if b.Arch != "arm64" || b.Description != "x" || b.QEMU.CPU != "cortex-a57" {
		t.Errorf("board = %+v", b)
	}
	src.data = []byte("inherit = \"/tmp/evil.toml\"\n")
	if _, err := parse(src); err == nil || !strings.Contains(err.Error(), "not a built-in board") {
		t.Errorf("built-in inheriting a file: %v", err)
	}
}

// scripts/fetch-kernel and scripts/setup read board files with board_key
// from scripts/lib.sh; it must follow inherit as Load does.
func TestScriptsFollowInherit(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := writeBoards(t, map[string]string{
		"base":  baseBoard,
		"mid":   "inherit = \"base\"\n[kernel]\nfile = \"Image-*\"\n",
		"child": "inherit = \"mid\"\ndebian_arch = \"armhf\"\n",
		"top":   "inherit = \"qemu-aarch64\"\n",
		// Named like the built-in board it inherits.
		"qemu-x86_64": "inherit = \"qemu-x86_64\"\ndebian_arch = \"i386\"\n",
	})
	keys := [][2]string{{"debian_arch", ""}, {"arch", ""}, {"package", "kernel"}, {"file", "kernel"}}
	for _, name := range []string{"child", "mid", "top", "qemu-x86_64"} {
		p := filepath.Join(dir, name+".toml")
		b, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"debian_arch": b.DebianArch, "arch": b.Arch, "package": b.Kernel.Package, "file": b.Kernel.File}
		if name == "mid" {
			want["debian_arch"] = "" // not set anywhere; Load defaults it to arch
		}
		for _, k := range keys {
			cmd := exec.Command("bash", "-c", `. ../scripts/lib.sh && board_key "$1" "$2" "$3"`, "sh", p, k[0], k[1])
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("board_key %s %s: %v: %s", name, k[0], err, out)
			}
			if got := strings.TrimSpace(string(out)); got != want[k[0]] {
				t.Errorf("board_key %s %s = %q, Load says %q", name, k[0], got, want[k[0]])
			}
		}
	}
}
