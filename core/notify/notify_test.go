package notify

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv switches the re-executed test binary into a plain notifier.
const childEnv = "NOTIFY_TEST_CHILD_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := Send(path, "READY=1\nSTATUS=child\nMAINPID="+strconv.Itoa(os.Getpid())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Message
		wantErr string
	}{
		{name: "empty", in: "", want: Message{Fields: map[string]string{}}},
		{name: "ready", in: "READY=1\n", want: Message{Ready: true, Fields: map[string]string{"READY": "1"}}},
		{
			name: "many",
			in:   "READY=1\nSTATUS=Serving 3 clients\nMAINPID=42\nEXTEND_TIMEOUT_USEC=1500000\nERRNO=2\nX_CUSTOM=a=b",
			want: Message{
				Ready: true, Status: "Serving 3 clients", MainPID: 42, ExtendTimeout: 1500 * time.Millisecond, Errno: 2,
				Fields: map[string]string{"READY": "1", "STATUS": "Serving 3 clients", "MAINPID": "42",
					"EXTEND_TIMEOUT_USEC": "1500000", "ERRNO": "2", "X_CUSTOM": "a=b"},
			},
		},
		{
			name: "states",
			in:   "RELOADING=1\nSTOPPING=1\nWATCHDOG=1\nWATCHDOG=trigger\nFDSTORE=1\nFDNAME=web",
			want: Message{Reloading: true, Stopping: true, Watchdog: true, WatchdogTrigger: true, FDStore: true, FDName: "web",
				Fields: map[string]string{"RELOADING": "1", "STOPPING": "1", "WATCHDOG": "trigger", "FDSTORE": "1", "FDNAME": "web"}},
		},
		{name: "empty status", in: "STATUS=", want: Message{Fields: map[string]string{"STATUS": ""}}},
		{name: "blank lines", in: "\n\nREADY=1\n\n", want: Message{Ready: true, Fields: map[string]string{"READY": "1"}}},
		{name: "huge extend clamps", in: "EXTEND_TIMEOUT_USEC=18446744073709551615",
			want: Message{ExtendTimeout: math.MaxInt64, Fields: map[string]string{"EXTEND_TIMEOUT_USEC": "18446744073709551615"}}},
		{name: "no equals", in: "READY", wantErr: "missing '='"},
		{name: "empty key", in: "=1", wantErr: "empty key"},
		{name: "bad key", in: "RE ADY=1", wantErr: "key"},
		{name: "ready 0", in: "READY=0", wantErr: "READY"},
		{name: "mainpid zero", in: "MAINPID=0", wantErr: "MAINPID"},
		{name: "mainpid negative", in: "MAINPID=-5", wantErr: "MAINPID"},
		{name: "mainpid text", in: "MAINPID=abc", wantErr: "MAINPID"},
		{name: "extend negative", in: "EXTEND_TIMEOUT_USEC=-1", wantErr: "EXTEND_TIMEOUT_USEC"},
		{name: "watchdog bad", in: "WATCHDOG=2", wantErr: "WATCHDOG"},
		{name: "errno bad", in: "ERRNO=x", wantErr: "ERRNO"},
		{name: "fdname colon", in: "FDNAME=a:b", wantErr: "FDNAME"},
		{name: "nul", in: "STATUS=a\x00b", wantErr: "NUL"},
		{name: "bad utf8", in: "STATUS=\xff", wantErr: "UTF-8"},
		{name: "too big", in: "STATUS=" + strings.Repeat("x", MaxMessage), wantErr: "exceeds"},
		{name: "second line bad", in: "READY=1\ngarbage", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"READY=1", "MAINPID=1\nSTATUS=x", "EXTEND_TIMEOUT_USEC=99999999999999999", "=", "\n\n", "FDNAME=\x01", "WATCHDOG=trigger"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if m.MainPID < 0 || m.ExtendTimeout < 0 || m.Errno < 0 {
			t.Fatalf("Parse(%q) accepted negative values: %+v", data, m)
		}
	})
}

type harness struct {
	srv   *Server
	msgs  chan *Message
	drops chan error
	done  chan error
}

// serve runs a server with a handler that keeps nothing but a copy of
// the message, leaving descriptors for Run to close.
func serve(t *testing.T, path string, handle func(*Message)) *harness {
	t.Helper()
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: srv, msgs: make(chan *Message, 16), drops: make(chan error, 16), done: make(chan error, 1)}
	go func() {
		h.done <- srv.Run(func(m *Message) {
			if handle != nil {
				handle(m)
			}
			c := *m
			h.msgs <- &c
		}, func(err error) { h.drops <- err })
	}()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after Close")
		}
	})
	return h
}

func (h *harness) next(t *testing.T) *Message {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case err := <-h.drops:
		t.Fatalf("unexpected drop: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func (h *harness) dropped(t *testing.T, want string) {
	t.Helper()
	select {
	case err := <-h.drops:
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("drop error %q, want it to contain %q", err, want)
		}
	case m := <-h.msgs:
		t.Fatalf("message %+v accepted, want it dropped", m)
	case <-time.After(5 * time.Second):
		t.Fatal("no drop reported")
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"filesystem", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		{"abstract", func(t *testing.T) string {
			return fmt.Sprintf("@sysmaster-notify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			h := serve(t, path, nil)
			if h.srv.Path() != path {
				t.Fatalf("Path() = %q, want %q", h.srv.Path(), path)
			}
			if err := Send(path, "READY=1\nSTATUS=up"); err != nil {
				t.Fatal(err)
			}
			m := h.next(t)
			if !m.Ready || m.Status != "up" {
				t.Errorf("got %+v", m)
			}
			if m.PID != os.Getpid() || m.UID != uint32(os.Getuid()) || m.GID != uint32(os.Getgid()) {
				t.Errorf("credentials pid=%d uid=%d gid=%d, want %d %d %d", m.PID, m.UID, m.GID, os.Getpid(), os.Getuid(), os.Getgid())
			}
		})
	}
}

func TestDropsAndKeepsWorking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	h := serve(t, path, nil)
	steps := []struct {
		send string
		drop string // empty: the message must arrive
	}{
		{"STATUS=" + strings.Repeat("x", 2*MaxMessage), "larger than"},
		{"READY=1", ""},
		{"STATUS=" + strings.Repeat("x", MaxMessage-len("STATUS=")), ""},
		{"this is not a notification", "missing '='"},
		{"MAINPID=-1", "MAINPID"},
		{"\xff\xfe", "UTF-8"},
		{"STATUS=still alive", ""},
	}
	for i, s := range steps {
		if err := Send(path, s.send); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.drop != "" {
			h.dropped(t, s.drop)
			continue
		}
		if m := h.next(t); m.PID != os.Getpid() {
			t.Fatalf("step %d: pid %d", i, m.PID)
		}
	}
	if got := h.srv.Dropped(); got != 4 {
		t.Errorf("Dropped() = %d, want 4", got)
	}
}

func TestChildPID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	h := serve(t, path, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	m := h.next(t)
	if m.PID != cmd.Process.Pid || m.MainPID != cmd.Process.Pid || m.Status != "child" {
		t.Errorf("got pid=%d mainpid=%d status=%q, want child pid %d", m.PID, m.MainPID, m.Status, cmd.Process.Pid)
	}
	if m.PID == os.Getpid() {
		t.Error("message carries the parent's pid")
	}
}

func TestFDsLeftAreClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	var left []*os.File
	h := serve(t, path, func(m *Message) {
		left = append(left, m.FDs...)
	})

	data := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(data, []byte("stored"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if err := SendFiles(path, "FDSTORE=1\nFDNAME=leave", f); err != nil {
		t.Fatal(err)
	}
	m := h.next(t)
	if !m.FDStore || len(m.FDs) != 1 {
		t.Fatalf("got %+v", m)
	}
	if _, err := m.FDs[0].Stat(); err == nil {
		t.Error("descriptor left in the message is still open after the handler returned")
	}
	if len(left) != 1 || left[0] != m.FDs[0] {
		t.Errorf("handler saw %v, message has %v", left, m.FDs)
	}
}

func TestFDTaken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	taken := make(chan []*os.File, 1)
	h := serve(t, path, func(m *Message) {
		taken <- m.FDs
		m.FDs = nil
	})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := SendFiles(path, "FDSTORE=1\nFDNAME=pipe", w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h.next(t)
	fds := <-taken
	if len(fds) != 1 {
		t.Fatalf("got %d fds", len(fds))
	}
	if _, err := io.WriteString(fds[0], "via store"); err != nil {
		t.Fatalf("taken descriptor unusable: %v", err)
	}
	fds[0].Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "via store" {
		t.Errorf("read %q, %v", got, err)
	}
}

func TestFDsClosedOnDrop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	h := serve(t, path, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := SendFiles(path, "garbage", w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h.dropped(t, "missing '='")
	// The only other write end was the server's copy; EOF proves it closed.
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server kept the descriptor of a dropped message")
	}
}

func TestListenErrors(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"empty", func(*testing.T) string { return "" }},
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "no", "such", "sock") }},
		{"too long", func(t *testing.T) string { return filepath.Join(t.TempDir(), strings.Repeat("x", 200)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Listen(tt.path(t)); err == nil {
				s.Close()
				t.Fatal("Listen succeeded")
			}
		})
	}
}

func TestListenReplacesStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	old, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	// A new manager takes over the path while the old one still runs;
	// the old one closing late must not remove the new socket.
	h := serve(t, path, nil)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Send(path, "READY=1"); err != nil {
		t.Fatal(err)
	}
	h.next(t)
}

func TestSendErrors(t *testing.T) {
	if err := Send("", "READY=1"); err == nil {
		t.Error("Send to empty path succeeded")
	}
	if err := Send(filepath.Join(t.TempDir(), "absent"), "READY=1"); err == nil {
		t.Error("Send to missing socket succeeded")
	}
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Notify("READY=1")
	if sent || err != nil {
		t.Errorf("Notify without socket = %v, %v", sent, err)
	}
	path := filepath.Join(t.TempDir(), "notify")
	h := serve(t, path, nil)
	t.Setenv("NOTIFY_SOCKET", path)
	if sent, err := Notify("READY=1"); !sent || err != nil {
		t.Fatalf("Notify = %v, %v", sent, err)
	}
	h.next(t)
}
