package qemu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// fakeVM starts a shell script in place of qemu-system. Scripts end in
// "exec sleep" where they must stay alive, so that a kill reaches the
// process that holds the console pipe.
func fakeVM(t *testing.T, script string, timeout time.Duration) (*qemu.VM, *lineLog) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake-qemu")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &board.Board{Name: "fake", Cmdline: "console=ttyS0", QEMU: board.QEMU{Binary: bin, Machine: "fake"}}
	logs := &lineLog{}
	vm, err := qemu.Start(context.Background(), qemu.Options{
		Board: b, Kernel: "/k", Initrd: "/i", Cmdline: "extra=1",
		Timeout: timeout, Log: logs.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return vm, logs
}

type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *lineLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

const short = 5 * time.Second

func TestExpectConversation(t *testing.T) {
	vm, logs := fakeVM(t, `
printf 'args: %s\r\n' "$*"
printf 'booting\r\nhello world\r\n'
printf 'hel'; sleep 0.2; printf 'lo again\r\n'
printf '# '
read -r line
printf '%s\r\ngot: %s\r\n' "$line" "$line"
exit 0`, 0)

	line, err := vm.Expect("-append console=ttyS0 extra=1", short)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "-kernel /k -initrd /i") {
		t.Errorf("args line %q lacks kernel and initrd", line)
	}
	if line, err = vm.Expect("hello", short); err != nil || line != "hello world" {
		t.Fatalf("Expect(hello) = %q, %v", line, err)
	}
	// Split across writes: still one line, and after the cursor.
	if line, err = vm.Expect("hello", short); err != nil || line != "hello again" {
		t.Fatalf("second Expect(hello) = %q, %v", line, err)
	}
	// A prompt has no newline.
	if line, err = vm.Expect("# ", short); err != nil || line != "# " {
		t.Fatalf("Expect(prompt) = %q, %v", line, err)
	}
	if err := vm.Send("ping\n"); err != nil {
		t.Fatal(err)
	}
	m, err := vm.ExpectRegexp(regexp.MustCompile(`^got: (\w+)$`), short)
	if err != nil || len(m) != 2 || m[1] != "ping" {
		t.Fatalf("ExpectRegexp = %q, %v", m, err)
	}
	if err := vm.Wait(short); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	tr := vm.Transcript()
	if strings.Contains(tr, "\r") || !strings.HasSuffix(tr, "got: ping\n") {
		t.Errorf("Transcript = %q", tr)
	}
	want := []string{"booting", "hello world", "hello again", "# ping", "got: ping"}
	if got := logs.get(); len(got) != 6 || !equal(got[1:], want) {
		t.Errorf("logged %q, want args line then %q", got, want)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestExpectCursor(t *testing.T) {
	vm, _ := fakeVM(t, `printf 'a\nb\na b\n'; exec sleep 10`, 0)
	for _, s := range []string{"a", "b", "a", "b"} {
		if _, err := vm.Expect(s, short); err != nil {
			t.Fatalf("Expect(%q): %v", s, err)
		}
	}
	// Everything is consumed; an old line must not match again.
	if _, err := vm.Expect("a", 200*time.Millisecond); !errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("Expect past the end: got %v, want ErrTimeout", err)
	}
}

func TestExpectPanic(t *testing.T) {
	vm, _ := fakeVM(t, `
i=0; while [ $i -lt 40 ]; do echo "line $i"; i=$((i+1)); done
echo "Kernel panic - not syncing: Attempted to kill init!"
exec sleep 10`, 0)
	start := time.Now()
	_, err := vm.Expect("never", 10*time.Second)
	if !errors.Is(err, qemu.ErrPanic) {
		t.Fatalf("got %v, want ErrPanic", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("panic noticed after %v, want at once", d)
	}
	msg := err.Error()
	if !strings.Contains(msg, "not syncing") || !strings.Contains(msg, "line 39") || strings.Contains(msg, "line 5\n") {
		t.Errorf("error should carry the last console lines:\n%s", msg)
	}
}

func TestExpectBeforePanic(t *testing.T) {
	vm, _ := fakeVM(t, `echo ok; echo "Kernel panic - not syncing: x"; exit 0`, 0)
	if _, err := vm.Expect("ok", short); err != nil {
		t.Fatalf("a match before the panic counts: %v", err)
	}
	if _, err := vm.Expect("more", short); !errors.Is(err, qemu.ErrPanic) {
		t.Errorf("Expect after the panic: got %v, want ErrPanic", err)
	}
	if err := vm.Wait(short); !errors.Is(err, qemu.ErrPanic) {
		t.Errorf("Wait: got %v, want ErrPanic though QEMU exited 0", err)
	}
}

func TestExpectExited(t *testing.T) {
	vm, _ := fakeVM(t, `echo bye; echo "fake-qemu: bad machine" >&2; exit 3`, 0)
	_, err := vm.Expect("never", short)
	if !errors.Is(err, qemu.ErrExited) || errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("got %v, want ErrExited", err)
	}
	for _, want := range []string{"exit status 3", "bad machine", "bye"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if err := vm.Wait(short); err == nil {
		t.Error("Wait: got nil for exit status 3")
	}
}

func TestExpectTimeout(t *testing.T) {
	vm, _ := fakeVM(t, `echo up; exec sleep 10`, 0)
	start := time.Now()
	if _, err := vm.Expect("never", 200*time.Millisecond); !errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if err := vm.Wait(200 * time.Millisecond); !errors.Is(err, qemu.ErrTimeout) {
		t.Errorf("Wait: got %v, want ErrTimeout", err)
	}
}

func TestBootTimeout(t *testing.T) {
	vm, _ := fakeVM(t, `echo up; exec sleep 10`, 300*time.Millisecond)
	_, err := vm.Expect("never", short)
	if !errors.Is(err, qemu.ErrExited) || !errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("got %v, want ErrExited and ErrTimeout", err)
	}
	if err := vm.Wait(short); !errors.Is(err, qemu.ErrTimeout) {
		t.Errorf("Wait: got %v, want ErrTimeout", err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := qemu.Start(ctx, qemu.Options{}); err == nil {
		t.Error("no board: got nil error")
	}
	b := &board.Board{Name: "x", QEMU: board.QEMU{Binary: "qemu-system-does-not-exist"}}
	if _, err := qemu.Start(ctx, qemu.Options{Board: b, Kernel: "/k"}); err == nil ||
		!strings.Contains(err.Error(), "scripts/setup") {
		t.Errorf("missing binary: got %v, want a hint at scripts/setup", err)
	}
}
