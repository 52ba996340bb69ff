package image

import (
	"context"
	"debug/elf"
	"path/filepath"
	"testing"
)

// TestNetworkOptOut: a board with network = false gets neither netmaster
// nor the default network file; network.target stays for units ordered
// after it.
func TestNetworkOptOut(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/x\n", 0o644)
	writeFile(t, filepath.Join(root, "units", "network.target.toml"), "[Unit]\nDescription = \"x\"\n", 0o644)
	for _, u := range networkUnits {
		writeFile(t, filepath.Join(root, "units", u), "[Service]\nExecStart = \"/bin/x\"\n", 0o644)
	}
	smbox := fakeELF(t, "smbox", elf.EM_AARCH64, elf.ELFCLASS64, "")
	for _, tt := range []struct {
		name    string
		network bool
	}{{"default", true}, {"opted out", false}} {
		t.Run(tt.name, func(t *testing.T) {
			b := loadBoard(t, "qemu-aarch64")
			if !tt.network {
				b.Network = new(bool)
			}
			out := filepath.Join(t.TempDir(), "initramfs.cpio")
			if _, err := Build(context.Background(), b, out, WithSmbox(smbox), WithModuleRoot(root), WithoutKernelModules(), WithCompression(None)); err != nil {
				t.Fatal(err)
			}
			m := entryMap(t, out)
			for _, p := range []string{"etc/sysmaster/units/netmaster.service.toml", "etc/sysmaster/units/netmaster-wait-online.service.toml", "etc/sysmaster/network/50-default.toml"} {
				if _, ok := m[p]; ok != tt.network {
					t.Errorf("%s in the image: %v, want %v", p, ok, tt.network)
				}
			}
			if _, ok := m["etc/sysmaster/units/network.target.toml"]; !ok {
				t.Error("network.target left out")
			}
		})
	}
}
