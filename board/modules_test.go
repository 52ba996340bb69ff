package board

import (
	"slices"
	"strings"
	"testing"
)

func TestModules(t *testing.T) {
	const head = "arch = \"amd64\"\n[kernel]\npackage = \"linux-image-cloud-amd64\"\n[qemu]\nbinary = \"qemu-system-x86_64\"\n"
	tests := []struct {
		name, body string
		want       Modules
		wantErr    string
	}{
		{name: "none", body: ""},
		{name: "names and buses", body: "[modules]\nnames = [\"virtio_net\", \"virtio-rng\"]\nbuses = [\"virtio\", \"pci\"]\n",
			want: Modules{Names: []string{"virtio_net", "virtio-rng"}, Buses: []string{"virtio", "pci"}}},
		{name: "unknown key", body: "[modules]\nname = [\"virtio_net\"]\n", wantErr: `unknown key "modules.name"`},
		{name: "wrong type", body: "[modules]\nnames = \"virtio_net\"\n", wantErr: "modules.names"},
		{name: "bad name", body: "[modules]\nnames = [\"virtio_net\", \"kernel/virtio.ko\"]\n", wantErr: `modules.names[1]: "kernel/virtio.ko" is not a module name`},
		{name: "empty name", body: "[modules]\nnames = [\"\"]\n", wantErr: `modules.names[0]: "" is not a module name`},
		{name: "twice", body: "[modules]\nnames = [\"virtio_rng\", \"virtio-rng\"]\n", wantErr: `modules.names[1]: "virtio-rng" is listed twice`},
		{name: "bad bus", body: "[modules]\nbuses = [\"pci:\"]\n", wantErr: `modules.buses[0]: "pci:" is not a bus name`},
		{name: "bus twice", body: "[modules]\nbuses = [\"pci\", \"pci\"]\n", wantErr: `modules.buses[1]: "pci" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("b.toml", "b", []byte(head+tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "b.toml") {
					t.Fatalf("err = %v, want it to name b.toml and contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Modules.Names, tt.want.Names) || !slices.Equal(b.Modules.Buses, tt.want.Buses) {
				t.Errorf("modules %+v, want %+v", b.Modules, tt.want)
			}
			if b.Modules.Empty() != (len(tt.want.Names)+len(tt.want.Buses) == 0) {
				t.Errorf("Empty() = %v", b.Modules.Empty())
			}
		})
	}
}

func TestBuiltinBoardsAskForVirtio(t *testing.T) {
	for _, name := range []string{"qemu-x86_64", "qemu-aarch64"} {
		b, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"virtio_pci", "virtio_net", "virtio_console", "virtio_rng", "virtio_blk"} {
			if !slices.Contains(b.Modules.Names, m) {
				t.Errorf("%s: [modules] names lack %s", name, m)
			}
		}
	}
}
