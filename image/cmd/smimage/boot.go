package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

func cmdBoot(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("boot", stderr)
	boardName := fs.String("board", "", "board `NAME` or board file (required)")
	format := fs.String("format", "", "the image's `FORMAT` (default: the board's first; cpio boots without a bootloader, the others through the board's U-Boot)")
	kernel := fs.String("kernel", "", "kernel image `PATH` (default: the board's kernel from the cache)")
	extra := fs.String("append", "", "more kernel command line `ARGS` (cpio only: a bootloader takes the command line from the image)")
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
	f, err := image.BoardFormat(b, *format)
	if err != nil {
		return err
	}
	img := fs.Arg(0)
	if _, err := os.Stat(img); err != nil {
		return err
	}
	cache, err := qemu.CacheDir()
	if err != nil {
		return err
	}
	if *kernel == "" {
		if *kernel, err = qemu.KernelPath(cache, b); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "smimage-boot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	disk, viaUBoot, err := f.BootDisk(b, img, *kernel, dir)
	if err != nil {
		return fmt.Errorf("%s (%s): %w", img, f.Name(), err)
	}
	if !viaUBoot {
		return qemu.Interactive(ctx, b, *kernel, img, *extra)
	}
	if *extra != "" {
		return errors.New("boot: --append works for the cpio format only; U-Boot takes the command line from the image")
	}
	fw, err := qemu.UBootFirmware(cache, b, disk)
	if err != nil {
		return err
	}
	return qemu.InteractiveFirmware(ctx, b, fw)
}
