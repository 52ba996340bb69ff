package devmaster

import (
	"context"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"testing"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
)

// BenchmarkColdplug measures start to READY on a fake tree of 500
// devices with the default rules: enumeration, made-up events, the queue,
// sysfs reads, rules, database writes.
func BenchmarkColdplug(b *testing.B) {
	tr := newTree(b)
	for i := range 500 {
		tr.add(fakeDevice{path: fmt.Sprintf("/devices/platform/serial8250/tty/ttyS%d", i), subsystem: "tty",
			props: map[string]string{"MAJOR": "4", "MINOR": fmt.Sprint(64 + i), "DEVNAME": fmt.Sprintf("ttyS%d", i)}})
	}
	tr.write(filepath.Join(tr.rules, rules.DefaultName), string(rules.Default()))
	b.ResetTimer()
	for b.Loop() {
		d, err := New(Config{SysRoot: tr.sys, DevRoot: tr.dev, RunRoot: tr.run, RulesDirs: []string{tr.rules},
			Coldplug: true, Source: newFakeSource(), Log: log.New(io.Discard, "", 0),
			Notify: func(string) error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		<-d.Ready()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
