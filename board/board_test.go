package board

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinBoardsLoad(t *testing.T) {
	names := Names()
	for _, want := range []string{"qemu-x86_64", "qemu-aarch64"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Fatalf("built-in boards %v lack %s", names, want)
		}
	}
	for _, n := range names {
		b, err := Load(n)
		if err != nil {
			t.Fatalf("Load(%s): %v", n, err)
		}
		if b.Name != n || b.Arch == "" || b.QEMU.Binary == "" || b.Console == "" {
			t.Errorf("%s: incomplete board %+v", n, b)
		}
		if !strings.Contains(b.Cmdline, "console="+b.Console) {
			t.Errorf("%s: cmdline %q does not name console %s", n, b.Cmdline, b.Console)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, arg, want string
	}{
		{"unknown board", "no-such-board", "unknown board"},
		{"missing file", filepath.Join(dir, "missing.toml"), "no such file"},
		{"syntax", write("syn.toml", "arch = \"amd64\"\nbroken =\n"), "syn.toml:2"},
		{"unknown key", write("key.toml", "arch = \"amd64\"\nfoo = 1\n[kernel]\npackage=\"x\"\n[qemu]\nbinary=\"q\"\n"), `unknown key "foo"`},
		{"bad arch", write("arch.toml", "arch = \"vax\"\n[kernel]\npackage=\"x\"\n[qemu]\nbinary=\"q\"\n"), "not a supported GOARCH"},
		{"no kernel", write("nok.toml", "arch = \"amd64\"\n[qemu]\nbinary=\"q\"\n"), "kernel.package"},
		{"bad hostname", write("host.toml", "arch = \"amd64\"\nhostname = \"my_box\"\n[kernel]\npackage=\"x\"\n[qemu]\nbinary=\"q\"\n"), `hostname: "my_box": a hostname has only letters`},
		{"bad system key", write("sys.toml", "arch = \"amd64\"\n[kernel]\npackage=\"x\"\n[qemu]\nbinary=\"q\"\n[system.Manager]\nRuntimeWatchdog = \"10s\"\n"), `unknown key "system.Manager.RuntimeWatchdog"`},
		{"bad system value", write("sysv.toml", "arch = \"amd64\"\n[kernel]\npackage=\"x\"\n[qemu]\nbinary=\"q\"\n[system.Manager]\nRuntimeWatchdogSec = \"infinity\"\n"), "sysv.toml: system.Manager.RuntimeWatchdogSec: a watchdog cannot wait forever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.arg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%s) = %v, want error containing %q", tt.arg, err, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "myboard.toml")
	body := "arch = \"arm\"\ngoarm = \"7\"\nconsole = \"ttyAMA0\"\n[kernel]\npackage = \"linux-image-armmp-lpae\"\n[qemu]\nbinary = \"qemu-system-arm\"\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "myboard" || b.DebianArch != "arm" || b.Kernel.File != "vmlinuz-*" || b.QEMU.Memory != "512M" {
		t.Fatalf("defaults not applied: %+v", b)
	}
	// scripts/fetch-kernel is told the file, as the board was.
	if b.FetchRef() != p {
		t.Errorf("FetchRef = %q, want %q", b.FetchRef(), p)
	}
	if b, err := Load("qemu-x86_64"); err != nil || b.FetchRef() != "qemu-x86_64" {
		t.Errorf("built-in FetchRef = %q, %v", b.FetchRef(), err)
	}
}
