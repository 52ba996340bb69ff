package board

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// source is the text of one board file and where it came from.
type source struct {
	file    string // as errors name it: board/NAME.toml, or the path given
	name    string
	data    []byte
	builtin bool // embedded in the binary rather than read from disk
}

// key tells two sources apart for the cycle check.
func (s source) key() string {
	if s.builtin {
		return "builtin:" + s.name
	}
	if abs, err := filepath.Abs(s.file); err == nil {
		return abs
	}
	return s.file
}

func builtinSource(name string) (source, error) {
	if !fs.ValidPath(name+".toml") || strings.Contains(name, "/") {
		return source{}, fs.ErrNotExist
	}
	data, err := builtin.ReadFile(name + ".toml")
	if err != nil {
		return source{}, err
	}
	return source{file: "board/" + name + ".toml", name: name, data: data, builtin: true}, nil
}

// inheritKey is the one key read before the board is decoded.
type inheritKey struct {
	Inherit string `toml:"inherit"`
}

// resolve returns the chain of boards src inherits from, src first and the
// root last. A parent that does not exist and a cycle are errors naming the
// file that says inherit and the chain so far.
func resolve(src source) ([]source, error) {
	chain := []source{src}
	seen := map[string]bool{src.key(): true}
	for cur := src; ; {
		var ik inheritKey
		if _, err := toml.Decode(string(cur.data), &ik); err != nil {
			// decodeStrict reports it with its line.
			return chain, nil
		}
		if ik.Inherit == "" {
			return chain, nil
		}
		parent, err := lookupParent(cur, ik.Inherit)
		if err != nil {
			return nil, fmt.Errorf("%s: inherit %q: %w (chain: %s -> %s)",
				cur.file, ik.Inherit, err, chainNames(chain), ik.Inherit)
		}
		if seen[parent.key()] {
			return nil, fmt.Errorf("%s: inherit %q: cycle (chain: %s -> %s)",
				cur.file, ik.Inherit, chainNames(chain), parent.name)
		}
		seen[parent.key()] = true
		chain = append(chain, parent)
		cur = parent
	}
}

// lookupParent finds the board named by inherit in cur: a path ending in
// .toml is relative to cur's folder; a bare name is a file NAME.toml next
// to a board file on disk (other than cur itself), else a built-in board.
func lookupParent(cur source, name string) (source, error) {
	if strings.HasSuffix(name, ".toml") {
		base := strings.TrimSuffix(path.Base(name), ".toml")
		if cur.builtin {
			// Built-in boards inherit only built-in boards.
			src, err := builtinSource(strings.TrimSuffix(path.Clean(name), ".toml"))
			if err != nil {
				return source{}, fmt.Errorf("%w: not a built-in board", ErrUnknown)
			}
			return src, nil
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cur.file), name)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return source{}, fmt.Errorf("%w: no file %s", ErrUnknown, p)
			}
			return source{}, err
		}
		return source{file: p, name: base, data: data}, nil
	}
	if !cur.builtin {
		p := filepath.Join(filepath.Dir(cur.file), name+".toml")
		// A file named like the built-in board it inherits from
		// (./qemu-aarch64.toml with inherit = "qemu-aarch64") means that one.
		if (source{file: p}).key() == cur.key() {
			if src, err := builtinSource(name); err == nil {
				return src, nil
			}
			return cur, nil // inherits itself: resolve reports the cycle
		}
		if data, err := os.ReadFile(p); err == nil {
			return source{file: p, name: name, data: data}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return source{}, err
		}
	}
	src, err := builtinSource(name)
	if err != nil {
		return source{}, ErrUnknown
	}
	return src, nil
}

func chainNames(chain []source) string {
	names := make([]string, len(chain))
	for i, s := range chain {
		names[i] = s.name
	}
	return strings.Join(names, " -> ")
}

// decodeChain decodes the boards of chain (child first) into b: each file
// is checked strictly on its own, so an error names the file and line that
// has it; then the child's keys are laid over its parent's. Tables merge
// key by key, at every depth; any other value, arrays included, replaces
// the parent's whole (a child that wants one more module lists them all).
func decodeChain(chain []source, b *Board) error {
	merged := map[string]any{}
	for i := len(chain) - 1; i >= 0; i-- {
		var check Board
		if err := decodeStrict(chain[i], &check); err != nil {
			return err
		}
		var raw map[string]any
		if _, err := toml.Decode(string(chain[i].data), &raw); err != nil {
			return fmt.Errorf("%s: %w", chain[i].file, err)
		}
		mergeTables(merged, raw)
	}
	delete(merged, "inherit")
	// Decoding goes through TOML again so that the one set of struct tags
	// and type checks applies to merged boards too.
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(merged); err != nil {
		return fmt.Errorf("%s: merging with %s: %w", chain[0].file, chainNames(chain[1:]), err)
	}
	if _, err := toml.Decode(buf.String(), b); err != nil {
		return fmt.Errorf("%s: merging with %s: %w", chain[0].file, chainNames(chain[1:]), err)
	}
	b.Inherit = chain[1].name
	return nil
}

// mergeTables lays src over dst: tables merge recursively, other values
// replace.
func mergeTables(dst, src map[string]any) {
	for k, v := range src {
		sub, isTable := v.(map[string]any)
		have, hadTable := dst[k].(map[string]any)
		if isTable && hadTable {
			mergeTables(have, sub)
			continue
		}
		if isTable {
			// A copy, so that a later merge does not write into src.
			cp := map[string]any{}
			mergeTables(cp, sub)
			v = cp
		}
		dst[k] = v
	}
}
