package core

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStateWrite is the cost of recording one unit's change while
// 1000 units are loaded: one small file written and renamed. The peer is
// writing the whole state as one file, as a manager without per-unit
// records would.
func BenchmarkStateWrite(b *testing.B) {
	dir := b.TempDir()
	units := filepath.Join(dir, "units")
	os.MkdirAll(units, 0o755)
	for i := 0; i < 1000; i++ {
		os.WriteFile(filepath.Join(units, fmt.Sprintf("s%d.service.toml", i)), []byte("[Service]\nExecStart = \"/bin/true\"\n"), 0o644)
	}
	state := dir
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "smstate"); err == nil {
			defer os.RemoveAll(d)
			state = d
		}
	}
	m, err := New(Config{User: true, UnitDirs: []string{units}, StateDir: state, Console: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range m.units {
		u.state, u.sub = Active, svcRunning
		u.k.(*service).mainPID = 1
	}
	if err := m.saveState(); err != nil {
		b.Fatal(err)
	}
	u := m.units["s1.service"]
	b.Run("one-unit-record", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			u.restarts = i + 1
			if err := m.saveState(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-state-file", func(b *testing.B) {
		all := map[string]savedUnit{}
		for i := 0; i < b.N; i++ {
			for n, u := range m.units {
				all[n] = savedUnit{State: u.state, Sub: u.sub.String(), MainPID: u.k.(*service).mainPID, Restarts: u.restarts}
			}
			data, _ := json.Marshal(all)
			tmp := filepath.Join(state, "all.json.new")
			if err := os.WriteFile(tmp, data, 0o600); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(state, "all.json")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestUnitCache(t *testing.T) {
	dir := t.TempDir()
	units := filepath.Join(dir, "units")
	os.MkdirAll(units, 0o755)
	write := func(desc string) {
		body := "[Unit]\nDescription = \"" + desc + "\"\n[Service]\nExecStart = \"/bin/true\"\n"
		if err := os.WriteFile(filepath.Join(units, "a.service.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	cfg := Config{User: true, UnitDirs: []string{units}, StateDir: filepath.Join(dir, "state"), Console: io.Discard}
	for _, want := range []string{"first", "first"} {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.units["a.service"].cfg.Unit.Description; got != want {
			t.Fatalf("description %q, want %q", got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "units.cache")); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	// Changed size and time: a restarted manager resumes with the cache,
	// but knows to check the files; a reload reads them.
	time.Sleep(10 * time.Millisecond)
	write("second, longer")
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.verifyKey == nil || *m.verifyKey == unitDirsKey(cfg.UnitDirs) {
		t.Fatal("the change of the unit files is not noticed")
	}
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	if got := m.units["a.service"].cfg.Unit.Description; got != "second, longer" {
		t.Fatalf("stale cache after a reload: %q", got)
	}
	// A corrupt cache is ignored.
	os.WriteFile(filepath.Join(cfg.StateDir, "units.cache"), []byte("garbage"), 0o600)
	if m, err = New(cfg); err != nil || m.units["a.service"] == nil {
		t.Fatalf("corrupt cache: %v", err)
	}
}
