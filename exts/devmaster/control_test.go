package devmaster

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, h *harness, req Request) (*Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Call(ctx, h.d.cfg.Control, req)
}

// raw sends a line as is and decodes the answer.
func raw(t *testing.T, path, line string) Response {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	b, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no answer to %.40q: %v", line, err)
	}
	var resp Response
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatalf("bad answer %q: %v", b, err)
	}
	return resp
}

func TestControl(t *testing.T) {
	tr := newTree(t)
	tr.board()
	h := start(t, tr, true)
	h.ready()
	if fi, err := os.Stat(h.d.cfg.Control); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, %v", fi, err)
	}
	if _, err := call(t, h, Request{Cmd: "ping"}); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, h, Request{Cmd: "settle", Timeout: "5s"}); err != nil {
		t.Fatal(err)
	}
	resp, err := call(t, h, Request{Cmd: "trigger", Subsystems: []string{"block", "tty"}, Action: "change", Settle: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Devices != 3 {
		t.Errorf("triggered %d devices, want vda, vda1 and ttyS1", resp.Devices)
	}
	changes := h.mgr.snapshot()
	if len(changes) != 3 {
		t.Fatalf("manager got %v", changes)
	}
	for _, c := range changes {
		if c.action != "change" {
			t.Errorf("got %+v", c)
		}
	}
	if _, err := call(t, h, Request{Cmd: "reload"}); err != nil {
		t.Fatal(err)
	}

	bad := []struct{ name, line, want string }{
		{"not JSON", "settle\n", "bad request"},
		{"unknown field", `{"cmd":"ping","force":true}` + "\n", "unknown field"},
		{"unknown command", `{"cmd":"explode"}` + "\n", "unknown command"},
		{"bad timeout", `{"cmd":"settle","timeout":"soon"}` + "\n", "bad timeout"},
		{"negative timeout", `{"cmd":"settle","timeout":"-1s"}` + "\n", "bad timeout"},
		{"bad action", `{"cmd":"trigger","action":"explode"}` + "\n", "bad action"},
		{"bad subsystem", `{"cmd":"trigger","subsystems":["../x"]}` + "\n", ""},
		{"too long", `{"cmd":"` + strings.Repeat("x", MaxRequest) + `"}` + "\n", "longer than"},
		{"empty", "", "reading request"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp := raw(t, h.d.cfg.Control, tt.line)
			if tt.want == "" {
				return // any answer will do
			}
			if resp.Code == 0 || !strings.Contains(resp.Err, tt.want) {
				t.Errorf("answer %+v, want an error with %q", resp, tt.want)
			}
		})
	}
	if _, err := call(t, h, Request{Cmd: "ping"}); err != nil {
		t.Fatalf("not serving after bad requests: %v", err)
	}
}

func TestSettleTimeout(t *testing.T) {
	tr := newTree(t)
	block := make(chan struct{})
	loader := &fakeLoader{onLoad: func(string) { <-block }}
	h := start(t, tr, false, withLoader(loader))
	defer close(block)
	h.ready()
	h.src.push(recorded(t, "virtio-net-add.txt"))
	_, err := call(t, h, Request{Cmd: "settle", Timeout: "100ms"})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("settle with a stuck event = %v, want a timeout", err)
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		`{"cmd":"ping"}` + "\n",
		`{"cmd":"trigger","action":"add","subsystems":["block"],"settle":true,"timeout":"5s"}` + "\n",
		`{"cmd":"settle","timeout":"1h"}`,
		"{\n", "", "\n\n", `{"cmd":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := readRequest(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if len(b) > MaxRequest+1 {
			t.Fatalf("accepted a %d-byte request", len(b))
		}
		s := &controlServer{d: nil}
		if req.Cmd == "ping" || req.Cmd == "" {
			_ = s.do(context.Background(), req) // must not touch the daemon
		}
	})
}
