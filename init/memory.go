package pid1

import (
	"runtime/debug"
	"runtime/metrics"

	"github.com/sysmaster-go/sysmaster/init/pages"
)

// heapHeadroom is how far init's memory may grow before its collector
// runs (quietHeap).
const heapHeadroom = 4 << 20

// lean keeps init's share of the smbox binary to the pages it runs, once
// /proc is there (init starts before it is mounted), and again once the
// boot is behind it; and keeps its collector quiet.
func (p *pid1) lean() {
	quietHeap()
	pages.Trim()
	pages.TrimLater()
}

// quietHeap turns init's collector off but for a soft memory limit
// heapHeadroom above what init uses now. Init's heap is small and nearly
// constant (the ~250 kB its boot allocates, most of it package state that
// stays), so a collection frees next to nothing; yet each one, the forced
// one every two minutes included, walks the goroutine stacks through the
// function tables and moves every span between the collector's sets: it
// maps again the pages Trim dropped and grows the collector's metadata by
// some hundred kB. The idle loop allocates next to nothing (ping), so the
// limit is reached rarely, and then it collects as usual.
//
// The figures come from runtime/metrics: runtime.ReadMemStats would flush
// every span cached for allocation back to the central lists, and those
// lists' blocks are memory that stays (some hundred kB).
func quietHeap() {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetMemoryLimit(int64(s[0].Value.Uint64()-s[1].Value.Uint64()) + heapHeadroom)
	debug.SetGCPercent(-1)
}
