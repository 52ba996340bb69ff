package kmod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProbe(t *testing.T) {
	virtioNet := []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}
	tests := []struct {
		name       string
		query      string
		params     string
		cmdline    string
		preloaded  []string
		want       []string
		wantParams map[string]string
		wantErr    string
	}{
		{name: "dependencies first", query: "virtio_net", want: virtioNet,
			wantParams: map[string]string{"virtio_net": "napi_tx=1", "virtio": ""}},
		{name: "command line parameters after configured ones", query: "virtio_net", params: "mtu=1400", want: virtioNet,
			wantParams: map[string]string{"virtio_net": "napi_tx=1 mtu=1400", "failover": ""}},
		{name: "kernel command line", query: "virtio_net", cmdline: `quiet virtio_net.debug=1 failover.x="a b" console=ttyS0`, want: virtioNet,
			wantParams: map[string]string{"virtio_net": "napi_tx=1 debug=1", "failover": `x="a b"`}},
		{name: "dash for underscore", query: "virtio-rng", want: []string{"virtio", "virtio_ring", "virtio_rng"}},
		{name: "some loaded already", query: "virtio_net", preloaded: []string{"virtio", "failover"},
			want: []string{"virtio_ring", "net_failover", "virtio_net"}},
		{name: "loaded already", query: "virtio_rng", preloaded: []string{"virtio", "virtio_ring", "virtio_rng"}},
		{name: "softdep pre", query: "xt_LOG", want: []string{"nf_log_syslog", "xt_LOG"}},
		{name: "softdep post", query: "act_mpls", want: []string{"act_mpls", "mpls_gso"}},
		{name: "configured softdep by alias", query: "virtio_blk", want: []string{"md5", "virtio", "virtio_ring", "virtio_blk"}},
		{name: "configured alias", query: "eth-driver", want: virtioNet},
		{name: "module alias", query: "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
			want: []string{"virtio", "virtio_ring", "virtio_pci"}},
		{name: "alias with a dash", query: "crypto-md5", want: []string{"md5"}},
		{name: "input alias, dashes on both sides", query: "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw", want: []string{"button"}},
		{name: "bracket class", query: "usb:v1234p5678d03dc00", want: []string{"usbthing"}},
		{name: "outside the class", query: "usb:v1234p5678d05dc00", wantErr: "module usb:v1234p5678d05dc00 not found"},
		{name: "built in", query: "ext4"},
		{name: "built-in alias", query: "fs-ext4"},
		{name: "blacklisted, by name", query: "pcspkr", want: []string{"pcspkr"}},
		{name: "blacklisted, by alias", query: "platform:pcspkr"},
		{name: "blacklisted on the kernel command line", query: "virtio:d00000004v00001AF4", cmdline: "modprobe.blacklist=foo,virtio-rng"},
		{name: "unknown", query: "nope", wantErr: "module nope not found in directory "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(tt.preloaded...)
			l, dir := newTestLoader(t, k, WithKernelCmdline(tt.cmdline))
			got, err := l.ProbeParams(tt.query, tt.params)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want ErrNotFound with %q and the directory", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if joined(got) != joined(tt.want) {
				t.Errorf("loaded %v, want %v", got, tt.want)
			}
			if order := k.loadOrder(); joined(order) != joined(tt.want) {
				t.Errorf("kernel saw %v, want %v", order, tt.want)
			}
			for m, p := range tt.wantParams {
				if k.params[m] != p {
					t.Errorf("%s loaded with %q, want %q", m, k.params[m], p)
				}
			}
		})
	}
}

func TestProbeAlias(t *testing.T) {
	tests := []struct {
		modalias string
		want     []string
	}{
		{"virtio:d00000001v00001AF4", []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}},
		{"pci:v00008086d00001237sv00000000sd00000000bc06sc00i00", nil},
		{"platform:pcspkr", nil},
		{"virtio_net", nil}, // a name is not an alias
	}
	for _, tt := range tests {
		t.Run(tt.modalias, func(t *testing.T) {
			l, _ := newTestLoader(t, newFakeKernel())
			got, err := l.ProbeAlias(tt.modalias)
			if err != nil {
				t.Fatal(err)
			}
			if joined(got) != joined(tt.want) {
				t.Errorf("loaded %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProbeAliasSeveralModules(t *testing.T) {
	root, dir := fixtureTree(t)
	// Two drivers claim every virtio-net device.
	f, err := os.OpenFile(filepath.Join(dir, "modules.alias"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "alias virtio:d00000001v* md5")
	f.Close()
	k := newFakeKernel()
	l, err := NewLoader(WithRoot(dir), WithKernel(k), WithKernelCmdline(""), WithConfigDirs(filepath.Join(root, "etc", "modprobe.d")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.ProbeAlias("virtio:d00000001v00001AF4")
	if err != nil {
		t.Fatal(err)
	}
	if want := "virtio virtio_ring failover net_failover virtio_net md5"; joined(got) != want {
		t.Errorf("loaded %v, want %s", got, want)
	}
}

func TestProbeFailure(t *testing.T) {
	k := &failingKernel{fakeKernel: newFakeKernel(), fail: map[string]error{
		"net_failover":  unix.ENOMEM,
		"nf_log_syslog": unix.ENOEXEC,
	}}
	l, _ := newTestLoader(t, k)
	got, err := l.Probe("virtio_net")
	if !errors.Is(err, unix.ENOMEM) || !strings.Contains(err.Error(), "net_failover") {
		t.Errorf("err = %v, want ENOMEM naming net_failover", err)
	}
	if want := "virtio virtio_ring failover"; joined(got) != want {
		t.Errorf("loaded %v before the failure, want %s", got, want)
	}
	// A soft dependency that fails does not stop the module.
	if got, err := l.Probe("xt_LOG"); err != nil || joined(got) != "xt_LOG" {
		t.Errorf("Probe(xt_LOG) = %v, %v; want [xt_LOG] despite its softdep failing", got, err)
	}
}

type failingKernel struct {
	*fakeKernel
	fail map[string]error
}

func (k *failingKernel) Load(name string, f *os.File, image []byte, params string) error {
	if err := k.fail[name]; err != nil {
		return fmt.Errorf("finit_module %s: %w", name, err)
	}
	return k.fakeKernel.Load(name, f, image, params)
}

func TestConcurrentProbe(t *testing.T) {
	k := newFakeKernel()
	k.delay = 2 * time.Millisecond // long enough for the goroutines to overlap
	l, _ := newTestLoader(t, k)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []string
	)
	queries := []string{"virtio_net", "virtio_net", "virtio_net", "virtio_net", "eth_driver", "virtio:d00000001v00001AF4", "virtio_rng", "virtio_pci"}
	for _, q := range queries {
		wg.Go(func() {
			var got []string
			var err error
			if strings.Contains(q, ":") {
				got, err = l.ProbeAlias(q)
			} else {
				got, err = l.Probe(q)
			}
			if err != nil {
				t.Errorf("%s: %v", q, err)
			}
			mu.Lock()
			all = append(all, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Strings(all)
	want := []string{"failover", "net_failover", "virtio", "virtio_net", "virtio_pci", "virtio_ring", "virtio_rng"}
	if !slices.Equal(all, want) {
		t.Errorf("the callers loaded %v together, want each of %v once", all, want)
	}
	loads := k.loadOrder()
	sort.Strings(loads)
	if !slices.Equal(loads, want) {
		t.Errorf("the kernel loaded %v, want each of %v once", loads, want)
	}
}

func TestRemove(t *testing.T) {
	k := newFakeKernel()
	l, _ := newTestLoader(t, k)
	for _, m := range []string{"virtio_net", "virtio_rng", "xt_LOG", "act_mpls"} {
		if _, err := l.Probe(m); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name, want string // want: the modules unloaded, in order
	}{
		// virtio and virtio_ring stay: virtio_rng uses them.
		{"virtio_net", "virtio_net net_failover failover"},
		{"virtio-rng", "virtio_rng virtio_ring virtio"},
		{"xt_LOG", "xt_LOG nf_log_syslog"},
		{"act_mpls", "mpls_gso act_mpls"},
		{"virtio_net", ""}, // not loaded: nothing to do
	}
	for _, s := range steps {
		before := len(k.unloads)
		if err := l.Remove(s.name); err != nil {
			t.Fatalf("Remove(%s): %v", s.name, err)
		}
		if got := joined(k.unloads[before:]); got != s.want {
			t.Errorf("Remove(%s) unloaded %q, want %q", s.name, got, s.want)
		}
	}
	if err := l.Remove("ext4"); !errors.Is(err, ErrBuiltin) {
		t.Errorf("Remove(ext4) = %v, want ErrBuiltin", err)
	}
	if err := l.Remove("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(nope) = %v, want ErrNotFound", err)
	}
	if _, err := l.Probe("virtio_rng"); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove("virtio"); !errors.Is(err, unix.EAGAIN) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Remove(virtio) while virtio_rng uses it = %v, want EAGAIN, in use", err)
	}
}

// TestCompressedModules: a compressed module goes to the kernel as it is;
// one the kernel cannot decompress fails with an error that names the
// file, the format and the kernel option, and nothing is loaded.
func TestCompressedModules(t *testing.T) {
	for _, tt := range []struct{ name, comp, config string }{
		{"virtio_net", "xz", "CONFIG_MODULE_COMPRESS_XZ"},
		{"virtio_rng", "zst", "CONFIG_MODULE_COMPRESS_ZSTD"},
		{"virtio_blk", "gz", "CONFIG_MODULE_COMPRESS_GZIP"},
	} {
		for _, inKernel := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/kernel decompresses %v", tt.name, inKernel), func(t *testing.T) {
				k := newFakeKernel("virtio", "virtio_ring", "failover", "net_failover", "md5")
				k.noCompressed = !inKernel
				l, _ := newTestLoader(t, k)
				_, err := l.Probe(tt.name)
				if inKernel {
					if err != nil {
						t.Fatal(err)
					}
					if !k.loaded[tt.name] {
						t.Errorf("%s not loaded", tt.name)
					}
					if _, viaImage := k.images[tt.name]; viaImage {
						t.Error("init_module used for a file the kernel takes")
					}
					return
				}
				if err == nil || !errors.Is(err, unix.EOPNOTSUPP) {
					t.Fatalf("err = %v, want EOPNOTSUPP", err)
				}
				for _, want := range []string{".ko." + tt.comp, tt.comp + " modules", tt.config, "decompressed"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want it to say %q", err, want)
					}
				}
				if k.loaded[tt.name] {
					t.Errorf("%s loaded", tt.name)
				}
			})
		}
	}
}

func TestPlan(t *testing.T) {
	l, dir := newTestLoader(t, newFakeKernel("virtio"))
	steps, err := l.Plan("virtio_blk", "x=1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Name: "md5", Path: filepath.Join(dir, "kernel/crypto/md5.ko"), Soft: true},
		{Name: "virtio", Path: filepath.Join(dir, "kernel/drivers/virtio/virtio.ko")},
		{Name: "virtio_ring", Path: filepath.Join(dir, "kernel/drivers/virtio/virtio_ring.ko")},
		{Name: "virtio_blk", Path: filepath.Join(dir, "kernel/drivers/block/virtio_blk.ko.gz"), Params: "x=1"},
	}
	if !slices.Equal(steps, want) {
		t.Errorf("Plan = %+v\nwant %+v", steps, want)
	}
	if steps, err := l.Plan("crypto-crc32c", ""); err != nil || !slices.Equal(steps, []Step{{Name: "crc32c_generic", Builtin: true}}) {
		t.Errorf("Plan(built-in alias) = %+v, %v", steps, err)
	}
}

func TestMissingTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib", "modules", "none")
	l, err := NewLoader(WithRoot(dir), WithKernel(newFakeKernel()), WithConfigDirs(), WithKernelCmdline(""))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.ProbeAlias("virtio:d00000001v00001AF4"); got != nil || err != nil {
		t.Errorf("ProbeAlias = %v, %v; want nothing", got, err)
	}
	if _, err := l.Probe("virtio_net"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Probe = %v, want ErrNotFound", err)
	}
	if l.Dir() != dir {
		t.Errorf("Dir = %s, want %s", l.Dir(), dir)
	}
}

// TestIsLoaded: /sys/module says what /proc/modules says, for every module
// this host has loaded, and a module that is not there is not loaded.
func TestIsLoaded(t *testing.T) {
	for _, bad := range []string{"", "../x", ".x", "a/b"} {
		if _, err := (linuxKernel{}).IsLoaded(bad); err == nil {
			t.Errorf("IsLoaded(%q): no error", bad)
		}
	}
	loaded, err := (linuxKernel{}).Loaded()
	if err != nil || len(loaded) == 0 {
		t.Skipf("no modules listed on this host (%v)", err)
	}
	for name := range loaded {
		if in, err := (linuxKernel{}).IsLoaded(name); err != nil || !in {
			t.Errorf("IsLoaded(%s) = %v, %v; /proc/modules lists it", name, in, err)
		}
	}
	if in, err := (linuxKernel{}).IsLoaded("no_such_module_here"); err != nil || in {
		t.Errorf("IsLoaded(no_such_module_here) = %v, %v", in, err)
	}
}

func TestParseProcModules(t *testing.T) {
	in := "virtio_net 73728 0 - Live 0x0000000000000000\nnet_failover 24576 1 virtio_net, Live 0x0000000000000000\n\n"
	got, err := parseProcModules(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["virtio_net"] || !got["net_failover"] {
		t.Errorf("got %v", got)
	}
	if _, err := os.Stat("/proc/modules"); err == nil {
		if _, err := (linuxKernel{}).Loaded(); err != nil {
			t.Errorf("reading this host's /proc/modules: %v", err)
		}
	}
}
