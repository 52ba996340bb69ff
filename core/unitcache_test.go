package core

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sysmaster-go/sysmaster/core/bincode"
	"github.com/sysmaster-go/sysmaster/units"
)

// fill sets every exported field reachable from v to a value that is not
// its zero, so that a round trip that drops or mixes up a field shows.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%100 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.String:
		v.SetString("s" + string(rune('a'+seed%26)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), seed+i+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), seed+i+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, seed+1)
		fill(e, seed+2)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seed+1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	}
}

// TestUnitCacheEncoding: the cache gives back what gob, which it replaced,
// gave back, for the shipped units and for a unit with every field set.
func TestUnitCacheEncoding(t *testing.T) {
	l := &units.Loader{Dirs: []string{filepath.Join("..", "units")}}
	good, bad, err := l.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(good) == 0 {
		t.Fatal("no shipped units loaded")
	}
	var every units.Unit
	fill(reflect.ValueOf(&every).Elem(), 0)
	good["every.service"] = &every
	c := unitCache{Key: unitDirsKey(l.Dirs), Binary: "smbox 1 2", Dirs: l.Dirs, Good: good, Bad: map[string]string{}}
	for n, e := range bad {
		c.Bad[n] = e.Error()
	}
	data, err := bincode.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var got unitCache
	if err := bincode.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&c); err != nil {
		t.Fatal(err)
	}
	gobBytes := buf.Len()
	var want unitCache
	if err := gob.NewDecoder(&buf).Decode(&want); err != nil {
		t.Fatal(err)
	}
	for name := range c.Good {
		if !reflect.DeepEqual(got.Good[name], want.Good[name]) {
			t.Errorf("%s:\n got  %+v\n want %+v (gob)", name, got.Good[name], want.Good[name])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the cache differs from gob's")
	}
	t.Logf("%d units: %d bytes (gob %d)", len(c.Good), len(data), gobBytes)
}

// BenchmarkUnitCacheDecode reads back the cache of 1000 services, as a
// manager restarted after a crash does before anything else, with the
// cache's encoding and with gob, which it replaced.
func BenchmarkUnitCacheDecode(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		writeUnitFile(b, dir, fmt.Sprintf("s%04d.service", i),
			"[Service]\nExecStart = \"/bin/sleep 100000\"\n[Install]\nWantedBy = [\"default.target\"]\n")
	}
	l := &units.Loader{Dirs: []string{dir}}
	good, _, err := l.LoadAll()
	if err != nil {
		b.Fatal(err)
	}
	c := unitCache{Dirs: l.Dirs, Good: good, Bad: map[string]string{}}
	data, err := bincode.Marshal(&c)
	if err != nil {
		b.Fatal(err)
	}
	var gobData bytes.Buffer
	if err := gob.NewEncoder(&gobData).Encode(&c); err != nil {
		b.Fatal(err)
	}
	b.Run("bincode", func(b *testing.B) {
		for b.Loop() {
			var got unitCache
			if err := bincode.Unmarshal(data, &got); err != nil || len(got.Good) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("gob", func(b *testing.B) {
		for b.Loop() {
			var got unitCache
			if err := gob.NewDecoder(bytes.NewReader(gobData.Bytes())).Decode(&got); err != nil || len(got.Good) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(gobData.Len()), "bytes")
	})
}

func writeUnitFile(b *testing.B, dir, name, body string) {
	b.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
}
