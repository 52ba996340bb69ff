package core

import (
	"errors"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/sysmaster-go/sysmaster/core/bincode"
	"github.com/sysmaster-go/sysmaster/units"
)

// The decoded units are cached next to the state records (bincode: the
// cache is only read by the binary that wrote it, see Binary), keyed by a
// digest of every file's name, size, time and link target under the unit
// directories (and the hostname, for %H): a restarted manager skips decoding the TOML again unless
// something there changed.
//
// A manager restarted after a crash takes the cache without waiting for
// the digest: it resumes with the units the crashed one had, and checks
// the directories once it is up (reloading if they changed), so recovery
// does not wait for a walk of every unit file.
type unitCache struct {
	Key    [16]byte
	Binary string // the manager's binary: another one may decode differently
	Dirs   []string
	Good   map[string]*units.Unit
	Bad    map[string]string
}

// binaryID names the running binary by path, size and time.
func binaryID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return exe + " " + strconv.FormatInt(fi.Size(), 10) + " " + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

func (m *Manager) cachePath() string { return filepath.Join(m.cfg.StateDir, "units.cache") }

// unitDirsKey digests what decoding the unit directories depends on. It
// runs at every start of the manager, so it writes to the hash without
// formatting.
// FNV-1a: it tells a changed tree from an unchanged one; an attacker who
// can write the unit directories needs no collision.
func unitDirsKey(dirs []string) [16]byte {
	h := fnv.New128a()
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
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

// loadUnits decodes the unit directories, or takes them from the cache.
// With trust, a cache of the same binary and directories is taken as it
// is, and m.verifyKey is left for checkUnitFiles.
func (m *Manager) loadUnits(trust bool) (map[string]*units.Unit, map[string]error, error) {
	bin := binaryID()
	readCache := func() *unitCache {
		var c unitCache
		data, err := os.ReadFile(m.cachePath())
		if err == nil && bincode.Unmarshal(data, &c) == nil &&
			c.Good != nil && c.Binary == bin && slices.Equal(c.Dirs, m.cfg.UnitDirs) {
			return &c
		}
		return nil
	}
	take := func(c *unitCache) (map[string]*units.Unit, map[string]error, error) {
		bad := map[string]error{}
		for n, e := range c.Bad {
			bad[n] = errors.New(e)
		}
		return c.Good, bad, nil
	}
	var key [16]byte
	if trust {
		if c := readCache(); c != nil {
			m.verifyKey = &c.Key
			return take(c)
		}
		key = unitDirsKey(m.cfg.UnitDirs)
	} else {
		// The cache is decoded while the directories are digested.
		cached := make(chan *unitCache, 1)
		go func() { cached <- readCache() }()
		key = unitDirsKey(m.cfg.UnitDirs)
		if c := <-cached; c != nil && c.Key == key {
			return take(c)
		}
	}
	l := &units.Loader{Dirs: m.cfg.UnitDirs}
	good, bad, err := l.LoadAll()
	if err != nil {
		return nil, nil, err
	}
	c := unitCache{Key: key, Binary: bin, Dirs: m.cfg.UnitDirs, Good: good, Bad: map[string]string{}}
	for n, e := range bad {
		c.Bad[n] = e.Error()
	}
	if data, err := bincode.Marshal(&c); err == nil {
		tmp := m.cachePath() + ".new"
		if os.MkdirAll(m.cfg.StateDir, 0o755) == nil && os.WriteFile(tmp, data, 0o600) == nil {
			_ = os.Rename(tmp, m.cachePath())
		}
	}
	return good, bad, nil
}

// checkUnitFiles compares the unit directories with the cache a restarted
// manager took on trust, and reloads when they changed meanwhile.
func (m *Manager) checkUnitFiles() {
	want := m.verifyKey
	if want == nil {
		return
	}
	m.verifyKey = nil
	dirs := m.cfg.UnitDirs
	// Not at once: the first requests after a recovery come first.
	m.after(verifyDelay, func() {
		go m.verifyUnitFiles(dirs, *want)
	})
}

// verifyDelay is how long a restarted manager waits before checking its
// unit files.
const verifyDelay = 500 * time.Millisecond

func (m *Manager) verifyUnitFiles(dirs []string, want [16]byte) {
	if unitDirsKey(dirs) != want {
		m.post(func() {
			m.logf("unit files changed while the manager was down; reloading")
			if err := m.reload(); err != nil {
				m.logf("reload: %v", err)
			}
		})
	}
}
