package units

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeHost serves Stat from an in-memory tree.
type fakeHost struct {
	files   fstest.MapFS
	cmdline string
	virt    string
}

func (h fakeHost) Stat(p string) (fs.FileInfo, error) {
	if p == "/" {
		return fs.Stat(h.files, ".")
	}
	return fs.Stat(h.files, p[1:])
}
func (h fakeHost) KernelCommandLine() string           { return h.cmdline }
func (h fakeHost) Lstat(p string) (fs.FileInfo, error) { return h.Stat(p) }
func (h fakeHost) Glob(pattern string) ([]string, error) {
	m, err := fs.Glob(h.files, pattern[1:])
	return m, err
}
func (h fakeHost) ReadDir(p string) ([]fs.DirEntry, error) { return fs.ReadDir(h.files, p[1:]) }
func (h fakeHost) ReadOnly(p string) bool                  { return strings.HasPrefix(p, "/usr") }
func (h fakeHost) Capabilities() uint64                    { return 1 << 12 } // CAP_NET_ADMIN
func (h fakeHost) ACPower() bool                           { return true }
func (h fakeHost) Virtualization() string                  { return h.virt }

func TestConditions(t *testing.T) {
	host := fakeHost{
		files: fstest.MapFS{
			"etc/full":  {Data: []byte("x")},
			"etc/empty": {},
			"var/lib":   {Mode: fs.ModeDir},
			"usr/bin/x": {Mode: 0o755},
			"etc/x.d/a": {},
		},
		cmdline: `console=ttyS0 quiet root=/dev/vda "x=a b"`,
		virt:    "qemu",
	}
	tests := []struct {
		name, src, failed string
	}{
		{"none", "", ""},
		{"exists", `ConditionPathExists = ["/etc/full", "!/nope"]`, ""},
		{"exists fails", `ConditionPathExists = "/nope"`, "ConditionPathExists=/nope"},
		{"negated fails", `ConditionPathExists = "!/etc/empty"`, "ConditionPathExists=!/etc/empty"},
		{"directory", `ConditionPathIsDirectory = ["/var/lib", "!/etc/full"]`, ""},
		{"directory fails", `ConditionPathIsDirectory = "/etc/full"`, "ConditionPathIsDirectory=/etc/full"},
		{"not empty", `ConditionFileNotEmpty = "/etc/full"`, ""},
		{"empty file", `ConditionFileNotEmpty = "/etc/empty"`, "ConditionFileNotEmpty=/etc/empty"},
		{"directory is not a file", `ConditionFileNotEmpty = "/var/lib"`, "ConditionFileNotEmpty=/var/lib"},
		{"cmdline word", `ConditionKernelCommandLine = "quiet"`, ""},
		{"cmdline key matches key=value", `ConditionKernelCommandLine = "console"`, ""},
		{"cmdline exact", `ConditionKernelCommandLine = "console=ttyS0"`, ""},
		{"cmdline quoted", `ConditionKernelCommandLine = "x"`, ""},
		{"cmdline exact fails", `ConditionKernelCommandLine = "console=tty0"`, "ConditionKernelCommandLine=console=tty0"},
		{"cmdline prefix is not a word", `ConditionKernelCommandLine = "cons"`, "ConditionKernelCommandLine=cons"},
		{"cmdline negated", `ConditionKernelCommandLine = "!quiet"`, "ConditionKernelCommandLine=!quiet"},
		{"virt yes", `ConditionVirtualization = "yes"`, ""},
		{"virt vm", `ConditionVirtualization = "vm"`, ""},
		{"virt name", `ConditionVirtualization = "qemu"`, ""},
		{"virt no", `ConditionVirtualization = "no"`, "ConditionVirtualization=no"},
		{"virt container", `ConditionVirtualization = "container"`, "ConditionVirtualization=container"},
		{"virt other", `ConditionVirtualization = "!qemu"`, "ConditionVirtualization=!qemu"},
		{"asserts are separate", `AssertPathExists = "/nope"`, ""},
		{"glob", `ConditionPathExistsGlob = "/etc/x.d/*"`, ""},
		{"glob fails", `ConditionPathExistsGlob = "/etc/y.d/*"`, "ConditionPathExistsGlob=/etc/y.d/*"},
		{"executable", `ConditionFileIsExecutable = "/usr/bin/x"`, ""},
		{"not executable", `ConditionFileIsExecutable = "/etc/full"`, "ConditionFileIsExecutable=/etc/full"},
		{"directory not empty", `ConditionDirectoryNotEmpty = "/etc/x.d"`, ""},
		{"read-write", `ConditionPathIsReadWrite = "/usr/bin/x"`, "ConditionPathIsReadWrite=/usr/bin/x"},
		{"capability", `ConditionCapability = "CAP_NET_ADMIN"`, ""},
		{"capability missing", `ConditionCapability = "CAP_SYS_ADMIN"`, "ConditionCapability=CAP_SYS_ADMIN"},
		{"AC power", `ConditionACPower = "true"`, ""},
		{"AC power false", `ConditionACPower = "false"`, "ConditionACPower=false"},
		{"one trigger holds", `ConditionPathExists = ["|/nope", "|/etc/full"]`, ""},
		{"no trigger holds", `ConditionPathExists = ["|/nope", "|!/etc/full"]`, "ConditionPathExists=|/nope"},
		{"plain check still counts", `ConditionPathExists = ["|/etc/full", "/nope"]`, "ConditionPathExists=/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse("a.target.toml", []byte("[Unit]\n"+tt.src+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			failed, ok := u.CheckConditions(host)
			if failed != tt.failed || ok != (tt.failed == "") {
				t.Errorf("CheckConditions = %q, %v; want %q", failed, ok, tt.failed)
			}
		})
	}
}

func TestAsserts(t *testing.T) {
	host := fakeHost{files: fstest.MapFS{"etc/full": {Data: []byte("x")}}, virt: "docker"}
	tests := []struct{ src, failed string }{
		{`AssertPathExists = "/etc/full"`, ""},
		{`AssertPathExists = "/nope"`, "AssertPathExists=/nope"},
		{`AssertPathIsDirectory = "/"`, ""},
		{`AssertFileNotEmpty = "!/etc/full"`, "AssertFileNotEmpty=!/etc/full"},
		{`AssertKernelCommandLine = "!quiet"`, ""},
		{`AssertVirtualization = "container"`, ""},
		{`AssertVirtualization = ["yes", "vm"]`, "AssertVirtualization=vm"},
		{`ConditionPathExists = "/nope"`, ""},
	}
	for _, tt := range tests {
		u, err := Parse("a.target.toml", []byte("[Unit]\n"+tt.src+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if failed, ok := u.CheckAsserts(host); failed != tt.failed || ok != (tt.failed == "") {
			t.Errorf("%s: CheckAsserts = %q, %v; want %q", tt.src, failed, ok, tt.failed)
		}
	}
}

func TestSystemHostVirtualization(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bare metal", map[string]string{"sys/class/dmi/id/sys_vendor": "Dell Inc.\n", "proc/cpuinfo": "flags\t: fpu vme\n"}, ""},
		{"qemu dmi", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n"}, "qemu"},
		{"kvm product", map[string]string{"sys/class/dmi/id/product_name": "KVM\n"}, "kvm"},
		{"device tree", map[string]string{"sys/firmware/devicetree/base/compatible": "linux,dummy-virt\x00"}, "qemu"},
		{"cpuinfo", map[string]string{"proc/cpuinfo": "flags\t: fpu hypervisor lm\n"}, "vm"},
		{"docker", map[string]string{".dockerenv": "", "sys/class/dmi/id/sys_vendor": "QEMU"}, "docker"},
		{"podman", map[string]string{"run/.containerenv": ""}, "podman"},
		{"environ", map[string]string{"proc/1/environ": "HOME=/\x00container=lxc\x00"}, "lxc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := (fsHost{root: root}).Virtualization(); got != tt.want {
				t.Errorf("Virtualization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSystemHost(t *testing.T) {
	h := SystemHost()
	if _, err := h.Stat("/"); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte("quiet rdinit=/init\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := (fsHost{root: root}).KernelCommandLine(); got != "quiet rdinit=/init" {
		t.Errorf("KernelCommandLine = %q", got)
	}
}
