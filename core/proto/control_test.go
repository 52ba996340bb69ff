package proto

import (
	"encoding/json"
	"testing"
)

// Ping and Pong are read and written as bytes; they must stay what the
// JSON encoding of the request and the answer writes.
func TestPingPongAreJSON(t *testing.T) {
	req, err := json.Marshal(Request{Cmd: "ping"})
	if err != nil || string(req)+"\n" != Ping {
		t.Errorf("Request{Cmd: ping} = %s (%v), Ping = %q", req, err, Ping)
	}
	resp, err := json.Marshal(Response{Out: "pong\n"})
	if err != nil || string(resp)+"\n" != Pong {
		t.Errorf("Response{Out: pong} = %s (%v), Pong = %q", resp, err, Pong)
	}
	if r, err := DecodeRequest([]byte(Ping)); err != nil || r.Cmd != "ping" {
		t.Errorf("DecodeRequest(Ping) = %+v, %v", r, err)
	}
}
