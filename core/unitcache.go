package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sysmaster-go/sysmaster/units"
)

// The decoded units are cached next to the state records, keyed by a
// digest of every file's name, size, time and link target under the unit
// directories (and the hostname, for %H): a restarted manager skips decoding the TOML again unless
// something there changed.
type unitCache struct {
	Key  [32]byte
	Good map[string]*units.Unit
	Bad  map[string]string
}

func (m *Manager) cachePath() string { return filepath.Join(m.cfg.StateDir, "units.cache") }

// unitDirsKey digests what decoding the unit directories depends on.
func unitDirsKey(dirs []string) [32]byte {
	h := sha256.New()
	host, _ := os.Hostname() // %H expands to it
	fmt.Fprintf(h, "host %s\n", host)
	for _, dir := range dirs {
		fmt.Fprintf(h, "dir %s\n", dir)
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "err %s\n", p)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			fmt.Fprintf(h, "%s %d %d %d\n", p, info.Size(), info.ModTime().UnixNano(), info.Mode())
			if info.Mode()&fs.ModeSymlink != 0 {
				t, _ := os.Readlink(p)
				fmt.Fprintf(h, "-> %s\n", t)
			}
			return nil
		})
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// loadUnits decodes the unit directories, or takes them from the cache.
func (m *Manager) loadUnits() (map[string]*units.Unit, map[string]error, error) {
	key := unitDirsKey(m.cfg.UnitDirs)
	if data, err := os.ReadFile(m.cachePath()); err == nil {
		var c unitCache
		if gob.NewDecoder(bytes.NewReader(data)).Decode(&c) == nil && c.Key == key && c.Good != nil {
			bad := map[string]error{}
			for n, e := range c.Bad {
				bad[n] = errors.New(e)
			}
			return c.Good, bad, nil
		}
	}
	l := &units.Loader{Dirs: m.cfg.UnitDirs}
	good, bad, err := l.LoadAll()
	if err != nil {
		return nil, nil, err
	}
	c := unitCache{Key: key, Good: good, Bad: map[string]string{}}
	for n, e := range bad {
		c.Bad[n] = e.Error()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&c); err == nil {
		tmp := m.cachePath() + ".new"
		if os.MkdirAll(m.cfg.StateDir, 0o755) == nil && os.WriteFile(tmp, buf.Bytes(), 0o600) == nil {
			_ = os.Rename(tmp, m.cachePath())
		}
	}
	return good, bad, nil
}
