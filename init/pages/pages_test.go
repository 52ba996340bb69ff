package pages

import (
	"os"
	"testing"
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
