package proto

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newRoot lays out a root with the directories a switch needs; files maps
// paths to "x" (an executable), "-" (a plain file) or "->TARGET" (a link).
func newRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "new root")
	for _, d := range append([]string{"/sbin", "/bin", "/usr/bin"}, SwitchRootMounts...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, kind := range files {
		full := filepath.Join(root, p)
		var err error
		switch {
		case kind == "x":
			err = os.WriteFile(full, []byte("#!/bin/sh\n"), 0o755)
		case kind == "-":
			err = os.WriteFile(full, nil, 0o644)
		case strings.HasPrefix(kind, "->"):
			err = os.Symlink(kind[2:], full)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mountinfoFor(dir string) []byte {
	return []byte("22 1 0:21 / / rw - rootfs rootfs rw\n" +
		"30 22 7:0 / " + strings.ReplaceAll(dir, " ", `\040`) + " ro,relatime - squashfs /dev/vda ro\n")
}

func TestCheckSwitchRoot(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		init    string
		root    func(root string) string // the path asked for
		mounted bool
		want    string // the init chosen
		wantErr string
	}{
		{name: "default init", files: map[string]string{"/sbin/init": "x"}, mounted: true, want: "/sbin/init"},
		{name: "falls back to /init", files: map[string]string{"/init": "x"}, mounted: true, want: "/init"},
		{name: "named init", files: map[string]string{"/bin/sh": "x"}, init: "/bin/sh", mounted: true, want: "/bin/sh"},
		// An absolute link points inside the new root, not at the current one.
		{name: "absolute link resolved in the new root", files: map[string]string{"/bin/smbox": "x", "/sbin/init": "->/bin/smbox"}, mounted: true, want: "/sbin/init"},
		{name: "relative link through a linked directory", files: map[string]string{"/usr/bin/real": "x", "/lib": "->usr/bin", "/sbin/init": "->../lib/real"}, mounted: true, want: "/sbin/init"},
		{name: "link pointing outside the new root", files: map[string]string{"/sbin/init": "->/bin/sh-not-here"}, mounted: true, wantErr: "has no init"},
		{name: "link loop", files: map[string]string{"/sbin/init": "->/sbin/init"}, init: "/sbin/init", mounted: true, wantErr: "too many levels of symbolic links"},
		{name: "no init at all", mounted: true, wantErr: "has no init (/sbin/init: "},
		{name: "named init missing", files: map[string]string{"/sbin/init": "x"}, init: "/sbin/missing", mounted: true, wantErr: "init /sbin/missing: "},
		{name: "init not executable", files: map[string]string{"/sbin/init": "-"}, init: "/sbin/init", mounted: true, wantErr: "not executable"},
		{name: "init a directory", init: "/bin", mounted: true, wantErr: "not a regular file"},
		{name: "relative init", files: map[string]string{"/sbin/init": "x"}, init: "sbin/init", mounted: true, wantErr: `init "sbin/init" is not an absolute path`},
		{name: "not mounted", files: map[string]string{"/sbin/init": "x"}, wantErr: "is not a mount point"},
		{name: "relative root", root: func(string) string { return "newroot" }, mounted: true, wantErr: `new root "newroot" is not an absolute path`},
		{name: "the current root", root: func(string) string { return "/" }, mounted: true, wantErr: "new root is / already"},
		{name: "missing root", root: func(r string) string { return r + "-gone" }, mounted: true, wantErr: "no such file or directory"},
		{name: "root a file", files: map[string]string{"/f": "-"}, root: func(r string) string { return r + "/f" }, mounted: true, wantErr: "is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t, tc.files)
			asked := root
			if tc.root != nil {
				asked = tc.root(root)
			}
			mi := []byte("22 1 0:21 / / rw - rootfs rootfs rw\n")
			if tc.mounted {
				mi = mountinfoFor(filepath.Clean(asked))
			}
			got, err := CheckSwitchRoot(asked, tc.init, mi)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckSwitchRoot = %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CheckSwitchRoot = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckSwitchRootMissingMountDir(t *testing.T) {
	root := newRoot(t, map[string]string{"/sbin/init": "x"})
	if err := os.Remove(filepath.Join(root, "run")); err != nil {
		t.Fatal(err)
	}
	_, err := CheckSwitchRoot(root, "", mountinfoFor(root))
	if err == nil || !strings.Contains(err.Error(), "has no directory /run to move /run to") {
		t.Fatalf("err = %v", err)
	}
}

func TestSwitchRootMessage(t *testing.T) {
	root, init, ok := ParseSwitchRootMessage(SwitchRootMessage("/new root", "/sbin/init"))
	if !ok || root != "/new root" || init != "/sbin/init" {
		t.Fatalf("round trip = %q %q %v", root, init, ok)
	}
	for _, m := range []string{"control", "-control", "switch-root", "switch-root\x00/x"} {
		if _, _, ok := ParseSwitchRootMessage(m); ok {
			t.Errorf("%q parsed as a switch-root message", m)
		}
	}
}
