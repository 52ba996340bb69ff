// Package image builds the initramfs of a board: a file tree holding smbox,
// its applet links, the units and any extra files, written as a
// reproducible newc cpio archive and compressed the way the kernel expects.
//
// Everything here runs on the host; nothing of it links into smbox.
package image

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Kind is the type of a node in a Tree.
type Kind int

// The node kinds a Tree can hold.
const (
	KindFile Kind = iota
	KindDir
	KindSymlink
	KindCharDev
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	case KindCharDev:
		return "char device"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Node is one entry of a Tree. Path is relative to the archive root, without
// a leading slash once added. A file's content is Data, or when Source is set
// the host file at Source, read only when the archive is written.
type Node struct {
	Path   string
	Kind   Kind
	Perm   fs.FileMode // permission, setuid, setgid and sticky bits only
	Data   []byte
	Source string
	Target string // symlink target
	Major  uint32 // device numbers of a KindCharDev node
	Minor  uint32
}

// Tree is the file tree of an image. Adding a path creates its missing
// parent directories (0755); adding a path again replaces the earlier node.
// The zero value is not usable; call NewTree.
type Tree struct {
	nodes map[string]*Node
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{nodes: make(map[string]*Node)}
}

// cleanPath turns "/a//b/" or "a/b" into "a/b" and rejects paths that are
// empty or climb out of the root.
func cleanPath(p string) (string, error) {
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" || strings.Contains(p, "\x00") {
		return "", fmt.Errorf("invalid path %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("invalid path %q: climbs out of the root", p)
		}
	}
	return c, nil
}

// Add inserts n, replacing any node at the same path. Replacing a directory
// that has children by a non-directory, or nesting a path under a
// non-directory, is an error.
func (t *Tree) Add(n Node) error {
	p, err := cleanPath(n.Path)
	if err != nil {
		return err
	}
	n.Path = p
	n.Perm &= fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	switch n.Kind {
	case KindFile, KindDir, KindCharDev:
	case KindSymlink:
		if n.Target == "" {
			return fmt.Errorf("symlink %s: empty target", p)
		}
	default:
		return fmt.Errorf("%s: unknown node kind %v", p, n.Kind)
	}
	if err := t.addParents(p); err != nil {
		return err
	}
	if old, ok := t.nodes[p]; ok && old.Kind == KindDir && n.Kind != KindDir && t.hasChildren(p) {
		return fmt.Errorf("%s: cannot replace a non-empty directory by a %v", p, n.Kind)
	}
	t.nodes[p] = &n
	return nil
}

func (t *Tree) addParents(p string) error {
	var parents []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		parents = append(parents, d)
	}
	for i := len(parents) - 1; i >= 0; i-- {
		d := parents[i]
		if old, ok := t.nodes[d]; ok {
			if old.Kind != KindDir {
				return fmt.Errorf("%s: parent %s is a %v, not a directory", p, d, old.Kind)
			}
			continue
		}
		t.nodes[d] = &Node{Path: d, Kind: KindDir, Perm: 0o755}
	}
	return nil
}

func (t *Tree) hasChildren(dir string) bool {
	prefix := dir + "/"
	for p := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// AddDir adds a directory, or changes the permission of an existing one.
func (t *Tree) AddDir(p string, perm fs.FileMode) error {
	return t.Add(Node{Path: p, Kind: KindDir, Perm: perm})
}

// AddFile adds a regular file holding data.
func (t *Tree) AddFile(p string, data []byte, perm fs.FileMode) error {
	return t.Add(Node{Path: p, Kind: KindFile, Perm: perm, Data: data})
}

// AddHostFile adds a regular file whose content is read from the host file
// src when the archive is written. src must exist and be a regular file now.
func (t *Tree) AddHostFile(p, src string, perm fs.FileMode) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: source %s is not a regular file", p, src)
	}
	return t.Add(Node{Path: p, Kind: KindFile, Perm: perm, Source: src})
}

// AddSymlink adds a symbolic link to target.
func (t *Tree) AddSymlink(p, target string) error {
	return t.Add(Node{Path: p, Kind: KindSymlink, Perm: 0o777, Target: target})
}

// AddCharDev adds a character device node.
func (t *Tree) AddCharDev(p string, perm fs.FileMode, major, minor uint32) error {
	return t.Add(Node{Path: p, Kind: KindCharDev, Perm: perm, Major: major, Minor: minor})
}

// Lookup returns a copy of the node at p.
func (t *Tree) Lookup(p string) (Node, bool) {
	c, err := cleanPath(p)
	if err != nil {
		return Node{}, false
	}
	n, ok := t.nodes[c]
	if !ok {
		return Node{}, false
	}
	return *n, true
}

// Len is the number of nodes, directories included.
func (t *Tree) Len() int { return len(t.nodes) }

// Nodes returns copies of all nodes in archive order: sorted by path
// component by component, so every directory comes right before its content.
func (t *Tree) Nodes() []Node {
	out := make([]Node, 0, len(t.nodes))
	for _, n := range t.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i].Path, out[j].Path) })
	return out
}

// pathLess orders paths as if '/' sorted before every other byte, which
// keeps "a/b" next to "a" rather than after "a-b".
func pathLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return true
		}
		if cb == '/' {
			return false
		}
		return ca < cb
	}
	return len(a) < len(b)
}
