// Package seccomp builds and loads the system call filters of a service:
// SystemCallFilter= with systemd's named groups, and the restrictions that
// systemd implements with seccomp (RestrictAddressFamilies=,
// RestrictNamespaces=, RestrictRealtime=, RestrictSUIDSGID=,
// MemoryDenyWriteExecute=, LockPersonality=, and the system calls that
// ProtectClock= and friends deny).
//
// The BPF instructions come from golang.org/x/net/bpf. The program is a
// straight list of checks, first match wins: an architecture check, then
// every rule in order, then the default action. Only the native
// architecture is let through: a call made through a foreign ABI (x32 or
// i386 on amd64, arm on arm64) gets the filter's deny action, or kills the
// process when SystemCallArchitectures=native asks for it.
//
// System call numbers come from golang.org/x/sys (see gen); the group lists
// are systemd's own (systemd-analyze syscall-filter). Names that do not
// exist on an architecture (open on arm64, mmap2 on amd64) are skipped
// there, as systemd does.
package seccomp

//go:generate sh -c "go run ./gen -xsys $(go list -m -f '{{.Dir}}' golang.org/x/sys)"

import (
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

type group struct {
	name, help string
	members    []string // system call names and other groups
}

type call struct {
	name string
	nr   uint32
}

// table is one architecture's system calls, sorted by name.
type table struct {
	arch  string
	audit uint32 // AUDIT_ARCH_* as seen in seccomp_data.arch
	calls []call
}

func (t *table) lookup(name string) (uint32, bool) {
	i := sort.Search(len(t.calls), func(i int) bool { return t.calls[i].name >= name })
	if i < len(t.calls) && t.calls[i].name == name {
		return t.calls[i].nr, true
	}
	return 0, false
}

// Groups returns the names of systemd's system call groups.
func Groups() []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = g.name
	}
	return out
}

// GroupHelp returns the one-line description of a group, or "".
func GroupHelp(name string) string {
	for _, g := range groups {
		if g.name == name {
			return g.help
		}
	}
	return ""
}

// Expand resolves a group ("@system-service") to the system call names it
// contains, recursively, or checks that a plain name is a system call
// systemd knows.
func Expand(name string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	var walk func(n string, depth int) error
	walk = func(n string, depth int) error {
		if !strings.HasPrefix(n, "@") {
			if !known(n) {
				return fmt.Errorf("unknown system call %q", n)
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
			return nil
		}
		if depth > len(groups) {
			return fmt.Errorf("group %s includes itself", n)
		}
		for _, g := range groups {
			if g.name == n {
				for _, m := range g.members {
					if err := walk(m, depth+1); err != nil {
						return err
					}
				}
				return nil
			}
		}
		return fmt.Errorf("unknown system call group %q", n)
	}
	if err := walk(name, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// known reports whether name is in one of systemd's groups (@known lists
// nearly all), or exists on this architecture. Only the native table is
// consulted so that the others stay out of the binary.
func known(name string) bool {
	for _, g := range groups {
		for _, m := range g.members {
			if m == name {
				return true
			}
		}
	}
	if nativeTable != nil {
		_, ok := nativeTable.lookup(name)
		return ok
	}
	return false
}

// Action is what a rule does to a matching call.
type Action uint32

// Actions, as the kernel encodes them.
const (
	Allow Action = unix.SECCOMP_RET_ALLOW
	Kill  Action = unix.SECCOMP_RET_KILL_PROCESS
)

// Errno is the action that fails a call with e.
func Errno(e unix.Errno) Action {
	return Action(unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA)
}

// Cond is a test on the low 32 bits of one argument of the call (all our
// architectures are little-endian). Mask 0 means the whole word.
type Cond struct {
	Arg   int // 0..5
	Mask  uint32
	Op    Op
	Value uint32
}

// Op compares an argument (after the mask) with a value.
type Op int

// Operators of a Cond.
const (
	Eq Op = iota
	Ne
)

// Rule applies Action to calls named Name whose arguments pass every Cond.
type Rule struct {
	Name   string
	Conds  []Cond
	Action Action
}

// Filter is one service's filter.
type Filter struct {
	Rules   []Rule // checked in order; the first match decides
	Default Action // for calls no rule matches
	// Foreign is the action for calls through another architecture's ABI.
	Foreign Action
}

// Native returns the table of the architecture this binary runs on.
func Native() (*table, error) {
	if nativeTable == nil {
		return nil, fmt.Errorf("seccomp: no system call table for this architecture")
	}
	return nativeTable, nil
}

// Assemble compiles f for the architecture of t. Rules naming calls that t
// does not have are skipped.
func (f *Filter) assemble(t *table) ([]bpf.RawInstruction, error) {
	const (
		offNr   = 0
		offArch = 4
		offArgs = 16
	)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: t.audit, SkipTrue: 1},
		bpf.RetConstant{Val: uint32(f.Foreign)},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	if t.arch == "amd64" {
		// x32 calls share the audit arch and set bit 30 of the number.
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x40000000, SkipFalse: 1},
			bpf.RetConstant{Val: uint32(f.Foreign)})
	}
	haveNr := true // the accumulator holds the call number
	for _, r := range f.Rules {
		nr, ok := t.lookup(r.Name)
		if !ok {
			continue
		}
		if !haveNr {
			prog = append(prog, bpf.LoadAbsolute{Off: offNr, Size: 4})
		}
		if len(r.Conds) == 0 {
			prog = append(prog,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1},
				bpf.RetConstant{Val: uint32(r.Action)})
			haveNr = true
			continue
		}
		// jeq nr; then per condition: load, [and], jump; then ret.
		var body []bpf.Instruction
		for _, c := range r.Conds {
			if c.Arg < 0 || c.Arg > 5 {
				return nil, fmt.Errorf("seccomp: %s: argument %d out of range", r.Name, c.Arg)
			}
			body = append(body, bpf.LoadAbsolute{Off: uint32(offArgs + 8*c.Arg), Size: 4})
			if c.Mask != 0 {
				body = append(body, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: c.Mask})
			}
			body = append(body, condJump(c))
		}
		body = append(body, bpf.RetConstant{Val: uint32(r.Action)})
		// Point every failing jump at the instruction after the block.
		for i, in := range body {
			if j, ok := in.(bpf.JumpIf); ok {
				skip := len(body) - i - 1
				if skip > 255 {
					return nil, fmt.Errorf("seccomp: %s: too many conditions", r.Name)
				}
				j.SkipFalse = uint8(skip)
				body[i] = j
			}
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: uint8(len(body))})
		prog = append(prog, body...)
		haveNr = false
	}
	prog = append(prog, bpf.RetConstant{Val: uint32(f.Default)})
	if len(prog) > 4096 {
		return nil, fmt.Errorf("seccomp: filter of %d instructions is over the kernel's 4096", len(prog))
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	return raw, nil
}

// condJump is the test of c on the accumulator: it falls through when c
// holds; its SkipFalse (to the end of the rule) is filled in later.
func condJump(c Cond) bpf.JumpIf {
	if c.Op == Ne {
		return bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: c.Value}
	}
	return bpf.JumpIf{Cond: bpf.JumpEqual, Val: c.Value}
}

// Load compiles f for the native architecture and installs it on the
// calling thread; execve keeps it. The caller must hold CAP_SYS_ADMIN or
// have set no_new_privs.
func (f *Filter) Load() error {
	t, err := Native()
	if err != nil {
		return err
	}
	raw, err := f.assemble(t)
	if err != nil {
		return err
	}
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("seccomp: load filter: %w", err)
	}
	return nil
}
