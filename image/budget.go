package image

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
)

// Contributor is a file of an image and its size, uncompressed.
type Contributor struct {
	Path string
	Size int64
}

// Largest returns the n largest regular files of t, largest first (ties
// by path).
func (t *Tree) Largest(n int) ([]Contributor, error) {
	var all []Contributor
	for _, node := range t.nodes {
		if node.Kind != KindFile {
			continue
		}
		size := int64(len(node.Data))
		if node.Source != "" {
			fi, err := os.Stat(node.Source)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", node.Path, err)
			}
			size = fi.Size()
		}
		all = append(all, Contributor{Path: "/" + node.Path, Size: size})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Size != all[j].Size {
			return all[i].Size > all[j].Size
		}
		return all[i].Path < all[j].Path
	})
	if len(all) > n {
		all = all[:n]
	}
	return all, nil
}

// checkMaxSize fails when an image of size bytes (what says which: the
// compression, or the format) is over the board's max_size, naming the ten
// largest files of t. The caller then discards what it wrote.
func checkMaxSize(b *board.Board, t *Tree, size int64, what string) error {
	if b.MaxSize <= 0 || size <= int64(b.MaxSize) {
		return nil
	}
	top, err := t.Largest(10)
	if err != nil {
		return err
	}
	parts := make([]string, len(top))
	for i, c := range top {
		parts[i] = fmt.Sprintf("%s %s", c.Path, humanBytes(c.Size))
	}
	return fmt.Errorf("image is %d bytes (%s), over max_size %s (%d bytes) by %d; largest files (uncompressed): %s",
		size, what, b.MaxSize, int64(b.MaxSize), size-int64(b.MaxSize), strings.Join(parts, ", "))
}

// humanBytes writes n in B, KiB or MiB with one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
