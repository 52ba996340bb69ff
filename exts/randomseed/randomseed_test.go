package randomseed

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakePool hands out counting bytes and records what it is given.
type fakePool struct {
	initialised bool
	next        byte
	mixed       [][]byte
	credited    []bool
}

func (p *fakePool) Read(b []byte) (bool, error) {
	for i := range b {
		b[i] = p.next
	}
	p.next++
	return p.initialised, nil
}

func (p *fakePool) Mix(b []byte, credit bool) error {
	p.mixed = append(p.mixed, append([]byte{}, b...))
	p.credited = append(p.credited, credit)
	return nil
}

func TestSaveThenLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "random-seed")
	pool := &fakePool{initialised: true}
	var out bytes.Buffer
	if err := Load(path, pool, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no seed in "+path+" yet (first boot)") || len(pool.mixed) != 0 {
		t.Fatalf("first boot: output %q, mixed %d", out.String(), len(pool.mixed))
	}
	if err := Save(path, pool); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Load(path, pool, &out); err != nil {
		t.Fatal(err)
	}
	if len(pool.mixed) != 1 || pool.mixed[0][0] != 1 || !pool.credited[0] || !strings.Contains(out.String(), "loaded 512 bytes from "+path+", credited") {
		t.Fatalf("output %q, mixed %v credited %v", out.String(), len(pool.mixed), pool.credited)
	}
	// The file now holds a new seed: the credited one is not used twice.
	b, _ := os.ReadFile(path)
	if seed, _, err := Decode(b); err != nil || seed[0] != 2 {
		t.Fatalf("seed after loading: %v, %v", seed[:1], err)
	}
}

func TestNotCredited(t *testing.T) {
	dir := t.TempDir()
	t.Run("saved before the pool was initialised", func(t *testing.T) {
		path := filepath.Join(dir, "early")
		if err := os.WriteFile(path, Encode(make([]byte, SeedSize), false), 0o600); err != nil {
			t.Fatal(err)
		}
		pool := &fakePool{initialised: true}
		var out bytes.Buffer
		if err := Load(path, pool, &out); err != nil {
			t.Fatal(err)
		}
		if len(pool.credited) != 1 || pool.credited[0] || !strings.Contains(out.String(), "not credited (saved before the pool was initialised)") {
			t.Fatalf("credited %v, output %q", pool.credited, out.String())
		}
	})
	t.Run("cannot be replaced", func(t *testing.T) {
		ro := filepath.Join(dir, "ro")
		if err := os.MkdirAll(ro, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(ro, "seed")
		if err := os.WriteFile(path, Encode(make([]byte, SeedSize), true), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(ro, 0o755)
		if f, err := os.CreateTemp(ro, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("running as root: a read-only directory is still writable")
		}
		pool := &fakePool{initialised: true}
		var out bytes.Buffer
		if err := Load(path, pool, &out); err != nil {
			t.Fatal(err)
		}
		if len(pool.credited) != 1 || pool.credited[0] || !strings.Contains(out.String(), "it could not be replaced") {
			t.Fatalf("credited %v, output %q", pool.credited, out.String())
		}
	})
}

func TestCorruptSeedIgnored(t *testing.T) {
	good := Encode(bytes.Repeat([]byte{7}, SeedSize), true)
	flipped := append([]byte{}, good...)
	flipped[100] ^= 1
	badMagic := append([]byte{}, good...)
	badMagic[0] = 'X'
	v1 := append([]byte("SMSEED\x00\x01\x01"), bytes.Repeat([]byte{7}, SeedSize)...)
	v1sum := sha256.Sum256(v1[8:])
	v1 = append(v1, v1sum[:]...)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", good[:100], "corrupt (100 bytes, want 537)"},
		{"version 1 (SHA-256)", v1, "corrupt (553 bytes, want 537)"},
		{"flipped bit", flipped, "corrupt (checksum mismatch)"},
		{"bad magic", badMagic, "corrupt (not a seed file (bad magic))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "seed")
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			pool := &fakePool{initialised: true}
			var out bytes.Buffer
			if err := Load(path, pool, &out); err != nil {
				t.Fatal(err)
			}
			if len(pool.mixed) != 0 || !strings.Contains(out.String(), c.want+"; ignored") {
				t.Fatalf("mixed %d, output %q", len(pool.mixed), out.String())
			}
			// A good seed replaces it.
			b, _ := os.ReadFile(path)
			if _, _, err := Decode(b); err != nil {
				t.Fatalf("not repaired: %v", err)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	seed := bytes.Repeat([]byte{0xa5}, SeedSize)
	got, credit, err := Decode(Encode(seed, true))
	if err != nil || !credit || !bytes.Equal(got, seed) {
		t.Fatalf("Decode = %v, %v", credit, err)
	}
	if _, _, err := Decode(nil); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Decode(nil) = %v", err)
	}
}
