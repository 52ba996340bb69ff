package image

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func cpioOf(t *testing.T, build func(*Tree) error, mtime time.Time) *bytes.Reader {
	t.Helper()
	tr := NewTree()
	if err := build(tr); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, err := NewCompressor(&buf, Gzip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.WriteCPIO(zw, mtime); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

func TestDiff(t *testing.T) {
	old := cpioOf(t, func(tr *Tree) error {
		return errors.Join(
			tr.AddFile("/etc/same", []byte("same"), 0o644),
			tr.AddFile("/etc/gone", []byte("12345"), 0o644),
			tr.AddFile("/bin/grows", []byte("ab"), 0o755),
			tr.AddFile("/bin/chmod", []byte("x"), 0o755),
			tr.AddFile("/bin/same-size", []byte("aaaa"), 0o755),
			tr.AddSymlink("/bin/link", "/bin/a"),
			tr.AddFile("/etc/was-file", []byte("f"), 0o644),
		)
	}, time.Unix(0, 0))
	// Another mtime: not a change.
	new := cpioOf(t, func(tr *Tree) error {
		return errors.Join(
			tr.AddFile("/etc/same", []byte("same"), 0o644),
			tr.AddFile("/etc/new", []byte("1234567"), 0o644),
			tr.AddFile("/bin/grows", []byte("abcdef"), 0o755),
			tr.AddFile("/bin/chmod", []byte("x"), 0o700),
			tr.AddFile("/bin/same-size", []byte("bbbb"), 0o755),
			tr.AddSymlink("/bin/link", "/bin/bb"),
			tr.AddSymlink("/etc/was-file", "/x"),
		)
	}, time.Unix(1700000000, 0))
	d, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	wantAdded := []FileSize{{"etc/new", "file", 7}}
	wantRemoved := []FileSize{{"etc/gone", "file", 5}}
	wantChanged := []Change{
		{Path: "bin/chmod", Type: "file", OldSize: 1, NewSize: 1, What: []string{"mode"}},
		{Path: "bin/grows", Type: "file", OldSize: 2, NewSize: 6, Delta: 4, What: []string{"content"}},
		{Path: "bin/link", Type: "symlink", OldSize: 6, NewSize: 7, Delta: 1, What: []string{"target"}},
		{Path: "bin/same-size", Type: "file", OldSize: 4, NewSize: 4, What: []string{"content"}},
		{Path: "etc/was-file", Type: "symlink", OldSize: 1, NewSize: 2, Delta: 1, What: []string{"type"}},
	}
	if !reflect.DeepEqual(d.Added, wantAdded) || !reflect.DeepEqual(d.Removed, wantRemoved) {
		t.Errorf("added %+v removed %+v", d.Added, d.Removed)
	}
	if !reflect.DeepEqual(d.Changed, wantChanged) {
		t.Errorf("changed:\n got %+v\nwant %+v", d.Changed, wantChanged)
	}
	if d.Delta != d.NewBytes-d.OldBytes || d.Delta != 7-5+4+1+1 {
		t.Errorf("delta %d (old %d new %d)", d.Delta, d.OldBytes, d.NewBytes)
	}

	// The same image twice: nothing.
	again := cpioOf(t, func(tr *Tree) error { return nil }, time.Unix(0, 0))
	same := cpioOf(t, func(tr *Tree) error { return nil }, time.Unix(0, 0))
	if d, err := Diff(again, same); err != nil || len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.Delta != 0 {
		t.Errorf("same images: %+v %v", d, err)
	}
	old.Seek(0, 0)
	if _, err := Diff(old, strings.NewReader("not an image")); err == nil || !strings.Contains(err.Error(), "new image") {
		t.Errorf("junk: %v", err)
	}
}
