package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/units"
	"github.com/sysmaster-go/sysmaster/units/system"
)

// smboxPath is where the multi-call binary lives; every applet link points
// at it with an absolute target, as the busybox links point at busyboxPath.
const (
	smboxPath   = "/bin/smbox"
	busyboxPath = "/bin/busybox"
	unitsDir    = "/etc/sysmaster/units"
)

// AppletLinks lists the paths that link to /bin/smbox in an image.
func AppletLinks() []string {
	return []string{
		"/init", "/sbin/init", "/sbin/sysmaster", "/bin/sctl",
		"/sbin/poweroff", "/sbin/reboot", "/sbin/halt", "/bin/notify",
		"/sbin/devmaster", "/bin/devctl",
		"/sbin/netmaster", "/bin/netctl",
	}
}

// ModprobeLink is the kernel's usermode helper for module requests. An
// initramfs leaves it out and init links it once it runs: the kernel's
// requests before /init (four on the x86_64 board, crypto algorithms no
// module of the image provides) then fail at once instead of each
// starting smbox, about 45 ms apiece under emulation. A root filesystem,
// read-only, carries it.
const ModprobeLink = "/sbin/modprobe"

// BusyboxApplets lists the busybox applets linked under /bin when an image
// carries busybox.
func BusyboxApplets() []string {
	return []string{
		"sh", "ls", "cat", "echo", "ps", "kill", "pidof", "mount", "umount", "dmesg",
		"sleep", "grep", "head", "tail", "mkdir", "rm", "cp", "mv", "ln", "chmod",
		"uname", "free", "df", "top", "vi", "wc", "sed", "awk", "find", "uptime",
		"true", "false", "test", "[", "env", "cut", "sort", "tr", "which", "more",
		"less", "ip", "ifconfig", "id", "date", "sync", "setsid", "cttyhack",
		"stat", "readlink", "lsmod", "mdev", "xargs",
	}
}

// Result describes a written image.
type Result struct {
	Path            string // the output file or folder
	Format          string // the Format's name
	Files           int    // archive entries: files, directories, links and nodes
	RawBytes        int64  // size of the cpio archive
	CompressedBytes int64  // size of the compressed cpio archive
	Bytes           int64  // size of the output (its files' for a folder)
	Compression     Compression
}

// Option changes how Build works.
type Option func(*options)

type addition struct {
	src, dst string // a host file (src set) or data
	data     []byte
	mode     fs.FileMode
}

type options struct {
	// rootModules are loaded by the first stage of BuildRoot.
	rootModules []string

	compression  Compression
	compressOpts []CompressOption
	mtime        *time.Time
	units        *string
	smbox        string
	busybox      string
	adds         []addition
	progress     io.Writer
	moduleRoot   string
	kmods        string // kernel module tree, lib/modules/VERSION
	noKmods      bool
	debs         []string // Debian packages besides the board's
	debSource    PackageSource
	staticOnly   bool
	format       Format
	kernel       string
	dtbDir       string
	firmware     string
}

// WithFormat writes the image in format f instead of the board's default.
func WithFormat(f Format) Option {
	return func(o *options) { o.format = f }
}

// WithKernel names the board's kernel image, which the formats that carry
// a kernel (fit, bootdir, sdcard) need.
func WithKernel(path string) Option {
	return func(o *options) { o.kernel = path }
}

// WithDeviceTreeDir names the folder of the kernel package's device trees,
// where the board's boot.devicetrees are found.
func WithDeviceTreeDir(dir string) Option {
	return func(o *options) { o.dtbDir = dir }
}

// WithFirmwareDir names the folder of the board's first-stage firmware
// files (a Raspberry Pi's bootcode.bin, start*.elf, fixup*.dat).
func WithFirmwareDir(dir string) Option {
	return func(o *options) { o.firmware = dir }
}

// WithCompression sets the compression; the default is the board's, else
// gzip.
func WithCompression(c Compression) Option {
	return func(o *options) { o.compression = c }
}

// WithCompressOptions tunes the compressor, after what the board picks
// (xz's BCJ filter): WithZstdTool("none") for the built-in zstd encoder.
func WithCompressOptions(opts ...CompressOption) Option {
	return func(o *options) { o.compressOpts = append(o.compressOpts, opts...) }
}

// WithMtime sets the mtime of every entry; the default is
// SOURCE_DATE_EPOCH, else the epoch.
func WithMtime(t time.Time) Option {
	return func(o *options) { o.mtime = &t }
}

// WithUnits copies DIR/*.toml into /etc/sysmaster/units. The default is the
// module's units/ folder when it exists; an empty dir means no units.
func WithUnits(dir string) Option {
	return func(o *options) { o.units = &dir }
}

// WithSmbox uses a prebuilt smbox binary instead of cross-compiling one.
func WithSmbox(path string) Option {
	return func(o *options) { o.smbox = path }
}

// WithBusybox adds a static busybox as /bin/busybox with links for
// BusyboxApplets, none of which replaces an smbox applet link.
func WithBusybox(path string) Option {
	return func(o *options) { o.busybox = path }
}

// WithExtraFile copies the host file src to dst in the image, keeping its
// permission bits. ELF files must be static and built for the board.
func WithExtraFile(src, dst string) Option {
	return func(o *options) { o.adds = append(o.adds, addition{src: src, dst: dst}) }
}

// WithFile puts data at dst in the image. Extra files and WithFile apply in
// the order given; a later one replaces an earlier one at the same path.
func WithFile(dst string, data []byte, mode fs.FileMode) Option {
	return func(o *options) { o.adds = append(o.adds, addition{dst: dst, data: data, mode: mode}) }
}

// WithProgress writes progress lines and a final summary to w.
func WithProgress(w io.Writer) Option {
	return func(o *options) { o.progress = w }
}

// WithModuleRoot sets the module whose main package is smbox; the default
// is found by walking up from the working directory to go.mod.
func WithModuleRoot(dir string) Option {
	return func(o *options) { o.moduleRoot = dir }
}

// WithKernelModules takes kernel modules from dir, the module tree of the
// board's kernel (lib/modules/VERSION): the modules the board's [modules]
// asks for and their dependencies go to /lib/modules/VERSION in the image,
// with the modules.dep, modules.alias and modules.softdep that modprobe
// reads. A board that asks for modules needs this option or
// WithoutKernelModules.
func WithKernelModules(dir string) Option {
	return func(o *options) { o.kmods, o.noKmods = dir, false }
}

// WithoutKernelModules leaves kernel modules out even when the board asks
// for some: for a kernel with the drivers built in, or an image that never
// boots.
func WithoutKernelModules() Option {
	return func(o *options) { o.kmods, o.noKmods = "", true }
}

// WithDeb adds the Debian package name, for the board's architecture, as
// the board's packages are: all its files but the documentation.
func WithDeb(name string) Option {
	return func(o *options) { o.debs = append(o.debs, name) }
}

// WithStaticOnly refuses dynamically linked binaries instead of bringing
// in their interpreter and libraries.
func WithStaticOnly() Option {
	return func(o *options) { o.staticOnly = true }
}

// WithPackageSource says where Debian packages come from (the board's
// packages and WithDeb); without it an image that needs one fails.
func WithPackageSource(src PackageSource) Option {
	return func(o *options) { o.debSource = src }
}

func (o *options) logf(format string, args ...any) {
	if o.progress != nil {
		fmt.Fprintf(o.progress, format+"\n", args...)
	}
}

// SourceDateEpoch returns the time in SOURCE_DATE_EPOCH, or the Unix epoch
// when the variable is unset or empty.
func SourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a non-negative integer", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// FindModuleRoot walks up from dir to the first folder holding go.mod.
func FindModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding go.mod: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod in %s or any parent", dir)
		}
		d = parent
	}
}

// Build lays out the image for board b and writes it to out in the
// board's default format or the one WithFormat picks, atomically: on error
// nothing is left at out and an existing file or folder there is
// untouched. The output directory is created when missing.
func Build(ctx context.Context, b *board.Board, out string, opts ...Option) (*Result, error) {
	if b == nil {
		return nil, errors.New("build: no board")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	comp, err := o.resolveCompression(b)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	mtime, err := o.resolveMtime()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	format := o.format
	if format == nil {
		if format, err = BoardFormat(b, ""); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}

	// Make room for the output first so that a bad path fails before a
	// long compile; the artifact is written there and renamed into place.
	stage, err := createStage(out)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	workDir, err := os.MkdirTemp("", "smimage-")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	defer os.RemoveAll(workDir)

	in, err := o.inputs(ctx, b, format, comp, mtime)
	if err != nil {
		return nil, fmt.Errorf("build %s (%s): %w", b.Name, format.Name(), err)
	}

	t, err := o.layout(ctx, b, workDir)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}

	in.Initramfs = filepath.Join(workDir, "initramfs.cpio"+comp.Ext())
	cf, err := os.Create(in.Initramfs)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	files, raw, by, err := writeCompressed(cf, t, comp, mtime, o.compressOptions(b, comp)...)
	if err == nil {
		err = cf.Close()
	} else {
		cf.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("build %s: writing the initramfs: %w", b.Name, err)
	}
	if by != "" {
		o.logf("%s: %s", comp, by)
	}
	fi, err := os.Stat(in.Initramfs)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	// The budget is the initramfs's, in whichever format it goes out.
	if err := checkMaxSize(b, t, fi.Size(), string(comp)); err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}

	o.logf("writing %s (%s, %s)", out, format.Name(), comp)
	dst := filepath.Join(stage, "out")
	if err := format.Write(ctx, in, dst); err != nil {
		return nil, fmt.Errorf("build %s: writing %s (%s): %w", b.Name, out, format.Name(), err)
	}
	size, err := commitTree(dst, out)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", b.Name, err)
	}
	res := &Result{Path: out, Format: format.Name(), Files: files, RawBytes: raw,
		CompressedBytes: fi.Size(), Bytes: size, Compression: comp}
	o.logf("%s: %d files, %d bytes raw, %d bytes %s (%.1f%%); %s %d bytes",
		out, files, raw, fi.Size(), comp, 100*float64(fi.Size())/float64(max(raw, 1)), format.Name(), size)
	return res, nil
}

// inputs gathers what format needs besides the initramfs, before the long
// part of the build, so that a missing kernel fails at once.
func (o *options) inputs(ctx context.Context, b *board.Board, format Format, comp Compression, mtime time.Time) (*Inputs, error) {
	in := &Inputs{Board: b, Compression: comp, Mtime: mtime, Logf: o.logf, Firmware: o.firmware}
	if !format.NeedsKernel() {
		return in, nil
	}
	if o.kernel == "" {
		return nil, fmt.Errorf("the format carries the kernel, and none was given: run scripts/fetch-kernel %s (smimage build --kernel PATH)", b.FetchRef())
	}
	if _, err := os.Stat(o.kernel); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	in.Kernel = o.kernel
	for _, name := range b.Boot.DeviceTrees {
		if o.dtbDir == "" {
			return nil, fmt.Errorf("boot.devicetrees: no device tree folder given: run scripts/fetch-kernel %s (smimage build --dtbs DIR)", b.FetchRef())
		}
		p := filepath.Join(o.dtbDir, filepath.FromSlash(name))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("boot.devicetrees: %w (scripts/fetch-kernel %s unpacks the kernel package's device trees)", err, b.FetchRef())
		}
		in.DeviceTrees = append(in.DeviceTrees, DeviceTree{Name: name, Path: p})
	}
	if b.Boot.QEMUDeviceTree {
		dtb, err := qemuDeviceTree(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("boot.qemu_devicetree: %w", err)
		}
		in.QEMUDeviceTree = dtb
	}
	return in, nil
}

func (o *options) resolveCompression(b *board.Board) (Compression, error) {
	c := o.compression
	if c == "" {
		c = Compression(b.Compression)
	}
	if c == "" {
		return Gzip, nil
	}
	return ParseCompression(string(c))
}

func (o *options) resolveMtime() (time.Time, error) {
	if o.mtime != nil {
		return *o.mtime, nil
	}
	return SourceDateEpoch()
}

// createStage makes a private folder next to out, where the artifact is
// written before it is renamed into place.
func createStage(out string) (string, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("output %s: %w", out, err)
	}
	stage, err := os.MkdirTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("output %s: %w", out, err)
	}
	return stage, nil
}

// commitTree makes the artifact at dst durable, moves it to out and
// returns its size (the sum of its files for a folder).
func commitTree(dst, out string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size += fi.Size()
		return f.Sync()
	})
	if err != nil {
		return 0, fmt.Errorf("output %s: %w", out, err)
	}
	if err := moveIntoPlace(dst, out); err != nil {
		return 0, err
	}
	// Persist the rename too; some file systems cannot sync a directory,
	// and the file itself is already safe, so that failure is ignored.
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return size, nil
}

func writeCompressed(w io.Writer, t *Tree, comp Compression, mtime time.Time, opts ...CompressOption) (files int, raw int64, by string, err error) {
	zw, err := NewCompressor(w, comp, opts...)
	if err != nil {
		return 0, 0, "", err
	}
	files, raw, err = t.writeArchive(zw, mtime)
	if err != nil {
		return 0, 0, "", err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, "", fmt.Errorf("%s: %w", comp, err)
	}
	return files, raw, compressedBy(zw), nil
}

// compressOptions picks xz's BCJ filter for the board's machine code when
// the kernel's configuration (beside its module tree) says its decoder
// has it, then adds those of WithCompressOptions.
func (o *options) compressOptions(b *board.Board, comp Compression) []CompressOption {
	if comp != XZ || o.kmods == "" {
		return o.compressOpts
	}
	cfg, _, err := KernelConfig(o.kmods)
	if err != nil {
		return o.compressOpts
	}
	if f := XZFilterFor(b.Arch, cfg); f != "" {
		return append([]CompressOption{WithXZFilter(f)}, o.compressOpts...)
	}
	return o.compressOpts
}

// layout assembles the image's tree.
func (o *options) layout(ctx context.Context, b *board.Board, workDir string) (*Tree, error) {
	root := o.moduleRoot
	if root == "" {
		// Only compiling smbox needs the module; units fall back to none.
		if r, err := FindModuleRoot("."); err == nil {
			root = r
		}
	}

	t := NewTree()
	smbox, compile := o.smbox, o.smbox == ""
	if compile {
		if root == "" {
			return nil, errors.New("compiling smbox: no module root (no go.mod above the working directory); use WithModuleRoot or WithSmbox")
		}
		// Compiled last, once the inputs are known to be good.
		smbox = filepath.Join(workDir, "smbox")
	} else {
		o.logf("using smbox %s", smbox)
		if err := CheckBinary(smbox, b.Arch); err != nil {
			return nil, err
		}
	}
	// The source is read when the archive is written.
	if err := t.Add(Node{Path: smboxPath, Kind: KindFile, Perm: 0o755, Source: smbox}); err != nil {
		return nil, err
	}
	for _, l := range AppletLinks() {
		if err := t.AddSymlink(l, smboxPath); err != nil {
			return nil, err
		}
	}

	if err := t.AddDir(unitsDir, 0o755); err != nil {
		return nil, err
	}
	units := ""
	if o.units != nil {
		units = *o.units
		if units != "" {
			if fi, err := os.Stat(units); err != nil {
				return nil, fmt.Errorf("units: %w", err)
			} else if !fi.IsDir() {
				return nil, fmt.Errorf("units: %s is not a directory", units)
			}
		}
	} else if root != "" {
		if fi, err := os.Stat(filepath.Join(root, "units")); err == nil && fi.IsDir() {
			units = filepath.Join(root, "units")
		}
	}
	if units != "" {
		if err := addUnits(t, units, o, b.NetworkEnabled()); err != nil {
			return nil, err
		}
	}

	if err := addSystemFiles(t); err != nil {
		return nil, err
	}
	if err := addNetwork(t, b); err != nil {
		return nil, err
	}
	if b.Hostname != "" {
		if err := t.AddFile("/etc/hostname", []byte(b.Hostname+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	// A reproducible image (SOURCE_DATE_EPOCH) says when it was built, so
	// a board without a clock does not start in 1970.
	if mtime, err := o.resolveMtime(); err == nil && mtime.Unix() > 0 {
		if err := t.AddFile(system.BuildTimeFile, []byte(strconv.FormatInt(mtime.Unix(), 10)+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	if !b.System.Empty() {
		if err := t.AddFile(system.Path, b.System.Encode(), 0o644); err != nil {
			return nil, err
		}
	}
	if o.busybox != "" {
		if err := addBusybox(t, o.busybox, b.Arch); err != nil {
			return nil, err
		}
		o.logf("adding busybox %s", o.busybox)
	}

	if err := o.addKernelModules(t, b); err != nil {
		return nil, err
	}
	res := newResolver(b, t, o.debSource, o.staticOnly, o.logf)
	if err := o.addPackages(ctx, t, b, res); err != nil {
		return nil, err
	}

	for _, a := range o.adds {
		if a.src == "" {
			if err := t.AddFile(a.dst, a.data, a.mode); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := os.Stat(a.src)
		if err != nil {
			return nil, fmt.Errorf("extra file: %w", err)
		}
		if err := t.AddHostFile(a.dst, a.src, fi.Mode()); err != nil {
			return nil, fmt.Errorf("extra file: %w", err)
		}
		res.check(path.Clean("/"+a.dst), a.src, nil, a.src)
		o.logf("adding %s as %s", a.src, a.dst)
	}
	// Every ELF file is checked once the image has all it was given, so a
	// library that an extra or a package brings is found there first.
	if err := res.run(ctx); err != nil {
		return nil, err
	}
	if err := addDataUnits(t, b.Data); err != nil {
		return nil, err
	}
	if err := presetUnits(t); err != nil {
		return nil, err
	}
	if err := checkRules(t); err != nil {
		return nil, err
	}
	if err := checkNetwork(t); err != nil {
		return nil, err
	}
	if compile {
		o.logf("compiling smbox for linux/%s%s", b.Arch, goarmSuffix(b))
		if err := compileSmbox(ctx, b, root, smbox); err != nil {
			return nil, err
		}
		if err := CheckBinary(smbox, b.Arch); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addPackages adds the board's Debian packages and those of WithDeb.
func (o *options) addPackages(ctx context.Context, t *Tree, b *board.Board, res *resolver) error {
	type want struct {
		name, from string
		files      []string
	}
	var wants []want
	seen := make(map[string]bool)
	for _, p := range b.Packages {
		wants = append(wants, want{p, "packages", b.Package[p].Files})
		seen[p] = true
	}
	for _, p := range o.debs {
		if !board.ValidPackageName(p) {
			return fmt.Errorf("--deb %q: not a Debian package name", p)
		}
		if !seen[p] {
			wants = append(wants, want{p, "--deb", nil})
			seen[p] = true
		}
	}
	if len(wants) == 0 {
		return nil
	}
	if o.debSource == nil {
		return fmt.Errorf("%s %s: no source of Debian packages (WithPackageSource)", wants[0].from, wants[0].name)
	}
	for _, w := range wants {
		p, err := o.debSource.Package(ctx, b.DebianArch, b.DebianSuite, w.name)
		if err != nil {
			return fmt.Errorf("%s: %w", w.from, err)
		}
		files, err := addPackage(t, p, w.files)
		if err != nil {
			return err
		}
		res.addPackage(p)
		for _, f := range files {
			res.check(f.dst, f.src, p, f.dst+" (package "+p.Name+")")
		}
		o.logf("adding Debian package %s (%s, %s): %d files", p.Name, p.Arch, p.Suite, len(files))
	}
	return nil
}

func (o *options) addKernelModules(t *Tree, b *board.Board) error {
	switch {
	case o.noKmods:
		return nil
	case b.Modules.Empty():
		if o.kmods != "" {
			o.logf("board %s asks for no kernel modules; not using %s", b.Name, o.kmods)
		}
		return nil
	case o.kmods == "":
		return fmt.Errorf("board %s asks for kernel modules ([modules] in its board file), but no module tree was given: run scripts/fetch-kernel %s and pass its lib/modules/VERSION folder (smimage build --modules DIR)",
			b.Name, b.FetchRef())
	}
	return addKernelModules(t, b, o.kmods, o.logf)
}

// presetUnits checks every unit file in the image and enables the ones
// with an [Install] section, as `sctl enable` would on the board: a
// TARGET.wants/NAME link per WantedBy= (.requires for RequiredBy=). A unit
// that does not parse fails the build, naming file, line and key.
func presetUnits(t *Tree) error {
	for _, n := range t.Nodes() {
		if n.Kind != KindFile || "/"+path.Dir(n.Path) != unitsDir || !strings.HasSuffix(n.Path, ".toml") {
			continue
		}
		data := n.Data
		name := n.Path
		if n.Source != "" {
			var err error
			if data, err = os.ReadFile(n.Source); err != nil {
				return fmt.Errorf("units: %w", err)
			}
			name = n.Source
		}
		u, err := units.Parse(name, data)
		if err != nil {
			return fmt.Errorf("bad unit: %w", err)
		}
		if u.IsTemplate() {
			continue
		}
		link := func(dir string) error {
			return t.AddSymlink(path.Join(unitsDir, dir, u.Name), "../"+u.Name+".toml")
		}
		for _, w := range u.Install.WantedBy {
			if err := link(w + ".wants"); err != nil {
				return err
			}
		}
		for _, r := range u.Install.RequiredBy {
			if err := link(r + ".requires"); err != nil {
				return err
			}
		}
	}
	return nil
}

func goarmSuffix(b *board.Board) string {
	if b.Arch == "arm" && b.GOARM != "" {
		return " (GOARM=" + b.GOARM + ")"
	}
	return ""
}

func addUnits(t *Tree, dir string, o *options, network bool) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return fmt.Errorf("units: %w", err)
	}
	sort.Strings(files)
	have := map[string]bool{}
	for _, f := range files {
		if !network && slices.Contains(networkUnits, filepath.Base(f)) {
			continue
		}
		if err := t.AddHostFile(path.Join(unitsDir, filepath.Base(f)), f, 0o644); err != nil {
			return fmt.Errorf("units: %w", err)
		}
		have[strings.TrimSuffix(filepath.Base(f), ".toml")] = true
	}
	o.logf("adding %d units from %s", len(files), dir)
	// systemd unit files beside the TOML ones are converted; a TOML unit
	// of the same name wins.
	conv, err := units.ConvertDir(dir)
	if err != nil {
		return fmt.Errorf("units: %w", err)
	}
	n := 0
	for _, u := range conv.Units {
		if have[u.Name] {
			continue
		}
		src := filepath.Join(dir, u.Name)
		if u.Err != nil {
			return fmt.Errorf("units: %s: %w", src, u.Err)
		}
		for _, d := range u.Lost() {
			o.logf("%s: %s", src, d)
		}
		if err := t.AddFile(path.Join(unitsDir, u.Name+".toml"), u.TOML, 0o644); err != nil {
			return fmt.Errorf("units: %w", err)
		}
		have[u.Name] = true
		n++
	}
	for _, l := range conv.Links {
		sub, unit := path.Split(l)
		file := unit
		if !have[file] {
			file = units.TemplateOf(unit)
		}
		if !have[file] {
			continue
		}
		if err := t.AddSymlink(path.Join(unitsDir, sub, unit), "../"+file+".toml"); err != nil {
			return fmt.Errorf("units: %w", err)
		}
	}
	if n > 0 {
		o.logf("converted %d systemd units from %s", n, dir)
	}
	return nil
}

func addBusybox(t *Tree, src, goarch string) error {
	if err := CheckBinary(src, goarch); err != nil {
		return err
	}
	if err := t.AddHostFile(busyboxPath, src, 0o755); err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	for _, a := range BusyboxApplets() {
		p := path.Join("/bin", a)
		if _, taken := t.Lookup(p); taken {
			continue
		}
		if err := t.AddSymlink(p, busyboxPath); err != nil {
			return fmt.Errorf("busybox: %w", err)
		}
	}
	return nil
}

// compileSmbox cross-compiles the module's main package, stripped and
// without build IDs so that the same sources give the same binary.
func compileSmbox(ctx context.Context, b *board.Board, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"GOOS=linux", "GOARCH="+b.Arch, "GOARM="+b.GOARM, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("compiling smbox for linux/%s in %s: %w", b.Arch, root, err)
		}
		return fmt.Errorf("compiling smbox for linux/%s in %s: %w: %s", b.Arch, root, err, msg)
	}
	return nil
}
