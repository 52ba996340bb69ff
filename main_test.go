package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/image"
)

func TestDispatch(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"list", []string{"/bin/smbox", "--list"}, 0, "devctl\ndevmaster\nfsck\nhalt\nidentity\ninit\nmodprobe\nnetctl\nnetmaster\nnotify\npoweroff\nrandom-seed\nreboot\nsctl\nsm-exec\nsysmaster\n", ""},
		{"unknown argv0", []string{"/usr/bin/frob"}, 2, "", `unknown applet "frob"`},
		{"unknown argv1", []string{"smbox", "frob"}, 2, "", "applets: [devctl devmaster fsck halt identity init modprobe netctl netmaster notify"},
		{"bare smbox", []string{"smbox"}, 2, "", "applets:"},
		{"applet by argv1", []string{"smbox", "sctl"}, 2, "", ""},
		{"applet by argv0", []string{"/bin/sctl"}, 2, "", ""},
		{"init refuses to run as a normal process", []string{"/sbin/init"}, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := dispatch(tt.args, &out, &errb)
			if code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			if tt.out != "" && out.String() != tt.out {
				t.Errorf("stdout = %q, want %q", out.String(), tt.out)
			}
			if !strings.Contains(errb.String(), tt.err) {
				t.Errorf("stderr = %q, want it to contain %q", errb.String(), tt.err)
			}
		})
	}
}

// TestStaticBinary checks that smbox, as the image builder compiles it,
// needs no dynamic loader and no shared library.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles smbox")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "smbox")
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("has PT_INTERP")
				}
			}
			libs, err := f.ImportedLibraries()
			if err != nil {
				t.Fatal(err)
			}
			if len(libs) > 0 {
				t.Errorf("DT_NEEDED: %v", libs)
			}
			if st, err := os.Stat(bin); err == nil {
				t.Logf("smbox for %s: %d bytes", arch, st.Size())
			}
		})
	}
}

// TestImageLinksAreApplets keeps the image's symlinks and the applet table
// in step: every link must reach a real applet.
func TestImageLinksAreApplets(t *testing.T) {
	table := applets()
	for _, l := range image.AppletLinks() {
		name := filepath.Base(l)
		if name == "init" {
			continue
		}
		if _, ok := table[name]; !ok {
			t.Errorf("image link %s names no applet", l)
		}
	}
}

// BenchmarkSmboxSize reports the size of smbox as images carry it, next
// to the smallest static Go program built the same way: the ratio is what
// our applets cost.
func BenchmarkSmboxSize(b *testing.B) {
	dir := b.TempDir()
	hello := filepath.Join(dir, "hello.go")
	if err := os.WriteFile(hello, []byte("package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hi\\n\") }\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	build := func(arch, out string, pkg ...string) int64 {
		args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, pkg...)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
		st, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		return st.Size()
	}
	for _, arch := range []string{"amd64", "arm64"} {
		b.Run(arch, func(b *testing.B) {
			var smbox, peer int64
			for i := 0; i < b.N; i++ {
				smbox = build(arch, filepath.Join(dir, "smbox-"+arch), ".")
				peer = build(arch, filepath.Join(dir, "hello-"+arch), hello)
			}
			b.ReportMetric(float64(smbox), "smbox-bytes")
			b.ReportMetric(float64(peer), "hello-bytes")
			b.ReportMetric(float64(smbox)/float64(peer), "size-ratio")
		})
	}
}

// appletSets are the builds of smbox measured by BenchmarkSmboxAppletSets,
// from init alone to everything, with the applets each must list and the
// packages each must leave out.
var appletSets = []struct {
	name    string
	tags    string
	applets string
	without []string
}{
	{"init", "smbox_nocore,smbox_nodevmaster,smbox_nokmod,smbox_nonetwork,smbox_noexts", "init",
		[]string{"core", "core/sctl", "exts/devmaster", "exts/kmod", "exts/network", "exts/fsck"}},
	{"init+core+sctl", "smbox_nodevmaster,smbox_nokmod,smbox_nonetwork,smbox_noexts",
		"halt init notify poweroff reboot sctl sm-exec sysmaster",
		[]string{"exts/devmaster", "exts/kmod", "exts/network", "exts/fsck", "exts/identity", "exts/randomseed"}},
	{"+devmaster+modprobe", "smbox_nonetwork,smbox_noexts",
		"devctl devmaster halt init modprobe notify poweroff reboot sctl sm-exec sysmaster",
		[]string{"exts/network", "exts/fsck", "exts/identity", "exts/randomseed"}},
	{"+network", "smbox_noexts",
		"devctl devmaster halt init modprobe netctl netmaster notify poweroff reboot sctl sm-exec sysmaster",
		[]string{"exts/fsck", "exts/identity", "exts/randomseed"}},
	{"everything", "",
		"devctl devmaster fsck halt identity init modprobe netctl netmaster notify poweroff random-seed reboot sctl sm-exec sysmaster",
		nil},
}

// TestAppletSets checks that each set's build tags leave its packages
// out, and that a build of each set lists exactly its applets.
func TestAppletSets(t *testing.T) {
	for _, set := range appletSets {
		t.Run(set.name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-tags", set.tags, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := map[string]bool{}
			for _, p := range strings.Fields(string(out)) {
				deps[p] = true
			}
			for _, p := range set.without {
				if deps["github.com/sysmaster-go/sysmaster/"+p] {
					t.Errorf("links %s", p)
				}
			}
			if testing.Short() {
				return
			}
			bin := filepath.Join(t.TempDir(), "smbox")
			build := exec.Command("go", "build", "-tags", set.tags, "-o", bin, ".")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			list, err := exec.Command(bin, "--list").Output()
			if err != nil {
				t.Fatalf("smbox --list: %v", err)
			}
			if got := strings.Join(strings.Fields(string(list)), " "); got != set.applets {
				t.Errorf("applets %q, want %q", got, set.applets)
			}
		})
	}
}

// BenchmarkSmboxAppletSets reports the size of smbox, built as images
// carry it, for each applet set.
func BenchmarkSmboxAppletSets(b *testing.B) {
	dir := b.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		for _, set := range appletSets {
			b.Run(arch+"/"+set.name, func(b *testing.B) {
				out := filepath.Join(dir, "smbox-"+arch)
				var size int64
				for i := 0; i < b.N; i++ {
					cmd := exec.Command("go", "build", "-tags", set.tags, "-trimpath", "-ldflags=-s -w", "-o", out, ".")
					cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
					if msg, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("go build: %v\n%s", err, msg)
					}
					st, err := os.Stat(out)
					if err != nil {
						b.Fatal(err)
					}
					size = st.Size()
				}
				b.ReportMetric(float64(size), "smbox-bytes")
			})
		}
	}
}

// TestNoHostPackages keeps host-only code out of smbox: the image builder,
// QEMU, disk images (go-diskfs) and u-root's device tree writer are for
// smimage alone. It also keeps out runtime/metrics, whose package
// initialisation every applet would pay at its start (init/memory.go).
func TestNoHostPackages(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, host := range []string{"github.com/diskfs/", "github.com/u-root/u-root/pkg/dt",
			"github.com/sysmaster-go/sysmaster/image", "github.com/sysmaster-go/sysmaster/qemu"} {
			if strings.HasPrefix(pkg, host) {
				t.Errorf("smbox links the host-only package %s", pkg)
			}
		}
		if pkg == "runtime/metrics" {
			t.Errorf("smbox links runtime/metrics: its initialisation slows every applet's start")
		}
	}
}
