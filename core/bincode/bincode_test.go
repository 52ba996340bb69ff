package bincode

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	N    int8
	Tags []string
}

type sample struct {
	B       bool
	I       int
	I64     int64
	U16     uint16
	F       float64
	S       string
	Bytes   []byte
	D       time.Duration
	Arr     [4]byte
	Ints    []int
	M       map[string]*inner
	P       *inner
	Zero    *inner
	Nested  []inner
	private int // skipped, as gob skips it
}

func full() sample {
	return sample{
		B: true, I: -42, I64: 1 << 60, U16: 65535, F: 3.25, S: "héllo\x00", Bytes: []byte{0, 1, 255},
		D: 90 * time.Second, Arr: [4]byte{1, 2, 3, 4}, Ints: []int{-1, 0, 1},
		M:       map[string]*inner{"a": {N: 1, Tags: []string{"x"}}, "b": {N: -2}},
		P:       &inner{N: 7, Tags: []string{"p", ""}},
		Nested:  []inner{{N: 1}, {Tags: []string{"q"}}},
		private: 5,
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   sample
	}{
		{"full", full()},
		{"zero", sample{}},
		{"empties read back as nil", sample{Ints: []int{}, M: map[string]*inner{}, Bytes: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Marshal(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var out sample
			if err := Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			// gob is the reference for what a cache must give back.
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(&tt.in); err != nil {
				t.Fatal(err)
			}
			var ref sample
			if err := gob.NewDecoder(&buf).Decode(&ref); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, ref) {
				t.Errorf("got  %#v\nwant %#v (gob)", out, ref)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	data, err := Marshal(full())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		var out sample
		if err := Unmarshal(data[:n], &out); err == nil {
			t.Errorf("%d of %d bytes: no error", n, len(data))
		}
	}
	var out sample
	if err := Unmarshal(append(data, 0), &out); err == nil || !strings.Contains(err.Error(), "left over") {
		t.Errorf("trailing byte: %v", err)
	}
	if err := Unmarshal(data, out); err == nil {
		t.Error("Unmarshal into a non-pointer: no error")
	}
	// A huge count must fail, not allocate.
	if err := Unmarshal([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, &[]string{}); err == nil {
		t.Error("huge count: no error")
	}
	if _, err := Marshal(struct{ C chan int }{C: make(chan int)}); err == nil || !strings.Contains(err.Error(), "chan") {
		t.Errorf("chan: %v", err)
	}
	if _, err := Marshal(struct{ A any }{A: 1}); err == nil {
		t.Error("interface: no error")
	}
}
