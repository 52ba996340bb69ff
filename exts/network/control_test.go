package network

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadRequests: what is not a request gets an answer that says so.
func TestBadRequests(t *testing.T) {
	cfg := testConfig(t, nil)
	m := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := mkdir(cfg.RunDir); err != nil {
		t.Fatal(err)
	}
	s, err := m.listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	socket := filepath.Join(cfg.RunDir, SocketName)
	tests := []struct{ send, want string }{
		{"hello\n", "bad request: invalid character 'h'"},
		{`{"cmd":"status","iface":1}` + "\n", "bad request: json: cannot unmarshal number"},
		{`{"cmd":"status","color":"red"}` + "\n", `bad request: json: unknown field "color"`},
		{`{"cmd":"frob"}` + "\n", `unknown command "frob" (status, renew, online)`},
		{`{"cmd":"renew"}` + "\n", "renew: which interface?"},
		{`{"cmd":"renew","iface":"eth7"}` + "\n", `renew: no configured interface "eth7"`},
		{`{"cmd":"online"}` + "\n", "waiting: configuration not applied yet"},
	}
	for _, tt := range tests {
		c, err := net.Dial("unix", socket)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tt.send)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		c.Close()
		var resp Response
		if err := json.Unmarshal(buf[:n], &resp); err != nil {
			t.Fatalf("%q: answer %q: %v", tt.send, buf[:n], err)
		}
		got := resp.Error + "waiting: " + strings.Join(resp.Waiting, "; ")
		if !strings.Contains(got, tt.want) {
			t.Errorf("%q: answer %q, want %q in it", tt.send, got, tt.want)
		}
	}
	// netctl says what netmaster said, and fails.
	var out, errb strings.Builder
	if code := ctl([]string{"netctl", "--socket", socket, "renew", "eth7"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `no configured interface "eth7"`) {
		t.Errorf("netctl renew eth7: %d %q", code, errb.String())
	}
	if code := ctl([]string{"netctl", "--socket", filepath.Join(t.TempDir(), "none.sock"), "status"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "netmaster at") {
		t.Errorf("netctl without netmaster: %d %q", code, errb.String())
	}
	if code := ctl([]string{"netctl", "frob"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frob"`) {
		t.Errorf("netctl frob: %d %q", code, errb.String())
	}
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
