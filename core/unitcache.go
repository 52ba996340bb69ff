package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

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

// unitDirsKey digests what decoding the unit directories depends on. It
// runs at every start of the manager, so it writes to the hash without
// formatting.
func unitDirsKey(dirs []string) [32]byte {
	h := sha256.New()
	host, _ := os.Hostname() // %H expands to it
	b := append(append([]byte("host "), host...), '\n')
	for _, dir := range dirs {
		b = append(append(append(b, "dir "...), dir...), '\n')
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				b = append(append(append(b, "err "...), p...), '\n')
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			b = append(append(b, p...), ' ')
			b = strconv.AppendInt(b, info.Size(), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, info.ModTime().UnixNano(), 10)
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(info.Mode()), 10)
			b = append(b, '\n')
			if info.Mode()&fs.ModeSymlink != 0 {
				t, _ := os.Readlink(p)
				b = append(append(append(b, "-> "...), t...), '\n')
			}
			if len(b) > 32<<10 {
				h.Write(b)
				b = b[:0]
			}
			return nil
		})
	}
	h.Write(b)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// loadUnits decodes the unit directories, or takes them from the cache.
func (m *Manager) loadUnits() (map[string]*units.Unit, map[string]error, error) {
	// The cache is decoded while the directories are digested.
	cached := make(chan *unitCache, 1)
	go func() {
		var c unitCache
		data, err := os.ReadFile(m.cachePath())
		if err == nil && gob.NewDecoder(bytes.NewReader(data)).Decode(&c) == nil {
			cached <- &c
			return
		}
		cached <- nil
	}()
	key := unitDirsKey(m.cfg.UnitDirs)
	if c := <-cached; c != nil {
		if c.Key == key && c.Good != nil {
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
