package units

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is what conditions and asserts are checked against.
type Host interface {
	Stat(path string) (fs.FileInfo, error)
	KernelCommandLine() string
	// Virtualization is "" on bare metal, else e.g. "qemu", "kvm", "vm"
	// (an unidentified hypervisor), "docker", "podman" or "container".
	Virtualization() string
	Lstat(path string) (fs.FileInfo, error)
	Glob(pattern string) ([]string, error)
	ReadDir(path string) ([]fs.DirEntry, error)
	// ReadOnly reports whether path is on a read-only mount.
	ReadOnly(path string) bool
	// Capabilities is the manager's capability bounding set.
	Capabilities() uint64
	// ACPower reports whether the system runs on mains power: true when
	// an AC adapter is online or when there is no power supply to ask.
	ACPower() bool
}

// check is one Condition*/Assert* key with its values.
type check struct {
	key, test string
	values    List
}

func (s *UnitSection) checks() []check {
	return []check{
		{"ConditionPathExists", "PathExists", s.ConditionPathExists},
		{"ConditionPathIsDirectory", "PathIsDirectory", s.ConditionPathIsDirectory},
		{"ConditionFileNotEmpty", "FileNotEmpty", s.ConditionFileNotEmpty},
		{"ConditionKernelCommandLine", "KernelCommandLine", s.ConditionKernelCommandLine},
		{"ConditionVirtualization", "Virtualization", s.ConditionVirtualization},
		{"ConditionPathExistsGlob", "PathExistsGlob", s.ConditionPathExistsGlob},
		{"ConditionPathIsSymbolicLink", "PathIsSymbolicLink", s.ConditionPathIsSymbolicLink},
		{"ConditionPathIsReadWrite", "PathIsReadWrite", s.ConditionPathIsReadWrite},
		{"ConditionDirectoryNotEmpty", "DirectoryNotEmpty", s.ConditionDirectoryNotEmpty},
		{"ConditionFileIsExecutable", "FileIsExecutable", s.ConditionFileIsExecutable},
		{"ConditionCapability", "Capability", s.ConditionCapability},
		{"ConditionACPower", "ACPower", s.ConditionACPower},
		{"AssertPathExists", "PathExists", s.AssertPathExists},
		{"AssertPathIsDirectory", "PathIsDirectory", s.AssertPathIsDirectory},
		{"AssertFileNotEmpty", "FileNotEmpty", s.AssertFileNotEmpty},
		{"AssertKernelCommandLine", "KernelCommandLine", s.AssertKernelCommandLine},
		{"AssertVirtualization", "Virtualization", s.AssertVirtualization},
		{"AssertPathExistsGlob", "PathExistsGlob", s.AssertPathExistsGlob},
		{"AssertPathIsReadWrite", "PathIsReadWrite", s.AssertPathIsReadWrite},
		{"AssertDirectoryNotEmpty", "DirectoryNotEmpty", s.AssertDirectoryNotEmpty},
		{"AssertFileIsExecutable", "FileIsExecutable", s.AssertFileIsExecutable},
		{"AssertCapability", "Capability", s.AssertCapability},
	}
}

// CheckConditions evaluates the Condition* keys. When one is false it
// returns it as written, e.g. "ConditionPathExists=!/x", and ok=false: the
// unit is skipped, not failed.
func (u *Unit) CheckConditions(h Host) (failed string, ok bool) {
	return u.evaluate(h, "Condition")
}

// CheckAsserts evaluates the Assert* keys like CheckConditions; a false
// assert fails the start.
func (u *Unit) CheckAsserts(h Host) (failed string, ok bool) {
	return u.evaluate(h, "Assert")
}

// evaluate applies systemd's rule: every plain check must hold, and when
// there are triggering checks ("|" first) at least one of them must.
func (u *Unit) evaluate(h Host, prefix string) (string, bool) {
	triggers, firstTrigger, anyTriggered := 0, "", false
	for _, c := range u.Unit.checks() {
		if !strings.HasPrefix(c.key, prefix) {
			continue
		}
		for _, v := range c.values {
			arg, trigger := strings.CutPrefix(v, "|")
			arg, neg := strings.CutPrefix(arg, "!")
			holds := test(h, c.test, arg) != neg
			switch {
			case trigger:
				triggers++
				if firstTrigger == "" {
					firstTrigger = c.key + "=" + v
				}
				anyTriggered = anyTriggered || holds
			case !holds:
				return c.key + "=" + v, false
			}
		}
	}
	if triggers > 0 && !anyTriggered {
		return firstTrigger, false
	}
	return "", true
}

func test(h Host, kind, arg string) bool {
	switch kind {
	case "PathExists":
		_, err := h.Stat(arg)
		return err == nil
	case "PathIsDirectory":
		fi, err := h.Stat(arg)
		return err == nil && fi.IsDir()
	case "FileNotEmpty":
		fi, err := h.Stat(arg)
		return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
	case "PathExistsGlob":
		m, err := h.Glob(arg)
		return err == nil && len(m) > 0
	case "PathIsSymbolicLink":
		fi, err := h.Lstat(arg)
		return err == nil && fi.Mode()&fs.ModeSymlink != 0
	case "PathIsReadWrite":
		_, err := h.Stat(arg)
		return err == nil && !h.ReadOnly(arg)
	case "DirectoryNotEmpty":
		es, err := h.ReadDir(arg)
		return err == nil && len(es) > 0
	case "FileIsExecutable":
		fi, err := h.Stat(arg)
		return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
	case "Capability":
		n, ok := capabilityNumber(arg)
		return ok && h.Capabilities()&(1<<n) != 0
	case "ACPower":
		return h.ACPower() == (strings.ToLower(arg) != "false" && arg != "no" && arg != "0")
	case "KernelCommandLine":
		return cmdlineHas(h.KernelCommandLine(), arg)
	case "Virtualization":
		return virtIs(h.Virtualization(), arg)
	}
	return false
}

// cmdlineHas is systemd's rule: "foo" matches the word foo or any foo=…;
// "foo=bar" matches only that word.
func cmdlineHas(cmdline, arg string) bool {
	words, err := SplitWords(cmdline)
	if err != nil {
		words = strings.Fields(cmdline)
	}
	for _, w := range words {
		if w == arg || (!strings.Contains(arg, "=") && strings.HasPrefix(w, arg+"=")) {
			return true
		}
	}
	return false
}

var containers = []string{"container", "docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "rkt", "wsl", "openvz", "proot"}

// virtIs matches ConditionVirtualization: yes, no, vm, container, or a name.
func virtIs(virt, arg string) bool {
	switch strings.ToLower(arg) {
	case "yes", "true", "1":
		return virt != ""
	case "no", "false", "0":
		return virt == ""
	case "container":
		return oneOf(virt, containers...)
	case "vm":
		return virt != "" && !oneOf(virt, containers...)
	}
	return strings.EqualFold(virt, arg)
}

// SystemHost is the running system. Paths are read under root ("/" for
// SystemHost), which tests point at a fake tree.
func SystemHost() Host { return fsHost{root: "/"} }

type fsHost struct{ root string }

func (h fsHost) path(p string) string { return filepath.Join(h.root, p) }

func (h fsHost) Stat(p string) (fs.FileInfo, error) { return os.Stat(h.path(p)) }

func (h fsHost) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(h.path(p)) }

func (h fsHost) ReadDir(p string) ([]fs.DirEntry, error) { return os.ReadDir(h.path(p)) }

func (h fsHost) Glob(pattern string) ([]string, error) { return filepath.Glob(h.path(pattern)) }

func (h fsHost) ReadOnly(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(h.path(p), &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

func (h fsHost) Capabilities() uint64 {
	b, err := os.ReadFile(h.path("/proc/self/status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

func (h fsHost) ACPower() bool {
	dir := h.path("/sys/class/power_supply")
	es, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	found := false
	for _, e := range es {
		t, _ := os.ReadFile(filepath.Join(dir, e.Name(), "type"))
		if strings.TrimSpace(string(t)) != "Mains" {
			continue
		}
		found = true
		if o, _ := os.ReadFile(filepath.Join(dir, e.Name(), "online")); strings.TrimSpace(string(o)) == "1" {
			return true
		}
	}
	return !found
}

func (h fsHost) KernelCommandLine() string {
	b, _ := os.ReadFile(h.path("/proc/cmdline"))
	return strings.TrimSpace(string(b))
}

// dmiVendors maps DMI strings to systemd's virtualization names.
var dmiVendors = []struct{ sub, name string }{
	{"KVM", "kvm"}, {"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"},
	{"innotek GmbH", "oracle"}, {"VirtualBox", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"},
	{"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"}, {"Amazon EC2", "amazon"},
	{"Google Compute Engine", "google"},
}

// Virtualization looks only at cheap files: container markers first, as
// a container may run inside a VM, then DMI, the device tree and cpuinfo.
func (h fsHost) Virtualization() string {
	if _, err := os.Stat(h.path("/.dockerenv")); err == nil {
		return "docker"
	}
	if _, err := os.Stat(h.path("/run/.containerenv")); err == nil {
		return "podman"
	}
	if env, err := os.ReadFile(h.path("/proc/1/environ")); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return string(v)
			}
		}
	}
	for _, f := range []string{"sys_vendor", "product_name", "bios_vendor"} {
		b, err := os.ReadFile(h.path("/sys/class/dmi/id/" + f))
		if err != nil {
			continue
		}
		for _, v := range dmiVendors {
			if bytes.Contains(b, []byte(v.sub)) {
				return v.name
			}
		}
	}
	if b, err := os.ReadFile(h.path("/sys/firmware/devicetree/base/compatible")); err == nil && bytes.Contains(b, []byte("linux,dummy-virt")) {
		return "qemu"
	}
	if b, err := os.ReadFile(h.path("/proc/cpuinfo")); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.HasPrefix(l, []byte("flags")) && bytes.Contains(l, []byte(" hypervisor")) {
				return "vm"
			}
		}
	}
	return ""
}
