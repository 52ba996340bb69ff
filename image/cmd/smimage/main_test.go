package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	smbox := filepath.Join(dir, "smbox")
	if err := os.WriteFile(smbox, []byte("fake\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "img.cpio.lz4")
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("junk junk"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"no command", nil, 2, nil, []string{"smimage: missing command", "usage:"}},
		{"unknown command", []string{"frob"}, 2, nil, []string{`unknown command "frob"`}},
		{"help", []string{"help"}, 0, []string{"smimage build"}, nil},
		{"boards", []string{"boards"}, 0, []string{"NAME ", "\nqemu-x86_64 ", "amd64", "cpio", "x86_64 PC (QEMU q35)", "\nqemu-aarch64 "}, nil},
		{"boards missing file", []string{"boards", filepath.Join(dir, "nope.toml")}, 1, nil, []string{"nope.toml", "no such file"}},
		{"boards bad flag", []string{"boards", "--yaml"}, 2, nil, []string{"flag provided but not defined"}},
		{"build without board", []string{"build"}, 2, nil, []string{"--board is required"}},
		{"build bad flag", []string{"build", "--nope"}, 2, nil, []string{"flag provided but not defined"}},
		{"build bad compress", []string{"build", "--board", "qemu-x86_64", "--compress", "bz2"}, 2, nil, []string{"unknown compression"}},
		{"build bad extra", []string{"build", "--board", "qemu-x86_64", "--extra", "nodst"}, 2, nil, []string{"SRC:DST"}},
		{"build bad deb", []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox, "--modules", "none", "--deb", "../x", "-o", img + ".3"}, 1, nil, []string{`--deb "../x": not a Debian package name`}},
		{"build static only", []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox, "--modules", "none", "--static-only", "--extra", "/bin/ls:/bin/ls", "-o", img + ".4"}, 1, nil, []string{"/bin/ls: dynamically linked", "--static-only"}},
		{"build unknown board", []string{"build", "--board", "nope"}, 1, nil, []string{"smimage: board", "unknown board"}},
		{"build", []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox, "--units", dir,
			"--compress", "lz4", "--extra", smbox + ":/usr/bin/copy", "--modules", "none", "-o", img}, 0, nil, nil},
		{"build missing modules", []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox,
			"--modules", filepath.Join(dir, "nope"), "-o", img + ".2"}, 1, nil, []string{"kernel modules", filepath.Join(dir, "nope")}},
		{"inspect", []string{"inspect", img}, 0, []string{
			"lrwxrwxrwx        10 init -> /bin/smbox\n",
			"crw-------      5, 1 dev/console\n",
			"-rwxr-xr-x         5 usr/bin/copy\n",
			"drwxrwxrwt         0 tmp\n",
		}, nil},
		{"inspect junk", []string{"inspect", junk}, 1, nil, []string{"smimage: " + junk + ": unknown format"}},
		{"inspect missing", []string{"inspect", filepath.Join(dir, "nope")}, 1, nil, []string{"no such file"}},
		{"inspect no file", []string{"inspect"}, 2, nil, []string{"want one FILE"}},
		{"boot without board", []string{"boot", img}, 2, nil, []string{"--board is required"}},
		{"boot without image", []string{"boot", "--board", "qemu-x86_64"}, 2, nil, []string{"want one IMAGE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if tt.wantCode == 1 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("error is not one line:\n%s", stderr.String())
			}
		})
	}
}

func TestBoardsJSON(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child.toml")
	body := "inherit = \"qemu-aarch64\"\ndescription = \"a child\"\narch = \"arm\"\ngoarm = \"7\"\ndebian_arch = \"armhf\"\n"
	if err := os.WriteFile(child, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"boards", "--json", "qemu-x86_64", child}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got []boardInfo
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	want := []boardInfo{
		{Name: "qemu-x86_64", Arch: "amd64", DebianArch: "amd64", Formats: []string{"cpio"}, Description: "x86_64 PC (QEMU q35), Debian cloud kernel"},
		{Name: "child", Arch: "arm", GOARM: "7", DebianArch: "armhf", Formats: []string{"cpio"}, Inherit: "qemu-aarch64", Description: "a child"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("boards --json = %+v, want %+v", got, want)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"boards", child}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "child  armv7  cpio     a child") {
		t.Errorf("boards %s: exit %d\n%s", child, code, stdout.String())
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	smbox := filepath.Join(dir, "smbox")
	if err := os.WriteFile(smbox, []byte("fake\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(dir, "motd")
	if err := os.WriteFile(extra, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.cpio.gz"), filepath.Join(dir, "b.cpio.zst")
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	base := []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox, "--units", dir, "--modules", "none"}
	if code := run(ctx, append(base, "-o", a), &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if code := run(ctx, append(base, "--compress", "zstd", "--extra", extra+":/etc/motd", "-o", b), &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if code := run(ctx, []string{"diff", a, b}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"+          6  etc/motd\n", "1 added (+6 bytes), 0 removed (0 bytes), 0 changed (0 bytes)\n", "content: ", "(+6); image file: "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("diff output lacks %q:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if code := run(ctx, []string{"diff", "--json", b, a}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Removed []struct {
			Path string
			Size int64
		}
		Delta     int64
		FileDelta int64 `json:"file_delta"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Removed) != 1 || rep.Removed[0].Path != "etc/motd" || rep.Removed[0].Size != 6 || rep.Delta != -6 || rep.FileDelta == 0 {
		t.Errorf("diff --json = %+v", rep)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diff", a}, 2, "want two images"},
		{[]string{"diff", a, filepath.Join(dir, "nope")}, 1, "no such file"},
		{[]string{"diff", a, smbox}, 1, "new image"},
	} {
		stderr.Reset()
		if code := run(ctx, tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}

func TestBuildDefaultOutput(t *testing.T) {
	dir := t.TempDir()
	smbox := filepath.Join(dir, "smbox")
	if err := os.WriteFile(smbox, []byte("fake\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"build", "--board", "qemu-aarch64", "--smbox", smbox, "--compress", "xz", "--modules", "none"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "qemu-aarch64", "initramfs.cpio.xz")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(stderr.String(), "files,") {
		t.Errorf("no summary on stderr:\n%s", stderr.String())
	}
}

func TestBuildModulesFromCache(t *testing.T) {
	dir := t.TempDir()
	smbox := filepath.Join(dir, "smbox")
	if err := os.WriteFile(smbox, []byte("fake\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	t.Setenv("SYSMASTER_CACHE", cache)
	args := []string{"build", "-q", "--board", "qemu-x86_64", "--smbox", smbox, "-o", filepath.Join(dir, "img")}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "run scripts/fetch-kernel qemu-x86_64") {
		t.Errorf("no modules in the cache: exit %d, stderr %q; want 1 and a hint to fetch the kernel", code, stderr.String())
	}
	// The tree that scripts/fetch-kernel unpacked is the default.
	tree := filepath.Join(cache, "kernel", "qemu-x86_64", "lib", "modules", "6.1.0-9-cloud-amd64")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not found in "+tree) {
		t.Errorf("empty tree in the cache: exit %d, stderr %q; want the board's modules missing from %s", code, stderr.String(), tree)
	}
}
