// Package logbuf keeps the recent output of a unit in memory: a bounded
// ring of timestamped lines, fed from pipes handed to the unit's
// processes, optionally mirrored to the console or the kernel log.
package logbuf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLine is the longest line kept whole; longer ones are split so that a
// process writing without newlines cannot grow memory without bound.
const MaxLine = 4096

// Line is one line of output, without its newline.
type Line struct {
	Time   time.Time
	Stream string // the name given to Capture or Append
	Text   string
}

// size is what a line counts against the ring's budget; the newline is
// counted so that empty lines are not free.
func (l Line) size() int { return len(l.Text) + 1 }

// Ring is a bounded, concurrency-safe buffer of lines: when it holds more
// than its budget, the oldest lines go.
type Ring struct {
	mu      sync.Mutex
	max     int
	lines   []Line // lines[start:] are live, oldest first
	start   int
	bytes   int
	dropped uint64

	captures sync.WaitGroup
}

// New returns a ring that keeps at most maxBytes of text (see Bytes). With
// maxBytes <= 0 it keeps nothing, and captures only mirror.
func New(maxBytes int) *Ring {
	return &Ring{max: maxBytes}
}

// Append adds text written by stream now; text is split into lines like
// captured output, and an empty text is one empty line.
func (r *Ring) Append(stream, text string) {
	if text == "" {
		r.add(stream, nil, nil)
		return
	}
	s := splitter{emit: func(b []byte) { r.add(stream, b, nil) }}
	s.write([]byte(text))
	s.flush()
}

// Capture returns the write end of a pipe to give a child process as its
// stdout and/or stderr. Everything written to it is split into lines,
// kept under name and, when mirror is not nil, also written to mirror as
// "name: line\n", one Write per line.
//
// The caller must close the returned file once the child has it (or when
// starting the child failed); reading ends when every copy is closed.
func (r *Ring) Capture(name string, mirror io.Writer) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("logbuf: capture %s: %w", name, err)
	}
	r.Attach(name, pr, mirror, nil)
	return pw, nil
}

// Attach reads lines from pr, the read end of a pipe some process writes
// to, as Capture does, until end of file; then it closes pr and calls
// done, if not nil. A manager that was restarted uses it to take over the
// pipes of processes it did not start.
func (r *Ring) Attach(name string, pr *os.File, mirror io.Writer, done func()) {
	r.captures.Add(1)
	go func() {
		defer r.captures.Done()
		var prefix []byte
		if mirror != nil {
			prefix = []byte(name + ": ")
		}
		s := splitter{emit: func(b []byte) { r.add(name, b, mirrorTo(mirror, prefix)) }}
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			s.write(buf[:n])
			if err != nil {
				break // EOF, or a broken pipe that cannot recover
			}
		}
		s.flush()
		pr.Close()
		if done != nil {
			done()
		}
	}()
}

// Wait blocks until every capture started so far has reached end of
// file, so that all of its output is in the ring.
func (r *Ring) Wait() { r.captures.Wait() }

func mirrorTo(w io.Writer, prefix []byte) func(text []byte) {
	if w == nil {
		return nil
	}
	return func(text []byte) {
		rec := make([]byte, 0, len(prefix)+len(text)+1)
		rec = append(append(append(rec, prefix...), text...), '\n')
		// The console may be gone; losing the mirror must not stop capture.
		_, _ = w.Write(rec)
	}
}

func (r *Ring) add(stream string, text []byte, mirror func([]byte)) {
	if mirror != nil {
		mirror(text) // outside the lock: a slow console must not block readers
	}
	if r.max <= 0 {
		return
	}
	if len(text)+1 > r.max {
		text = text[:runeCut(text, r.max-1)]
	}
	l := Line{Time: time.Now(), Stream: stream, Text: string(text)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
	r.bytes += l.size()
	for r.bytes > r.max {
		r.bytes -= r.lines[r.start].size()
		r.lines[r.start] = Line{}
		r.start++
		r.dropped++
	}
	// Compact once the dead prefix dominates, keeping appends amortized O(1).
	if r.start > 64 && r.start > len(r.lines)/2 {
		n := copy(r.lines, r.lines[r.start:])
		clear(r.lines[n:])
		r.lines = r.lines[:n]
		r.start = 0
	}
}

// Lines returns copies of the last n lines, oldest first; n <= 0 means all.
func (r *Ring) Lines(n int) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	live := r.lines[r.start:]
	if n > 0 && n < len(live) {
		live = live[len(live)-n:]
	}
	return append([]Line(nil), live...)
}

// Bytes is the size of the kept text, counting one newline per line.
func (r *Ring) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Dropped counts lines discarded to stay within the budget.
func (r *Ring) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// splitter turns a byte stream into lines of at most MaxLine bytes.
type splitter struct {
	pending []byte
	emit    func([]byte)
}

func (s *splitter) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			p = nil
		} else {
			s.pending = append(s.pending, p[:i]...)
			p = p[i+1:]
			s.line(s.pending)
			s.pending = s.pending[:0]
		}
		// Emit full pieces of an overlong line as they come; exactly
		// MaxLine bytes wait, as the newline may be next.
		for len(s.pending) > MaxLine {
			cut := runeCut(s.pending, MaxLine)
			s.emit(s.pending[:cut])
			s.pending = append(s.pending[:0], s.pending[cut:]...)
		}
	}
}

// flush emits a last line that had no newline.
func (s *splitter) flush() {
	if len(s.pending) > 0 {
		s.line(s.pending)
		s.pending = s.pending[:0]
	}
}

func (s *splitter) line(b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	for len(b) > MaxLine {
		cut := runeCut(b, MaxLine)
		s.emit(b[:cut])
		b = b[cut:]
	}
	s.emit(b)
}

// runeCut is where to cut b to at most n bytes without splitting a UTF-8
// sequence; text that is not UTF-8 is cut at n.
func runeCut(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	if n <= 0 {
		return 0
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// kmsgRecord stays below the kernel's limit for one /dev/kmsg write
// (1024 bytes including the priority prefix in recent kernels).
const kmsgRecord = 976

// KmsgWriter returns a writer for /dev/kmsg: every line of a Write
// becomes one record at priority info ("<6>line"); lines too long for a
// record are split.
func KmsgWriter(f *os.File) io.Writer { return kmsgWriter{f} }

type kmsgWriter struct{ f *os.File }

func (k kmsgWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	rest := bytes.TrimSuffix(p, []byte{'\n'})
	for {
		line, more, found := bytes.Cut(rest, []byte{'\n'})
		for first := true; first || len(line) > 0; first = false {
			cut := runeCut(line, kmsgRecord)
			rec := append([]byte("<6>"), line[:cut]...)
			if _, err := k.f.Write(rec); err != nil {
				return 0, fmt.Errorf("logbuf: kmsg: %w", err)
			}
			line = line[cut:]
		}
		if !found {
			return len(p), nil
		}
		rest = more
	}
}
