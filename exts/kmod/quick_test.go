package kmod

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestQuickMiss: the quick answer is "nothing" only where the full lookup
// finds nothing, and it is "nothing" for the names the kernel asks about
// that no module answers.
func TestQuickMiss(t *testing.T) {
	root, dir := fixtureTree(t)
	conf := t.TempDir() // the fixture's own configuration comes last
	l, err := NewLoader(WithRoot(dir), WithKernel(newFakeKernel()), WithKernelCmdline(""), WithConfigDirs(conf))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSettings([]Option{WithRoot(dir), WithConfigDirs(conf)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    string
		miss bool
	}{
		{"crypto-hmac(sha1)", true},
		{"crypto-cbc(aes)-all", true},
		{"fs-btrfs", true},
		{"char-major-10-237", true},
		{"virtio_net", false},
		{"virtio-net", false}, // module names take either spelling
		{"virtio-rng", false},
		{"virtio_ring", false}, // named only as a dependency
		{"ext4", false},        // built in
		{"fs-ext4", false},     // a built-in module's alias
		{"crypto-md5", false},
		{"crypto-md5(x)", true}, // a literal alias matches only itself
		{"fs-ext4-all", true},
		{"virtio:d00000001v00001AF4", false},
		{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", false},
		// A wildcard pattern's literal prefix is enough to send the name
		// to the full lookup, which finds nothing here.
		{"usb:v1234p5678d09dc00", false},
		{"virtio:d00000009v00001AF4", true},
	}
	for _, tt := range tests {
		got := s.quickMiss(tt.q)
		if got != tt.miss {
			t.Errorf("quickMiss(%q) = %v, want %v", tt.q, got, tt.miss)
		}
		if _, err := l.resolve(tt.q); got && !errors.Is(err, ErrNotFound) {
			t.Errorf("quickMiss(%q) but the lookup finds it: %v", tt.q, err)
		}
	}
	// Configuration may alias anything: then the full lookup answers.
	s.configDirs = []string{conf, filepath.Join(root, "etc", "modprobe.d")}
	if s.quickMiss("crypto-hmac(sha1)") {
		t.Error("quickMiss with a configuration file")
	}
}

// TestQuickMissDoubt: a line the scan does not understand leaves the
// answer to the full lookup, which reports it.
func TestQuickMissDoubt(t *testing.T) {
	for file, body := range map[string]string{
		"modules.dep":     "kernel/a.ko kernel/b.ko\n",
		"modules.alias":   "alias onlytwo\n",
		"modules.builtin": "kernel/fs/ext4/ext4\n",
	} {
		_, dir := fixtureTree(t)
		writeTestFile(t, filepath.Join(dir, file), []byte(body))
		s, _ := newSettings([]Option{WithRoot(dir), WithConfigDirs(t.TempDir())})
		if s.quickMiss("fs-btrfs") {
			t.Errorf("quickMiss with a malformed %s", file)
		}
	}
}
