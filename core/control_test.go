package core

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{`{"cmd":"start","units":["a.service"]}`, ""},
		{`{"cmd":"list-units","json":true,"type":"service"}`, ""},
		{`not json`, "not a JSON object"},
		{`{"cmd":5}`, "not a JSON object"},
		{`{}`, "no cmd"},
		{`{"cmd":"start","units":["../../etc/passwd"]}`, "bad unit name"},
		{`{"cmd":"log","units":["a.service"],"lines":-1}`, "out of range"},
		{`{"cmd":"start","units":["` + strings.Repeat("a", 300) + `"]}`, "bad unit name"},
		{`{"cmd":"switch-root","root":"/newroot","init":"/sbin/init"}`, ""},
		{`{"cmd":"switch-root","root":"/new\nroot"}`, "bad path"},
		{`{"cmd":"switch-root","root":"/newroot","init":"/sbin/init\u0000x"}`, "bad path"},
	}
	for _, tt := range tests {
		_, err := DecodeRequest([]byte(tt.in))
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("DecodeRequest(%.30q) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// FuzzDecodeRequest: no input crashes the decoder, and what it accepts
// re-encodes to a request it accepts again.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"cmd":"start","units":["a.service"]}`, `{"cmd":"status","json":true}`, `{`, `[]`, `{"cmd":"log","lines":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRequest(again); err != nil {
			t.Fatalf("accepted %q, rejected its re-encoding %q: %v", b, again, err)
		}
	})
}
