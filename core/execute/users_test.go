package execute

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLookupUser(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"etc/passwd": "# comment\n\nroot:x:0:0:root:/root:/bin/sh\n+nis\nshort:x:1\n" +
			"www:x:33:34:www-data:/var/www:/usr/sbin/nologin\nbad:x:abc:1::/:/bin/sh\n",
	})
	tests := []struct {
		name, user string
		uid, gid   uint32
		home       string
		err        error // wrapped error expected, or nil
		fails      bool
	}{
		{name: "by name", user: "www", uid: 33, gid: 34, home: "/var/www"},
		{name: "root", user: "root", uid: 0, gid: 0, home: "/root"},
		{name: "numeric listed", user: "33", uid: 33, gid: 34, home: "/var/www"},
		{name: "numeric unlisted", user: "4242", uid: 4242, gid: 4242, home: "/"},
		{name: "unknown", user: "nosuch", err: ErrNotFound, fails: true},
		{name: "short line skipped", user: "short", err: ErrNotFound, fails: true},
		{name: "bad uid", user: "bad", fails: true},
		{name: "uid -1 rejected", user: "4294967295", err: ErrNotFound, fails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uid, gid, home, err := LookupUserIn(root, tc.user)
			if tc.fails {
				if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uid != tc.uid || gid != tc.gid || home != tc.home {
				t.Errorf("got %d %d %q, want %d %d %q", uid, gid, home, tc.uid, tc.gid, tc.home)
			}
		})
	}
	if _, _, _, err := LookupUserIn(t.TempDir(), "www"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing passwd: %v", err)
	}
	if uid, _, _, err := LookupUserIn(t.TempDir(), "7"); err != nil || uid != 7 {
		t.Errorf("numeric without passwd: %d %v", uid, err)
	}
}

func TestLookupGroup(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"etc/group": "root:x:0:\nwheel:x:10:alice,bob\nbroken:x:zz:\n",
	})
	tests := []struct {
		name, group string
		gid         uint32
		err         error
		fails       bool
	}{
		{name: "by name", group: "wheel", gid: 10},
		{name: "numeric", group: "65534", gid: 65534},
		{name: "unknown", group: "nosuch", err: ErrNotFound, fails: true},
		{name: "bad gid", group: "broken", fails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gid, err := LookupGroupIn(root, tc.group)
			if tc.fails {
				if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || gid != tc.gid {
				t.Errorf("got %d %v, want %d", gid, err, tc.gid)
			}
		})
	}
}

func TestLookupReal(t *testing.T) {
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("no /etc/passwd")
	}
	uid, gid, home, err := LookupUser("root")
	if err != nil || uid != 0 || gid != 0 || home == "" {
		t.Errorf("root: %d %d %q %v", uid, gid, home, err)
	}
	if g, err := LookupGroup("root"); err != nil || g != 0 {
		t.Errorf("group root: %d %v", g, err)
	}
}
