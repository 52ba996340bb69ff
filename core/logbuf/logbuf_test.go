package logbuf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func texts(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// syncBuffer is a mirror that tolerates writes from capture goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCaptureChild(t *testing.T) {
	r := New(1 << 16)
	var mirror syncBuffer
	w, err := r.Capture("demo.service", &mirror)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "echo a; echo b >&2; printf 'no newline'")
	cmd.Stdout, cmd.Stderr = w, w
	before := time.Now()
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	lines := r.Lines(0)
	if got, want := texts(lines), []string{"a", "b", "no newline"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for _, l := range lines {
		if l.Stream != "demo.service" || l.Time.Before(before) || l.Time.After(time.Now()) {
			t.Errorf("line %+v: wrong stream or time", l)
		}
	}
	if got, want := mirror.String(), "demo.service: a\ndemo.service: b\ndemo.service: no newline\n"; got != want {
		t.Errorf("mirror %q, want %q", got, want)
	}
	if got, want := r.Bytes(), len("a\nb\nno newline\n"); got != want {
		t.Errorf("Bytes() = %d, want %d", got, want)
	}
}

func TestSplitting(t *testing.T) {
	long := strings.Repeat("x", MaxLine)
	// "é" is two bytes; placing it across the MaxLine boundary forces a
	// cut before it.
	utf := strings.Repeat("y", MaxLine-1) + "é" + "z"
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"simple", []string{"a\nb\n"}, []string{"a", "b"}},
		{"partial at EOF", []string{"abc\ndef"}, []string{"abc", "def"}},
		{"split across writes", []string{"ab", "c\nd", "e\n"}, []string{"abc", "de"}},
		{"empty lines kept", []string{"\n\na\n"}, []string{"", "", "a"}},
		{"crlf", []string{"dos\r\nline\r\n"}, []string{"dos", "line"}},
		{"exactly max", []string{long + "\n"}, []string{long}},
		{"exactly max at EOF", []string{long}, []string{long}},
		{"max plus one", []string{long + "y\n"}, []string{long, "y"}},
		{"twice max and some", []string{long + long + "tail\nnext\n"}, []string{long, long, "tail", "next"}},
		{"long in pieces", []string{long[:100], long[100:], "zz"}, []string{long, "zz"}},
		{"utf-8 kept whole", []string{utf + "\n"}, []string{strings.Repeat("y", MaxLine-1), "éz"}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(1 << 20)
			w, err := r.Capture("s", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.writes {
				if _, err := w.WriteString(s); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			r.Wait()
			got := texts(r.Lines(0))
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines %.60q, want %d %.60q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: %d bytes %.40q, want %d bytes %.40q", i, len(got[i]), got[i], len(tt.want[i]), tt.want[i])
				}
			}
		})
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		appends   []string
		want      []string
		wantBytes int
		dropped   uint64
	}{
		{"fits", 100, []string{"one", "two"}, []string{"one", "two"}, 8, 0},
		{"drops oldest", 10, []string{"aaaa", "bbbb", "cccc"}, []string{"bbbb", "cccc"}, 10, 1},
		{"exactly full", 10, []string{"aaaa", "bbbb"}, []string{"aaaa", "bbbb"}, 10, 0},
		{"big line evicts all", 10, []string{"a", "b", "cccccccc"}, []string{"cccccccc"}, 9, 2},
		{"line over budget truncated", 5, []string{"abcdefgh"}, []string{"abcd"}, 5, 0},
		{"empty lines count", 3, []string{"", "", "", ""}, []string{"", "", ""}, 3, 1},
		{"disabled", 0, []string{"a", "b"}, []string{}, 0, 0},
		{"multi-line append", 100, []string{"x\ny"}, []string{"x", "y"}, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.max)
			for _, a := range tt.appends {
				r.Append("s", a)
			}
			if got := texts(r.Lines(0)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			if got := r.Bytes(); got != tt.wantBytes {
				t.Errorf("Bytes() = %d, want %d", got, tt.wantBytes)
			}
			if got := r.Dropped(); got != tt.dropped {
				t.Errorf("Dropped() = %d, want %d", got, tt.dropped)
			}
		})
	}
}

func TestOverflowLong(t *testing.T) {
	r := New(1000)
	for i := range 10000 {
		r.Append("s", fmt.Sprintf("line %05d", i)) // 11 bytes counted
	}
	lines := r.Lines(0)
	if len(lines) != 90 || lines[len(lines)-1].Text != "line 09999" || lines[0].Text != "line 09910" {
		t.Fatalf("%d lines, first %q last %q", len(lines), lines[0].Text, lines[len(lines)-1].Text)
	}
	if r.Bytes() > 1000 || r.Dropped() != 9910 {
		t.Errorf("Bytes() = %d, Dropped() = %d", r.Bytes(), r.Dropped())
	}
	if cap(r.lines) > 1000 {
		t.Errorf("backing array grew to %d", cap(r.lines))
	}
}

func TestLinesN(t *testing.T) {
	r := New(100)
	for _, s := range []string{"a", "b", "c"} {
		r.Append("s", s)
	}
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{"a", "b", "c"}},
		{-1, []string{"a", "b", "c"}},
		{1, []string{"c"}},
		{2, []string{"b", "c"}},
		{3, []string{"a", "b", "c"}},
		{10, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		if got := texts(r.Lines(tt.n)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lines(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	got := r.Lines(1)
	got[0].Text = "changed"
	if r.Lines(1)[0].Text != "c" {
		t.Error("Lines returned the ring's own storage")
	}
}

func TestConcurrent(t *testing.T) {
	r := New(4096)
	var mirror syncBuffer
	var wg sync.WaitGroup
	const writers, perWriter = 4, 500
	for i := range writers {
		w, err := r.Capture(fmt.Sprintf("w%d", i), &mirror)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			for j := range perWriter {
				fmt.Fprintf(w, "line %d\n", j)
			}
		}()
	}
	stop := make(chan struct{})
	readers := sync.WaitGroup{}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				r.Lines(10)
				r.Bytes()
			}
		}
	}()
	wg.Wait()
	r.Wait()
	close(stop)
	readers.Wait()
	if got := strings.Count(mirror.String(), "\n"); got != writers*perWriter {
		t.Errorf("mirror has %d lines, want %d", got, writers*perWriter)
	}
	if r.Bytes() > 4096 || uint64(len(r.Lines(0)))+r.Dropped() != writers*perWriter {
		t.Errorf("Bytes() = %d, kept %d, dropped %d", r.Bytes(), len(r.Lines(0)), r.Dropped())
	}
}

// seqpacket gives a file whose reads return one write each, as /dev/kmsg
// takes one record per write.
func seqpacket(t *testing.T) (w *os.File, read func() []string) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w = os.NewFile(uintptr(fds[0]), "kmsg-w")
	r := os.NewFile(uintptr(fds[1]), "kmsg-r")
	t.Cleanup(func() { w.Close(); r.Close() })
	return w, func() []string {
		var recs []string
		buf := make([]byte, 4096)
		for {
			n, _, err := unix.Recvfrom(fds[1], buf, unix.MSG_DONTWAIT)
			if err != nil {
				return recs
			}
			recs = append(recs, string(buf[:n]))
		}
	}
}

func TestKmsgWriter(t *testing.T) {
	long := strings.Repeat("k", kmsgRecord+10)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one line", "svc: hello\n", []string{"<6>svc: hello"}},
		{"no newline", "svc: hello", []string{"<6>svc: hello"}},
		{"two lines", "a\nb\n", []string{"<6>a", "<6>b"}},
		{"empty line inside", "a\n\nb", []string{"<6>a", "<6>", "<6>b"}},
		{"long split", long + "\n", []string{"<6>" + long[:kmsgRecord], "<6>" + long[kmsgRecord:]}},
		{"empty write", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, read := seqpacket(t)
			n, err := KmsgWriter(f).Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if got := read(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCaptureToKmsg(t *testing.T) {
	f, read := seqpacket(t)
	r := New(1024)
	w, err := r.Capture("demo", KmsgWriter(f))
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("first\nsecond\n")
	w.Close()
	r.Wait()
	if got, want := read(), []string{"<6>demo: first", "<6>demo: second"}; !reflect.DeepEqual(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

func TestKmsgWriteError(t *testing.T) {
	path := t.TempDir() + "/ro"
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := KmsgWriter(f).Write([]byte("x\n")); err == nil {
		t.Error("write to a read-only file succeeded")
	}
}
