package board

import (
	"reflect"
	"strings"
	"testing"
)

func TestPackages(t *testing.T) {
	// Inline tables, so that the body's keys stay at the top level.
	const head = "arch = \"arm64\"\nkernel = { package = \"linux-image-cloud-arm64\" }\nqemu = { binary = \"qemu-system-aarch64\" }\n"
	tests := []struct {
		name, body string
		want       []string
		files      map[string]PackageFiles
		wantErr    string
	}{
		{name: "none", body: ""},
		{name: "whole packages", body: "packages = [\"dropbear-bin\", \"i2c-tools\", \"libstdc++6\"]\n",
			want: []string{"dropbear-bin", "i2c-tools", "libstdc++6"}},
		{name: "a subset", body: "packages = [\"dropbear-bin\"]\n[package.dropbear-bin]\nfiles = [\"/usr/sbin/dropbear\", \"usr/bin/*\"]\n",
			want: []string{"dropbear-bin"}, files: map[string]PackageFiles{"dropbear-bin": {Files: []string{"/usr/sbin/dropbear", "usr/bin/*"}}}},
		{name: "bad name", body: "packages = [\"Dropbear\"]\n", wantErr: `packages[0]: "Dropbear" is not a Debian package name`},
		{name: "path as name", body: "packages = [\"ok\", \"../x\"]\n", wantErr: `packages[1]: "../x" is not a Debian package name`},
		{name: "twice", body: "packages = [\"zlib1g\", \"zlib1g\"]\n", wantErr: `packages[1]: "zlib1g" is listed twice`},
		{name: "subset of an unlisted package", body: "packages = [\"a1\"]\n[package.b1]\nfiles = [\"/x\"]\n", wantErr: `package.b1: "b1" is not in packages`},
		{name: "climbing path", body: "packages = [\"a1\"]\n[package.a1]\nfiles = [\"/usr/../etc\"]\n", wantErr: `package.a1.files[0]`},
		{name: "bad pattern", body: "packages = [\"a1\"]\n[package.a1]\nfiles = [\"/usr/[\"]\n", wantErr: `package.a1.files[0]: "/usr/[": syntax error in pattern`},
		{name: "unknown key", body: "packages = [\"a1\"]\n[package.a1]\nfile = [\"/x\"]\n", wantErr: `unknown key "package.a1.file"`},
		{name: "wrong type", body: "packages = \"a1\"\n", wantErr: "packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("b.toml", "b", []byte(head+tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Packages, tt.want) {
				t.Errorf("packages = %q, want %q", b.Packages, tt.want)
			}
			if len(tt.files) > 0 && !reflect.DeepEqual(b.Package, tt.files) {
				t.Errorf("package = %+v, want %+v", b.Package, tt.files)
			}
		})
	}
}
