package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
)

// defaultRootModules are what a first stage loads to reach a squashfs root
// on a virtio disk with Debian's kernels, where all three are modules.
var defaultRootModules = []string{"virtio_pci", "virtio_blk", "squashfs"}

// rootModulesFile is where the first stage finds the modules to load
// before it looks for the root device (init reads it).
const rootModulesFile = "/etc/sysmaster/root-modules"

// RootResult describes a split image: the first-stage initramfs and the
// root filesystem.
type RootResult struct {
	Initramfs *Result
	Root      string // the squashfs file
	RootBytes int64
}

// BuildRoot writes the image's whole tree as a squashfs root filesystem at
// rootOut (with the host's mksquashfs), and at out a small initramfs that
// loads modules (the board's module tree; virtio_pci, virtio_blk and
// squashfs unless WithRootModules says otherwise), mounts the root that
// root= on the kernel command line names and executes its init.
func BuildRoot(ctx context.Context, b *board.Board, out, rootOut string, opts ...Option) (*RootResult, error) {
	if b == nil {
		return nil, errors.New("build: no board")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mksquashfs, err := exec.LookPath("mksquashfs")
	if err != nil {
		return nil, fmt.Errorf("build %s: a squashfs root needs mksquashfs (Debian's squashfs-tools; scripts/setup installs it): %w", b.Name, err)
	}
	comp, err := o.resolveCompression(b)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	mtime, err := o.resolveMtime()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	workDir, err := os.MkdirTemp("", "smimage-root-")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	defer os.RemoveAll(workDir)

	full, err := o.layout(ctx, b, workDir)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	for _, n := range baseNodes() {
		if _, ok := full.nodes[n.Path]; !ok {
			if err := full.Add(n); err != nil {
				return nil, err
			}
		}
	}
	// The root is read-only: init cannot add the modprobe link to it, and
	// mount points must exist in it (/var for a data partition, /mnt for
	// mount units).
	if _, ok := full.nodes[ModprobeLink[1:]]; !ok {
		if err := full.AddSymlink(ModprobeLink, smboxPath); err != nil {
			return nil, err
		}
	}
	// An empty machine id, as systemd's images have it: identity mounts
	// the id it makes over it.
	if _, ok := full.nodes["etc/machine-id"]; !ok {
		if err := full.Add(Node{Path: "etc/machine-id", Kind: KindFile, Perm: 0o444}); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"var", "mnt"} {
		if _, ok := full.nodes[d]; !ok {
			if err := full.AddDir(d, 0o755); err != nil {
				return nil, err
			}
		}
	}
	stage := filepath.Join(workDir, "root")
	pseudo, err := stageTree(full, stage)
	if err != nil {
		return nil, fmt.Errorf("build %s: staging the root: %w", b.Name, err)
	}
	tmpRoot := rootOut + ".tmp"
	defer os.Remove(tmpRoot)
	args := []string{stage, tmpRoot, "-noappend", "-all-root", "-no-progress", "-quiet", "-comp", "gzip",
		"-mkfs-time", strconv.FormatInt(mtime.Unix(), 10), "-all-time", strconv.FormatInt(mtime.Unix(), 10)}
	for _, p := range pseudo {
		args = append(args, "-p", p)
	}
	o.logf("writing the root filesystem %s (squashfs)", rootOut)
	if msg, err := exec.CommandContext(ctx, mksquashfs, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: mksquashfs: %w: %s", b.Name, err, strings.TrimSpace(string(msg)))
	}
	if err := os.Rename(tmpRoot, rootOut); err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	fi, err := os.Stat(rootOut)
	if err != nil {
		return nil, err
	}

	// The first stage: smbox as /init and the modules that reach the
	// root (init links modprobe).
	small := NewTree()
	if err := small.Add(*full.nodes[smboxPath[1:]]); err != nil {
		return nil, err
	}
	for _, l := range []string{"/init", "/sbin/init"} {
		if err := small.AddSymlink(l, smboxPath); err != nil {
			return nil, err
		}
	}
	if err := small.AddDir("/sysroot", 0o755); err != nil {
		return nil, err
	}
	mods := o.rootModules
	if mods == nil {
		mods = defaultRootModules
	}
	if !o.noKmods {
		if o.kmods == "" {
			return nil, fmt.Errorf("build %s: the first stage needs kernel modules (%s): pass the board's module tree (smimage build --modules DIR)", b.Name, strings.Join(mods, " "))
		}
		mb := *b
		mb.Modules = board.Modules{Names: mods}
		if err := addKernelModules(small, &mb, o.kmods, o.logf); err != nil {
			return nil, fmt.Errorf("build %s: first stage: %w", b.Name, err)
		}
		if err := small.AddFile(rootModulesFile, []byte(strings.Join(mods, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	tmp, err := createTemp(out)
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	files, raw, by, err := writeCompressed(tmp, small, comp, mtime, o.compressOptions(b, comp)...)
	if err != nil {
		return nil, fmt.Errorf("build %s: writing %s: %w", b.Name, out, err)
	}
	if by != "" {
		o.logf("%s: %s", comp, by)
	}
	size, err := commit(tmp, out)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	o.logf("%s: first stage, %d files, %d bytes %s; root %s: %d bytes", out, files, size, comp, rootOut, fi.Size())
	return &RootResult{
		Initramfs: &Result{Path: out, Files: files, RawBytes: raw, CompressedBytes: size, Compression: comp},
		Root:      rootOut, RootBytes: fi.Size(),
	}, nil
}

// WithRootModules names the modules the first stage of BuildRoot loads.
func WithRootModules(names ...string) Option {
	return func(o *options) { o.rootModules = names }
}

// stageTree writes t under dir for mksquashfs. Device nodes cannot be made
// without privileges: they come back as mksquashfs pseudo definitions.
func stageTree(t *Tree, dir string) ([]string, error) {
	var pseudo []string
	for _, n := range t.Nodes() {
		p := filepath.Join(dir, n.Path)
		switch n.Kind {
		case KindDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
			if err := os.Chmod(p, n.Perm); err != nil {
				return nil, err
			}
		case KindSymlink:
			if err := os.Symlink(n.Target, p); err != nil {
				return nil, err
			}
		case KindFile:
			if err := stageFile(n, p); err != nil {
				return nil, err
			}
		case KindCharDev:
			pseudo = append(pseudo, fmt.Sprintf("%s c %o 0 0 %d %d", n.Path, n.Perm.Perm(), n.Major, n.Minor))
		}
	}
	return pseudo, nil
}

func stageFile(n Node, p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if n.Source != "" {
		src, err := os.Open(n.Source)
		if err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(f, src)
		src.Close()
		if err != nil {
			f.Close()
			return err
		}
	} else if _, err := f.Write(n.Data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(n.Perm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
