package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/u-root/u-root/pkg/dt"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// fitArch is the arch property of a FIT image node for a GOARCH.
func fitArch(goarch string) (string, error) {
	switch goarch {
	case "arm":
		return "arm", nil
	case "arm64":
		return "arm64", nil
	case "386":
		return "x86", nil
	case "amd64":
		return "x86_64", nil
	case "riscv64":
		return "riscv", nil
	}
	return "", fmt.Errorf("no FIT architecture for GOARCH %q", goarch)
}

// fitFormat is a Flattened Image Tree: kernel, initramfs and device tree
// in one file, each with a SHA-256 hash U-Boot checks, and one
// configuration that `bootm ADDR` boots.
type fitFormat struct{}

func (fitFormat) Name() string                   { return "fit" }
func (fitFormat) DefaultName(Compression) string { return "image.fit" }
func (fitFormat) NeedsKernel() bool              { return true }

func (fitFormat) Write(_ context.Context, in *Inputs, dst string) error {
	b := in.Board
	arch, err := fitArch(b.Arch)
	if err != nil {
		return err
	}
	if b.Boot.KernelAddr == 0 {
		return errors.New("boot.kernel_addr: a FIT's kernel needs the address U-Boot loads it to (kernel_addr_r)")
	}
	kernel, err := os.ReadFile(in.Kernel)
	if err != nil {
		return err
	}
	ramdisk, err := os.ReadFile(in.Initramfs)
	if err != nil {
		return err
	}
	fdt, err := in.primaryDeviceTree()
	if err != nil {
		return err
	}
	// U-Boot inflates a gzip kernel (Debian's arm64 vmlinuz) itself; a
	// zImage or bzImage decompresses itself.
	kcomp := "none"
	if bytes.HasPrefix(kernel, []byte{0x1f, 0x8b}) {
		kcomp = "gzip"
	}
	images := dt.NewNode("images", dt.WithChildren(
		fitImage("kernel", "Linux kernel", kernel, "kernel", arch, kcomp,
			dt.PropertyU32("load", uint32(b.Boot.KernelAddr)),
			dt.PropertyU32("entry", uint32(b.Boot.KernelAddr))),
		fitImage("ramdisk", "sysmaster initramfs ("+string(in.Compression)+")", ramdisk, "ramdisk", arch, "none"),
	))
	conf := dt.NewNode("conf-1", dt.WithProperty(
		dt.PropertyString("description", "sysmaster "+b.Name),
		dt.PropertyString("kernel", "kernel"),
		dt.PropertyString("ramdisk", "ramdisk"),
	))
	if fdt != nil {
		var load []dt.Property
		if b.Boot.FDTAddr != 0 {
			load = append(load, dt.PropertyU32("load", uint32(b.Boot.FDTAddr)))
		}
		images.Children = append(images.Children, fitImage("fdt-1", "device tree", fdt, "flat_dt", arch, "none", load...))
		conf.Properties = append(conf.Properties, dt.PropertyString("fdt", "fdt-1"))
	}
	root := dt.NewNode("", dt.WithProperty(
		dt.PropertyString("description", "sysmaster "+b.Name+": "+b.Description),
		dt.PropertyU32("timestamp", uint32(in.Mtime.Unix())),
		dt.PropertyU32("#address-cells", 1),
	), dt.WithChildren(
		images,
		dt.NewNode("configurations", dt.WithProperty(dt.PropertyString("default", "conf-1")), dt.WithChildren(conf)),
	))
	tree := &dt.FDT{
		Header:   dt.Header{Magic: dt.Magic, Version: 17, LastCompVersion: 16},
		RootNode: root,
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := tree.Write(w); err != nil {
		f.Close()
		return fmt.Errorf("writing the FIT: %w", err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fitImage(name, desc string, data []byte, typ, arch, comp string, extra ...dt.Property) *dt.Node {
	sum := sha256.Sum256(data)
	props := []dt.Property{
		dt.PropertyString("description", desc),
		{Name: "data", Value: data},
		dt.PropertyString("type", typ),
		dt.PropertyString("arch", arch),
	}
	if typ != "flat_dt" {
		props = append(props, dt.PropertyString("os", "linux"))
	}
	props = append(props, dt.PropertyString("compression", comp))
	props = append(props, extra...)
	return dt.NewNode(name, dt.WithProperty(props...), dt.WithChildren(
		dt.NewNode("hash-1", dt.WithProperty(
			dt.PropertyString("algo", "sha256"),
			dt.Property{Name: "value", Value: sum[:]},
		)),
	))
}

// primaryDeviceTree is the device tree a FIT carries: the board's first
// one, else QEMU's, else none (the bootloader's own is used).
func (in *Inputs) primaryDeviceTree() ([]byte, error) {
	if len(in.DeviceTrees) > 0 {
		return os.ReadFile(in.DeviceTrees[0].Path)
	}
	return in.QEMUDeviceTree, nil
}

func (fitFormat) Initramfs(path string) (io.ReadCloser, bool, error) {
	head, err := readHead(path, 4)
	if err != nil || len(head) < 4 || binary.BigEndian.Uint32(head) != dt.Magic {
		return nil, false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	tree, err := dt.ReadFDT(f)
	if err != nil {
		return nil, true, fmt.Errorf("reading the FIT: %w", err)
	}
	images, ok := tree.RootNode.LookupChildByName("images")
	if !ok {
		return nil, true, errors.New("a device tree without /images: not a FIT")
	}
	for _, n := range images.Children {
		if typ, ok := n.LookProperty("type"); !ok || string(typ.Value) != "ramdisk\x00" {
			continue
		}
		data, ok := n.LookProperty("data")
		if !ok {
			return nil, true, fmt.Errorf("FIT image %s: no data", n.Name)
		}
		if h, ok := n.LookupChildByName("hash-1"); ok {
			if v, ok := h.LookProperty("value"); ok {
				if sum := sha256.Sum256(data.Value); !bytes.Equal(sum[:], v.Value) {
					return nil, true, fmt.Errorf("FIT image %s: hash mismatch", n.Name)
				}
			}
		}
		return io.NopCloser(bytes.NewReader(data.Value)), true, nil
	}
	return nil, true, errors.New("FIT without a ramdisk image")
}

// qemuDeviceTree is the device tree QEMU generates for the board running
// its U-Boot, without the random seeds QEMU puts in /chosen, so that the
// same QEMU gives the same bytes; the bootloader and kernel fill /chosen
// at boot.
func qemuDeviceTree(ctx context.Context, b *board.Board) ([]byte, error) {
	var fw qemu.Firmware
	if b.Boot.UBoot != "" {
		cache, err := qemu.CacheDir()
		if err != nil {
			return nil, err
		}
		if fw, err = qemu.UBootFirmware(cache, b, ""); err != nil {
			return nil, err
		}
	}
	raw, err := qemu.DumpDeviceTree(ctx, b, fw)
	if err != nil {
		return nil, err
	}
	tree, err := dt.ReadFDT(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("QEMU's device tree: %w", err)
	}
	if chosen, ok := tree.RootNode.LookupChildByName("chosen"); ok {
		chosen.RemoveProperty("rng-seed")
		chosen.RemoveProperty("kaslr-seed")
	}
	var buf bytes.Buffer
	if _, err := tree.Write(&buf); err != nil {
		return nil, fmt.Errorf("QEMU's device tree: %w", err)
	}
	return buf.Bytes(), nil
}
