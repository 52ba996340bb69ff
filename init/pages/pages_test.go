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
	for _, tc := range []struct {
		name string
		gap  time.Duration
		gcs  int
		want int32
	}{
		{"every collection", 0, 3, 3},
		{"one per gap", time.Hour, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			trimAfterCollection(func() { n.Add(1) }, tc.gap)
			for range tc.gcs {
				before := n.Load()
				runtime.GC()
				// The cleanup runs on its own goroutine after the cycle.
				deadline := time.Now().Add(5 * time.Second)
				for n.Load() == before && time.Now().Before(deadline) && (tc.gap == 0 || before == 0) {
					time.Sleep(time.Millisecond)
				}
			}
			time.Sleep(50 * time.Millisecond)
			if got := n.Load(); got != tc.want {
				t.Errorf("%d trims after %d collections, want %d", got, tc.gcs, tc.want)
			}
		})
	}
}
