package image

import (
	"io/fs"
	"strings"
	"testing"
)

func TestTreeAdd(t *testing.T) {
	tests := []struct {
		name    string
		build   func(*Tree) error
		wantErr string
		want    map[string]Node // checked fields: Kind, Perm, Target, Data
	}{
		{
			name:  "parents implied",
			build: func(tr *Tree) error { return tr.AddFile("/a/b/c", []byte("x"), 0o644) },
			want: map[string]Node{
				"a":     {Kind: KindDir, Perm: 0o755},
				"a/b":   {Kind: KindDir, Perm: 0o755},
				"a/b/c": {Kind: KindFile, Perm: 0o644, Data: []byte("x")},
			},
		},
		{
			name: "later add replaces",
			build: func(tr *Tree) error {
				if err := tr.AddFile("etc/x", []byte("old"), 0o600); err != nil {
					return err
				}
				return tr.AddSymlink("etc/x", "/y")
			},
			want: map[string]Node{"etc": {Kind: KindDir, Perm: 0o755}, "etc/x": {Kind: KindSymlink, Perm: 0o777, Target: "/y"}},
		},
		{
			name: "explicit dir mode kept when a child is added",
			build: func(tr *Tree) error {
				if err := tr.AddDir("root", 0o700); err != nil {
					return err
				}
				return tr.AddFile("root/f", nil, 0o600)
			},
			want: map[string]Node{"root": {Kind: KindDir, Perm: 0o700}, "root/f": {Kind: KindFile, Perm: 0o600}},
		},
		{
			name:  "special bits kept, type bits dropped",
			build: func(tr *Tree) error { return tr.AddFile("su", nil, fs.ModeSetuid|fs.ModeDir|0o755) },
			want:  map[string]Node{"su": {Kind: KindFile, Perm: fs.ModeSetuid | 0o755}},
		},
		{
			name:  "char device",
			build: func(tr *Tree) error { return tr.AddCharDev("dev/tty", 0o620, 5, 0) },
			want:  map[string]Node{"dev": {Kind: KindDir, Perm: 0o755}, "dev/tty": {Kind: KindCharDev, Perm: 0o620}},
		},
		{
			name: "child of a file",
			build: func(tr *Tree) error {
				if err := tr.AddFile("f", nil, 0o644); err != nil {
					return err
				}
				return tr.AddFile("f/g", nil, 0o644)
			},
			wantErr: "parent f is a file",
		},
		{
			name: "non-empty dir replaced by file",
			build: func(tr *Tree) error {
				if err := tr.AddFile("d/f", nil, 0o644); err != nil {
					return err
				}
				return tr.AddFile("d", nil, 0o644)
			},
			wantErr: "non-empty directory",
		},
		{name: "empty path", build: func(tr *Tree) error { return tr.AddDir("", 0o755) }, wantErr: "invalid path"},
		{name: "root path", build: func(tr *Tree) error { return tr.AddDir("/", 0o755) }, wantErr: "invalid path"},
		{name: "dotdot", build: func(tr *Tree) error { return tr.AddFile("a/../../b", nil, 0o644) }, wantErr: "climbs out"},
		{name: "empty link", build: func(tr *Tree) error { return tr.AddSymlink("l", "") }, wantErr: "empty target"},
		{name: "missing host file", build: func(tr *Tree) error { return tr.AddHostFile("x", "/nonexistent/file", 0o644) }, wantErr: "no such file"},
		{name: "host dir", build: func(tr *Tree) error { return tr.AddHostFile("x", "/", 0o644) }, wantErr: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTree()
			err := tt.build(tr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d: %v", tr.Len(), len(tt.want), tr.Nodes())
			}
			for p, w := range tt.want {
				n, ok := tr.Lookup(p)
				if !ok {
					t.Errorf("%s missing", p)
					continue
				}
				if n.Kind != w.Kind || n.Perm != w.Perm || n.Target != w.Target || string(n.Data) != string(w.Data) {
					t.Errorf("%s = %+v, want %+v", p, n, w)
				}
			}
		})
	}
}

func TestNodesOrder(t *testing.T) {
	tr := NewTree()
	for _, p := range []string{"b", "a-b/x", "a/z", "a/b/c", "a.b", "a/b-c"} {
		if err := tr.AddFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, n := range tr.Nodes() {
		got = append(got, n.Path)
	}
	want := "a a/b a/b/c a/b-c a/z a-b a-b/x a.b b"
	if strings.Join(got, " ") != want {
		t.Errorf("order = %q, want %q", strings.Join(got, " "), want)
	}
}
