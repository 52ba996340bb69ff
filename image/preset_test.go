package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
)

func TestPresetEnablesInstalledUnits(t *testing.T) {
	b, err := board.Load("qemu-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	smbox := filepath.Join(dir, "smbox")
	if err := os.WriteFile(smbox, []byte("not an ELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		units   map[string]string
		links   map[string]string
		wantErr string
	}{
		{
			name: "wanted and required",
			units: map[string]string{
				"a.service.toml": "[Service]\nExecStart = \"/bin/a\"\n[Install]\nWantedBy = [\"default.target\"]\nRequiredBy = [\"x.target\"]\n",
				"b.service.toml": "[Service]\nExecStart = \"/bin/b\"\n",
			},
			links: map[string]string{
				"etc/sysmaster/units/default.target.wants/a.service": "../a.service.toml",
				"etc/sysmaster/units/x.target.requires/a.service":    "../a.service.toml",
			},
		},
		{
			name:    "bad unit fails the build",
			units:   map[string]string{"bad.service.toml": "[Service]\nExecStart = \"/bin/a\"\nRestart = \"sometimes\"\n"},
			wantErr: "bad.service.toml:3: Service.Restart",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			udir := t.TempDir()
			for n, body := range tt.units {
				if err := os.WriteFile(filepath.Join(udir, n), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "img.cpio")
			_, err := Build(context.Background(), b, out, WithSmbox(smbox), WithUnits(udir), WithCompression(None), WithoutKernelModules())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Fatalf("output left behind after a failed build")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			entries, err := Inspect(f)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range entries {
				if e.Linkname != "" && strings.Contains(e.Name, ".wants/") || strings.Contains(e.Name, ".requires/") {
					got[e.Name] = e.Linkname
				}
			}
			for k, v := range tt.links {
				if got[k] != v {
					t.Errorf("link %s = %q, want %q (links: %v)", k, got[k], v, got)
				}
			}
			if len(got) != len(tt.links) {
				t.Errorf("links %v, want %v", got, tt.links)
			}
		})
	}
}
