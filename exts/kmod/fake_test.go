package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// fakeKernel keeps the loaded modules in a map and behaves as Linux does
// at the edges modprobe cares about: EEXIST for a module loaded twice,
// EAGAIN for removing one in use, EOPNOTSUPP for a compressed file when it
// cannot decompress.
type fakeKernel struct {
	deps         map[string][]string // what each module uses, for "in use"
	noCompressed bool
	delay        time.Duration // widens the window in which loads race

	mu       sync.Mutex
	loaded   map[string]bool
	params   map[string]string
	images   map[string][]byte // init_module images by module
	loads    []string          // successful loads, in order
	unloads  []string
	attempts int
}

func newFakeKernel(preloaded ...string) *fakeKernel {
	k := &fakeKernel{
		deps:   fixtureDeps,
		loaded: make(map[string]bool),
		params: make(map[string]string),
		images: make(map[string][]byte),
	}
	for _, n := range preloaded {
		k.loaded[n] = true
	}
	return k
}

func (k *fakeKernel) Load(name string, f *os.File, image []byte, params string) error {
	time.Sleep(k.delay)
	if f != nil {
		head := make([]byte, 4)
		if _, err := f.ReadAt(head, 0); err != nil {
			return fmt.Errorf("finit_module %s: %w", name, err)
		}
		if !bytes.Equal(head, []byte("\x7fELF")) && k.noCompressed {
			return fmt.Errorf("finit_module %s: %w", name, unix.EOPNOTSUPP)
		}
	} else if !bytes.HasPrefix(image, []byte("\x7fELF")) {
		return fmt.Errorf("init_module %s: %w", name, unix.ENOEXEC)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempts++
	if k.loaded[name] {
		return fmt.Errorf("finit_module %s: %w", name, unix.EEXIST)
	}
	k.loaded[name] = true
	k.params[name] = params
	k.loads = append(k.loads, name)
	if f == nil {
		k.images[name] = image
	}
	return nil
}

func (k *fakeKernel) Unload(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.loaded[name] {
		return fmt.Errorf("delete_module %s: %w", name, unix.ENOENT)
	}
	for user := range k.loaded {
		if slices.Contains(k.deps[user], name) {
			return fmt.Errorf("delete_module %s: %w", name, unix.EAGAIN)
		}
	}
	delete(k.loaded, name)
	k.unloads = append(k.unloads, name)
	return nil
}

func (k *fakeKernel) Loaded() (map[string]bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]bool, len(k.loaded))
	for n := range k.loaded {
		out[n] = true
	}
	return out, nil
}

func (k *fakeKernel) IsLoaded(name string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loaded[name], nil
}

func (k *fakeKernel) loadOrder() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.loads)
}

// fixtureDeps is what the fixture's modules use directly.
var fixtureDeps = map[string][]string{
	"virtio_ring":  {"virtio"},
	"net_failover": {"failover"},
	"virtio_net":   {"virtio_ring", "virtio", "net_failover"},
	"virtio_rng":   {"virtio", "virtio_ring"},
	"virtio_blk":   {"virtio", "virtio_ring"},
	"virtio_pci":   {"virtio", "virtio_ring"},
}

const fixtureVersion = "6.1.0-test"

// fixtureFiles are the module files of the fixture tree.
var fixtureFiles = []string{
	"kernel/drivers/virtio/virtio.ko",
	"kernel/drivers/virtio/virtio_ring.ko",
	"kernel/drivers/virtio/virtio_pci.ko",
	"kernel/net/core/failover.ko",
	"kernel/drivers/net/net_failover.ko",
	"kernel/drivers/net/virtio_net.ko.xz",
	"kernel/drivers/char/hw_random/virtio-rng.ko.zst",
	"kernel/drivers/block/virtio_blk.ko.gz",
	"kernel/drivers/input/misc/pcspkr.ko",
	"kernel/drivers/input/misc/button.ko",
	"kernel/drivers/usb/usbthing.ko",
	"kernel/net/netfilter/xt_LOG.ko",
	"kernel/net/netfilter/nf_log_syslog.ko",
	"kernel/net/sched/act_mpls.ko",
	"kernel/net/mpls/mpls_gso.ko",
	"kernel/crypto/md5.ko",
}

const fixtureDep = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/hw_random/virtio-rng.ko.zst: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/block/virtio_blk.ko.gz: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/input/misc/pcspkr.ko:
kernel/drivers/input/misc/button.ko:
kernel/drivers/usb/usbthing.ko:
kernel/net/netfilter/xt_LOG.ko:
kernel/net/netfilter/nf_log_syslog.ko:
kernel/net/sched/act_mpls.ko:
kernel/net/mpls/mpls_gso.ko:
kernel/crypto/md5.ko:
`

const fixtureAlias = `# Aliases extracted from modules themselves.
alias virtio:d00000001v* virtio_net
alias virtio:d00000004v* virtio_rng
alias virtio:d00000002v* virtio_blk
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias platform:pcspkr pcspkr
alias input:b0019v*p*e*-e0,1,* button
alias usb:v1234p5678d0[0-4]*dc* usbthing
alias crypto-md5 md5
alias md5 md5
`

const fixtureSoftdep = `# Soft dependencies extracted from modules themselves.
softdep xt_LOG pre: nf_log_syslog
softdep act_mpls post: mpls_gso
`

// elfImage is the content of a fixture module file once decompressed.
func elfImage(name string) []byte { return []byte("\x7fELF fake module " + name) }

// fixtureTree writes a module tree and a modprobe.d into a temporary
// root, and returns the root and the tree.
func fixtureTree(t testing.TB) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	dir = filepath.Join(root, "lib", "modules", fixtureVersion)
	for _, rel := range fixtureFiles {
		name, _ := ModuleName(rel)
		writeTestFile(t, filepath.Join(dir, rel), compress(t, filepath.Ext(rel), elfImage(name)))
	}
	for file, body := range map[string]string{
		"modules.dep":             fixtureDep,
		"modules.alias":           fixtureAlias,
		"modules.softdep":         fixtureSoftdep,
		"modules.builtin":         "kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n",
		"modules.builtin.modinfo": "ext4.license=GPL\x00ext4.alias=fs-ext4\x00crc32c_generic.alias=crypto-crc32c\x00",
	} {
		writeTestFile(t, filepath.Join(dir, file), []byte(body))
	}
	writeTestFile(t, filepath.Join(root, "etc", "modprobe.d", "net.toml"), []byte(`blacklist = ["pcspkr"]

[options]
virtio_net = "napi_tx=1"

[alias]
eth-driver = "virtio_net"

[softdep.virtio_blk]
pre = ["crypto-md5"]
`))
	return root, dir
}

func compress(t testing.TB, ext string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch ext {
	case ".ko":
		return data
	case ".xz":
		var w *xz.Writer
		if w, err = xz.NewWriter(&buf); err == nil {
			_, err = w.Write(data)
			err = errors.Join(err, w.Close())
		}
	case ".zst":
		var w *zstd.Encoder
		if w, err = zstd.NewWriter(&buf); err == nil {
			_, err = w.Write(data)
			err = errors.Join(err, w.Close())
		}
	case ".gz":
		w := gzip.NewWriter(&buf)
		_, err = w.Write(data)
		err = errors.Join(err, w.Close())
	default:
		t.Fatalf("no compression %q", ext)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTestFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newTestLoader returns a loader on the fixture with k as its kernel and
// no kernel command line.
func newTestLoader(t testing.TB, k Kernel, opts ...Option) (*Loader, string) {
	t.Helper()
	root, dir := fixtureTree(t)
	base := []Option{WithRoot(dir), WithKernel(k), WithKernelCmdline(""),
		WithConfigDirs(filepath.Join(root, "etc", "modprobe.d"), filepath.Join(root, "lib", "modprobe.d"))}
	l, err := NewLoader(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l, dir
}

func joined(s []string) string { return strings.Join(s, " ") }
