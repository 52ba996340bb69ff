package image

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
)

// FileSize is a member of an image, its type and its size.
type FileSize struct {
	Path string `json:"path"`
	Type string `json:"type"` // file, dir, symlink, char, block, fifo, socket
	Size int64  `json:"size"`
}

// typeName names the type of a member for Diff.
func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeCharDevice != 0:
		return "char"
	case m&fs.ModeDevice != 0:
		return "block"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "other"
}

// Change is a member that both images have, with what differs: "type",
// "content", "mode", "owner", "target" (of a link) or "device".
type Change struct {
	Path    string   `json:"path"`
	Type    string   `json:"type"` // the new member's`
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	Delta   int64    `json:"delta"`
	What    []string `json:"what"`
}

// Difference is what Diff reports, each list sorted by path. Sizes are of
// the members' data (uncompressed): a file's bytes, a link's target.
type Difference struct {
	Added   []FileSize `json:"added"`
	Removed []FileSize `json:"removed"`
	Changed []Change   `json:"changed"`
	// OldBytes and NewBytes add up the sizes of all members of each image.
	OldBytes int64 `json:"old_bytes"`
	NewBytes int64 `json:"new_bytes"`
	Delta    int64 `json:"delta"`
}

// member is an Entry with a digest of its data.
type member struct {
	Entry
	sum [sha256.Size]byte
}

func readMembers(r io.Reader) (map[string]member, int64, error) {
	ms := make(map[string]member)
	var total int64
	err := Walk(r, func(e Entry, data io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, data); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		m := member{Entry: e}
		h.Sum(m.sum[:0])
		ms[e.Name] = m
		total += e.Size
		return nil
	})
	return ms, total, err
}

// Diff compares two cpio images (compressed any way Inspect reads). Inode
// numbers and mtimes are not compared: they change with any added file and
// with SOURCE_DATE_EPOCH.
func Diff(oldImage, newImage io.Reader) (*Difference, error) {
	a, aTotal, err := readMembers(oldImage)
	if err != nil {
		return nil, fmt.Errorf("old image: %w", err)
	}
	b, bTotal, err := readMembers(newImage)
	if err != nil {
		return nil, fmt.Errorf("new image: %w", err)
	}
	d := &Difference{Added: []FileSize{}, Removed: []FileSize{}, Changed: []Change{},
		OldBytes: aTotal, NewBytes: bTotal, Delta: bTotal - aTotal}
	for name, m := range b {
		old, ok := a[name]
		if !ok {
			d.Added = append(d.Added, FileSize{name, typeName(m.Mode), m.Size})
			continue
		}
		if what := compareMembers(old, m); len(what) > 0 {
			d.Changed = append(d.Changed, Change{Path: name, Type: typeName(m.Mode), OldSize: old.Size, NewSize: m.Size, Delta: m.Size - old.Size, What: what})
		}
	}
	for name, m := range a {
		if _, ok := b[name]; !ok {
			d.Removed = append(d.Removed, FileSize{name, typeName(m.Mode), m.Size})
		}
	}
	sort.Slice(d.Added, func(i, j int) bool { return d.Added[i].Path < d.Added[j].Path })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].Path < d.Removed[j].Path })
	sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].Path < d.Changed[j].Path })
	return d, nil
}

func compareMembers(a, b member) []string {
	if a.Mode.Type() != b.Mode.Type() {
		return []string{"type"}
	}
	var what []string
	if a.sum != b.sum || a.Size != b.Size {
		if a.Mode&fs.ModeSymlink != 0 || a.Linkname != b.Linkname {
			what = append(what, "target")
		} else {
			what = append(what, "content")
		}
	} else if a.Linkname != b.Linkname {
		what = append(what, "target")
	}
	if a.Mode.Perm() != b.Mode.Perm() || a.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != b.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
		what = append(what, "mode")
	}
	if a.UID != b.UID || a.GID != b.GID {
		what = append(what, "owner")
	}
	if a.Major != b.Major || a.Minor != b.Minor {
		what = append(what, "device")
	}
	return slices.Compact(what)
}
