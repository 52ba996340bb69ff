package image

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
)

// sampleTree is a tree with one node of every kind.
func sampleTree(t *testing.T) *Tree {
	t.Helper()
	host := filepath.Join(t.TempDir(), "host.bin")
	if err := os.WriteFile(host, []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := NewTree()
	for _, err := range []error{
		tr.AddFile("/bin/smbox", []byte("binary"), 0o755),
		tr.AddSymlink("/init", "/bin/smbox"),
		tr.AddHostFile("/etc/host.txt", host, 0o644),
		tr.AddFile("/etc/empty", nil, 0o600),
		tr.AddCharDev("/dev/ttyS0", 0o660, 4, 64),
		tr.AddFile("/usr/bin/su", []byte("su"), fs.ModeSetuid|0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

type wantEntry struct {
	mode  fs.FileMode
	data  string // content, or symlink target
	major uint32
	minor uint32
}

func sampleWant() map[string]wantEntry {
	return map[string]wantEntry{
		"bin":          {mode: fs.ModeDir | 0o755},
		"bin/smbox":    {mode: 0o755, data: "binary"},
		"dev":          {mode: fs.ModeDir | 0o755},
		"dev/console":  {mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, major: 5, minor: 1},
		"dev/null":     {mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, major: 1, minor: 3},
		"dev/ttyS0":    {mode: fs.ModeDevice | fs.ModeCharDevice | 0o660, major: 4, minor: 64},
		"etc":          {mode: fs.ModeDir | 0o755},
		"etc/empty":    {mode: 0o600},
		"etc/host.txt": {mode: 0o644, data: "from the host\n"},
		"init":         {mode: fs.ModeSymlink | 0o777, data: "/bin/smbox"},
		"lib":          {mode: fs.ModeDir | 0o755},
		"proc":         {mode: fs.ModeDir | 0o755},
		"root":         {mode: fs.ModeDir | 0o700},
		"run":          {mode: fs.ModeDir | 0o755},
		"sbin":         {mode: fs.ModeDir | 0o755},
		"sys":          {mode: fs.ModeDir | 0o755},
		"tmp":          {mode: fs.ModeDir | fs.ModeSticky | 0o777},
		"usr":          {mode: fs.ModeDir | 0o755},
		"usr/bin":      {mode: fs.ModeDir | 0o755},
		"usr/bin/su":   {mode: fs.ModeSetuid | 0o755, data: "su"},
	}
}

var sampleOrder = "bin bin/smbox dev dev/console dev/null dev/ttyS0 etc etc/empty etc/host.txt init lib proc root run sbin sys tmp usr usr/bin usr/bin/su"

func TestWriteCPIO(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	n, err := sampleTree(t).WriteCPIO(&buf, mtime)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n%4 != 0 {
		t.Errorf("WriteCPIO returned %d, wrote %d bytes", n, buf.Len())
	}
	want := sampleWant()

	t.Run("cavaliergopher reader", func(t *testing.T) {
		r := cpio.NewReader(bytes.NewReader(buf.Bytes()))
		var names []string
		inodes := map[int64]bool{}
		for {
			h, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
			w, ok := want[h.Name]
			if !ok {
				t.Errorf("unexpected entry %s", h.Name)
				continue
			}
			if fi := h.FileInfo(); fi.Mode() != w.mode {
				t.Errorf("%s: mode %v, want %v", h.Name, fi.Mode(), w.mode)
			}
			if h.Uid != 0 || h.Guid != 0 {
				t.Errorf("%s: owner %d:%d, want 0:0", h.Name, h.Uid, h.Guid)
			}
			if !h.ModTime.Equal(mtime) {
				t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, mtime)
			}
			if inodes[h.Inode] {
				t.Errorf("%s: inode %d reused", h.Name, h.Inode)
			}
			inodes[h.Inode] = true
			if h.Mode&cpio.ModeType == cpio.TypeSymlink {
				if h.Linkname != w.data {
					t.Errorf("%s: link %q, want %q", h.Name, h.Linkname, w.data)
				}
				continue
			}
			data, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != w.data {
				t.Errorf("%s: data %q, want %q", h.Name, data, w.data)
			}
		}
		if got := strings.Join(names, " "); got != sampleOrder {
			t.Errorf("order\n got %s\nwant %s", got, sampleOrder)
		}
	})

	t.Run("Inspect", func(t *testing.T) {
		entries, err := Inspect(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, e := range entries {
			names = append(names, e.Name)
			w := want[e.Name]
			if e.Mode != w.mode || e.Major != w.major || e.Minor != w.minor || e.UID != 0 || e.GID != 0 || !e.ModTime.Equal(mtime) {
				t.Errorf("%s: %+v, want %+v", e.Name, e, w)
			}
			if e.Mode&fs.ModeSymlink != 0 && e.Linkname != w.data {
				t.Errorf("%s: link %q, want %q", e.Name, e.Linkname, w.data)
			}
			if e.Inode != uint32(i+1) {
				t.Errorf("%s: inode %d, want %d", e.Name, e.Inode, i+1)
			}
		}
		if got := strings.Join(names, " "); got != sampleOrder {
			t.Errorf("order\n got %s\nwant %s", got, sampleOrder)
		}
	})

	t.Run("host cpio", func(t *testing.T) {
		if _, err := exec.LookPath("cpio"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("cpio not on PATH, and CI=true")
			}
			t.Skip("cpio not on PATH")
		}
		cmd := exec.Command("cpio", "-t", "-v", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cpio -tv: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var names []string
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 9 {
				t.Fatalf("odd cpio line %q", l)
			}
			name := f[len(f)-1]
			if len(f) > 2 && f[len(f)-2] == "->" {
				name = f[len(f)-3]
			}
			names = append(names, name)
			w := want[name]
			if f[0] != ModeString(w.mode) {
				t.Errorf("%s: cpio says %s, want %s", name, f[0], ModeString(w.mode))
			}
			if f[2] != "root" || f[3] != "root" {
				t.Errorf("%s: owner %s:%s", name, f[2], f[3])
			}
			switch name {
			case "dev/console":
				if f[4] != "5," || f[5] != "1" {
					t.Errorf("dev/console: %q, want device 5, 1", l)
				}
			case "init":
				if !strings.HasSuffix(l, "init -> /bin/smbox") {
					t.Errorf("init: %q", l)
				}
			}
		}
		if got := strings.Join(names, " "); got != sampleOrder {
			t.Errorf("order\n got %s\nwant %s", got, sampleOrder)
		}
	})
}

func TestWriteCPIOBadMtime(t *testing.T) {
	for _, mt := range []time.Time{time.Unix(-1, 0), time.Unix(1<<33, 0)} {
		if _, err := NewTree().WriteCPIO(io.Discard, mt); err == nil {
			t.Errorf("mtime %v: no error", mt)
		}
	}
}

func TestWriteCPIOHostFileGone(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := NewTree()
	if err := tr.AddHostFile("f", src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.WriteCPIO(io.Discard, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), src) {
		t.Errorf("err = %v, want one naming %s", err, src)
	}
}

func TestInspectBad(t *testing.T) {
	var good bytes.Buffer
	if _, err := sampleTree(t).WriteCPIO(&good, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data, wantErr string
	}{
		{"empty", "", "unknown format"},
		{"garbage", "hello world", "unknown format"},
		{"truncated", good.String()[:200], "unexpected EOF"},
		{"no trailer", good.String()[:strings.Index(good.String(), "TRAILER!!!")-110], "without a trailer"},
		{"bad hex", "070701" + strings.Repeat("Z", 104), "bad header field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(strings.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		want string
	}{
		{0o644, "-rw-r--r--"},
		{fs.ModeDir | 0o755, "drwxr-xr-x"},
		{fs.ModeDir | fs.ModeSticky | 0o777, "drwxrwxrwt"},
		{fs.ModeSymlink | 0o777, "lrwxrwxrwx"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o600, "crw-------"},
		{fs.ModeDevice | 0o660, "brw-rw----"},
		{fs.ModeSetuid | 0o755, "-rwsr-xr-x"},
		{fs.ModeSetgid | 0o644, "-rw-r-Sr--"},
		{fs.ModeNamedPipe | 0o600, "prw-------"},
	}
	for _, tt := range tests {
		if got := ModeString(tt.mode); got != tt.want {
			t.Errorf("ModeString(%v) = %s, want %s", tt.mode, got, tt.want)
		}
	}
}
