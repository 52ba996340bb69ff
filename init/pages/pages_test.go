package pages

import (
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadOnlyImage(t *testing.T) {
	maps := `00400000-006b7000 r-xp 00000000 00:01 12 /bin/smbox
006b7000-00985000 r--p 002b7000 00:01 12 /bin/smbox
00985000-009a9000 rw-p 00585000 00:01 12 /bin/smbox
009a9000-029e6000 rw-p 00000000 00:00 0
7f00000000-7f00001000 r--p 00000000 00:01 99 /etc/other
7ffd944d1000-7ffd944d3000 r-xp 00000000 00:00 0 [vdso]
`
	got := readOnlyImage([]byte(maps))
	want := []span{{0x400000, 0x6b7000}, {0x6b7000, 0x985000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("readOnlyImage = %x, want %x", got, want)
	}
}

// Trim on the test binary itself: it must keep running, and its text must
// still be there afterwards.
func TestTrim(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip(err)
	}
	Trim()
	if n := fib(20); n != 6765 {
		t.Fatalf("fib(20) = %d after Trim", n)
	}
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// TestTrimAfterCollection: a trim follows each collection, at most one
// per gap.
func TestTrimAfterCollection(t *testing.T) {
	// collectUntil collects until a trim has followed, or fails: the
	// cleanup that trims runs on its own goroutine after a cycle, and arms
	// the next one only then, so a collection made meanwhile finds nothing
	// to clean up.
	collectUntil := func(t *testing.T, n *atomic.Int32, want int32) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); n.Load() < want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d trims, want %d", n.Load(), want)
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	t.Run("every collection", func(t *testing.T) {
		var n atomic.Int32
		trimAfterCollection(func() { n.Add(1) }, 0)
		for i := int32(1); i <= 3; i++ {
			collectUntil(t, &n, i)
		}
		time.Sleep(50 * time.Millisecond)
		if got := n.Load(); got != 3 {
			t.Errorf("%d trims, want 3", got)
		}
	})
	t.Run("one per gap", func(t *testing.T) {
		var n atomic.Int32
		trimAfterCollection(func() { n.Add(1) }, time.Hour)
		collectUntil(t, &n, 1)
		for range 3 {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d trims within the gap, want 1", got)
		}
	})
}
