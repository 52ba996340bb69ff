package main

import (
	"context"
	"io"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

func cmdBoot(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("boot", stderr)
	boardName := fs.String("board", "", "board `NAME` or board file (required)")
	kernel := fs.String("kernel", "", "kernel image `PATH` (default: the board's kernel from the cache)")
	extra := fs.String("append", "", "more kernel command line `ARGS`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *boardName == "" {
		return usagef("boot: --board is required")
	}
	if fs.NArg() != 1 {
		return usagef("boot: want one IMAGE")
	}
	b, err := board.Load(*boardName)
	if err != nil {
		return err
	}
	if *kernel == "" {
		cache, err := qemu.CacheDir()
		if err != nil {
			return err
		}
		if *kernel, err = qemu.KernelPath(cache, b); err != nil {
			return err
		}
	}
	return qemu.Interactive(ctx, b, *kernel, fs.Arg(0), *extra)
}
