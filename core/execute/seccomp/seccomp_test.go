package seccomp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

var allTables = []*table{&table_amd64, &table_arm64, &table_arm, &table_riscv64}

// run evaluates the filter for arch t on one call, in the x/net/bpf VM.
// The VM loads words big-endian, so the seccomp_data words are written so.
func run(t *testing.T, f *Filter, tb *table, audit uint32, name string, args ...uint32) Action {
	t.Helper()
	raw, err := f.assemble(tb)
	if err != nil {
		t.Fatal(err)
	}
	var prog []bpf.Instruction
	for _, r := range raw {
		prog = append(prog, r.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	nr, ok := tb.lookup(name)
	if !ok {
		t.Fatalf("%s has no %s", tb.arch, name)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], audit)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], a)
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return Action(out)
}

func TestTablesAgreeWithSystemd(t *testing.T) {
	known, _ := Expand("@known")
	isKnown := map[string]bool{}
	for _, n := range known {
		isKnown[n] = true
	}
	// Calls added to the kernel after systemd 252, and placeholders.
	newer := map[string]bool{}
	for _, n := range strings.Fields(`cachestat file_getattr file_setattr getxattrat listmount listns listxattrat
		lsm_get_self_attr lsm_list_modules lsm_set_self_attr mseal nfsservctl open_tree_attr removexattrat
		rseq_slice_yield setxattrat statmount uprobe uretprobe arch_specific_syscall arm_sync_file_range`) {
		newer[n] = true
	}
	for _, tb := range allTables {
		for _, c := range tb.calls {
			if !isKnown[c.name] && !newer[c.name] {
				t.Errorf("%s: system call %s is not in systemd's @known: a naming mismatch?", tb.arch, c.name)
			}
		}
		for _, must := range []string{"read", "write", "execve", "exit_group", "openat", "mmap", "clone", "socket", "personality", "sched_setscheduler", "fchmodat", "unshare", "setns"} {
			if tb.arch == "arm" && must == "mmap" {
				must = "mmap2"
			}
			if _, ok := tb.lookup(must); !ok {
				t.Errorf("%s: no %s", tb.arch, must)
			}
		}
		// Every group must resolve to calls of each architecture.
		for _, g := range groups {
			names, err := Expand(g.name)
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			n := 0
			for _, name := range names {
				if _, ok := tb.lookup(name); ok {
					n++
				}
			}
			x86only := tb.arch != "amd64" && g.name == "@raw-io"
			if n == 0 && !x86only && !oneOfStr(g.name, "@cpu-emulation", "@obsolete", "@pkey") {
				t.Errorf("%s: group %s has no call on this architecture", tb.arch, g.name)
			}
		}
	}
}

func oneOfStr(v string, set ...string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// TestGroupsMatchSystemdAnalyze checks the generated groups against the
// systemd on this machine, when there is one of the same version.
func TestGroupsMatchSystemdAnalyze(t *testing.T) {
	out, err := exec.Command("systemd-analyze", "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Skipf("systemd-analyze syscall-filter: %v", err)
	}
	got := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		tl := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "@"):
			cur = strings.Fields(l)[0]
		case tl == "" || strings.HasPrefix(tl, "#") || cur == "":
		default:
			got[cur] = append(got[cur], tl)
		}
	}
	for _, g := range groups {
		if strings.Join(got[g.name], " ") != strings.Join(g.members, " ") {
			t.Errorf("%s differs from this machine's systemd-analyze (regenerate with go generate)", g.name)
		}
	}
}

func TestFilterPrograms(t *testing.T) {
	eperm, eaf := Errno(unix.EPERM), Errno(unix.EAFNOSUPPORT)
	tests := []struct {
		name string
		s    Settings
		call string
		args []uint32
		want Action
	}{
		{"allow list admits its group", Settings{SystemCallFilter: []string{"@system-service"}}, "read", nil, Allow},
		{"allow list admits @default", Settings{SystemCallFilter: []string{"@basic-io"}}, "execve", nil, Allow},
		{"allow list kills the rest", Settings{SystemCallFilter: []string{"@basic-io"}}, "socket", nil, Kill},
		{"allow list errno", Settings{SystemCallFilter: []string{"@basic-io"}, ErrorNumber: "EPERM"}, "socket", nil, eperm},
		{"later ~ removes from allow list", Settings{SystemCallFilter: []string{"@system-service", "~@network-io"}}, "socket", nil, Kill},
		{"deny list", Settings{SystemCallFilter: []string{"~@mount"}, ErrorNumber: "EPERM"}, "mount", nil, eperm},
		{"deny list admits others", Settings{SystemCallFilter: []string{"~@mount"}}, "read", nil, Allow},
		{"later allow takes out of deny list", Settings{SystemCallFilter: []string{"~@privileged", "setuid"}}, "setuid", nil, Allow},
		{"per-call errno", Settings{SystemCallFilter: []string{"~unshare:EACCES"}}, "unshare", nil, Errno(unix.EACCES)},
		{"families allow", Settings{AddressFamilies: []string{"AF_UNIX AF_INET"}}, "socket", []uint32{unix.AF_INET}, Allow},
		{"families deny other", Settings{AddressFamilies: []string{"AF_UNIX AF_INET"}}, "socket", []uint32{unix.AF_PACKET}, eaf},
		{"families ~", Settings{AddressFamilies: []string{"~AF_PACKET"}}, "socket", []uint32{unix.AF_PACKET}, eaf},
		{"families ~ other", Settings{AddressFamilies: []string{"~AF_PACKET"}}, "socket", []uint32{unix.AF_INET6}, Allow},
		{"namespaces yes", Settings{Namespaces: "yes"}, "unshare", []uint32{unix.CLONE_NEWNET}, eperm},
		{"namespaces allowed one", Settings{Namespaces: "net"}, "unshare", []uint32{unix.CLONE_NEWNET}, Allow},
		{"namespaces other", Settings{Namespaces: "net"}, "unshare", []uint32{unix.CLONE_NEWNS}, eperm},
		{"namespaces plain clone", Settings{Namespaces: "yes"}, "clone", []uint32{unix.CLONE_VM | unix.CLONE_THREAD}, Allow},
		{"namespaces clone3", Settings{Namespaces: "yes"}, "clone3", nil, Errno(unix.ENOSYS)},
		{"realtime", Settings{Realtime: true}, "sched_setscheduler", []uint32{0, unix.SCHED_FIFO}, eperm},
		{"realtime reset on fork", Settings{Realtime: true}, "sched_setscheduler", []uint32{0, unix.SCHED_RR | unix.SCHED_RESET_ON_FORK}, eperm},
		{"realtime batch", Settings{Realtime: true}, "sched_setscheduler", []uint32{0, unix.SCHED_BATCH}, Allow},
		{"suid chmod", Settings{SUIDSGID: true}, "fchmodat", []uint32{0, 0, 0o4755}, eperm},
		{"plain chmod", Settings{SUIDSGID: true}, "fchmodat", []uint32{0, 0, 0o755}, Allow},
		{"suid openat", Settings{SUIDSGID: true}, "openat", []uint32{0, 0, unix.O_CREAT, 0o2755}, eperm},
		{"openat no creat", Settings{SUIDSGID: true}, "openat", []uint32{0, 0, unix.O_RDONLY, 0o2755}, Allow},
		{"wx mmap", Settings{MemoryDenyWriteExecute: true}, "mmap", []uint32{0, 0, unix.PROT_WRITE | unix.PROT_EXEC}, eperm},
		{"x mmap", Settings{MemoryDenyWriteExecute: true}, "mmap", []uint32{0, 0, unix.PROT_READ | unix.PROT_EXEC}, Allow},
		{"x mprotect", Settings{MemoryDenyWriteExecute: true}, "mprotect", []uint32{0, 0, unix.PROT_EXEC}, eperm},
		{"personality linux", Settings{LockPersonality: true}, "personality", []uint32{0}, Allow},
		{"personality query", Settings{LockPersonality: true}, "personality", []uint32{0xffffffff}, Allow},
		{"personality other", Settings{LockPersonality: true}, "personality", []uint32{0x0008}, eperm},
		{"deny group", Settings{Deny: []string{"@clock"}}, "clock_settime", nil, eperm},
	}
	for _, tb := range allTables {
		for _, tt := range tests {
			call := tt.call
			if tb.arch == "arm" && call == "mmap" {
				call = "mmap2"
			}
			t.Run(tb.arch+"/"+tt.name, func(t *testing.T) {
				f, err := Compile(tt.s)
				if err != nil {
					t.Fatal(err)
				}
				if got := run(t, f, tb, tb.audit, call, tt.args...); got != tt.want {
					t.Errorf("got %#x, want %#x", got, tt.want)
				}
			})
		}
	}
}

func TestForeignArchitecture(t *testing.T) {
	f, err := Compile(Settings{SystemCallFilter: []string{"~@mount"}, ErrorNumber: "EPERM"})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, f, &table_amd64, 0x40000003 /* AUDIT_ARCH_I386 */, "read"); got != Errno(unix.EPERM) {
		t.Errorf("i386 call on amd64: got %#x, want EPERM", got)
	}
	f, _ = Compile(Settings{SystemCallFilter: []string{"~@mount"}, Architectures: []string{"native"}})
	if got := run(t, f, &table_amd64, 0x40000003, "read"); got != Kill {
		t.Errorf("native only: got %#x, want kill", got)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, s := range []Settings{
		{SystemCallFilter: []string{"@no-such-group"}},
		{SystemCallFilter: []string{"nosuchcall"}},
		{SystemCallFilter: []string{"read:EWHAT"}},
		{ErrorNumber: "EWHAT", SystemCallFilter: []string{"read"}},
		{Architectures: []string{"x86"}},
		{AddressFamilies: []string{"AF_NOPE"}},
		{Namespaces: "nope"},
	} {
		if _, err := Compile(s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
