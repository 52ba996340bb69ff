package seccomp

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Settings are a service's seccomp-based settings, as written in the unit.
type Settings struct {
	// SystemCallFilter entries in order; each is a blank-separated list of
	// names and @groups, "~" first to deny, a name may end in ":ERRNO".
	SystemCallFilter []string
	// ErrorNumber is SystemCallErrorNumber= ("EPERM", "kill"); "" kills.
	ErrorNumber string
	// Architectures is SystemCallArchitectures=; "native" is the only
	// architecture a filter can admit.
	Architectures []string
	// AddressFamilies is RestrictAddressFamilies=: "AF_UNIX AF_INET", or
	// "~AF_PACKET" to deny, or "none".
	AddressFamilies []string
	// Namespaces is RestrictNamespaces=: "" (unset), "yes" (all), "no",
	// "ipc net" (only those allowed) or "~user" (those denied).
	Namespaces string

	Realtime, SUIDSGID, MemoryDenyWriteExecute, LockPersonality bool

	// Deny lists calls or groups denied with EPERM by other settings
	// (ProtectClock=, ProtectKernelModules=, ...).
	Deny []string
}

// Empty reports whether s asks for no filter at all.
func (s *Settings) Empty() bool {
	return len(s.SystemCallFilter) == 0 && len(s.Architectures) == 0 && len(s.AddressFamilies) == 0 &&
		(s.Namespaces == "" || s.Namespaces == "no") && !s.Realtime && !s.SUIDSGID &&
		!s.MemoryDenyWriteExecute && !s.LockPersonality && len(s.Deny) == 0
}

// ParseErrno reads an errno name ("EPERM") or number.
func ParseErrno(s string) (unix.Errno, error) {
	for e := unix.Errno(1); e < 200; e++ {
		if unix.ErrnoName(e) == s {
			return e, nil
		}
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n > 0 && n < 4096 && fmt.Sprint(n) == s {
		return unix.Errno(n), nil
	}
	return 0, fmt.Errorf("unknown errno %q", s)
}

// Compile resolves s into a filter. It checks every name, so it is also
// how a unit's values are validated.
func Compile(s Settings) (*Filter, error) {
	deny := Kill
	if s.ErrorNumber != "" && s.ErrorNumber != "kill" {
		e, err := ParseErrno(s.ErrorNumber)
		if err != nil {
			return nil, fmt.Errorf("SystemCallErrorNumber: %w", err)
		}
		deny = Errno(e)
	}
	f := &Filter{Default: Allow, Foreign: deny}
	for _, a := range s.Architectures {
		for _, w := range strings.Fields(a) {
			if w != "native" {
				return nil, fmt.Errorf("SystemCallArchitectures: %q: only native is supported", w)
			}
			f.Foreign = Kill
		}
	}
	eperm := Errno(unix.EPERM)
	for _, d := range s.Deny {
		names, err := Expand(d)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			f.Rules = append(f.Rules, Rule{Name: n, Action: eperm})
		}
	}
	if err := addressFamilies(f, s.AddressFamilies); err != nil {
		return nil, fmt.Errorf("RestrictAddressFamilies: %w", err)
	}
	if err := namespaces(f, s.Namespaces); err != nil {
		return nil, fmt.Errorf("RestrictNamespaces: %w", err)
	}
	if s.Realtime {
		// SCHED_FIFO, SCHED_RR and SCHED_DEADLINE, with or without
		// SCHED_RESET_ON_FORK.
		for _, pol := range []uint32{unix.SCHED_FIFO, unix.SCHED_RR, 6} {
			f.Rules = append(f.Rules, Rule{Name: "sched_setscheduler", Conds: []Cond{{Arg: 1, Mask: ^uint32(unix.SCHED_RESET_ON_FORK), Op: Eq, Value: pol}}, Action: eperm})
		}
		f.Rules = append(f.Rules, Rule{Name: "sched_setattr", Action: eperm})
	}
	if s.SUIDSGID {
		const sugid = unix.S_ISUID | unix.S_ISGID
		for _, c := range []struct {
			name string
			arg  int
		}{{"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2}} {
			f.Rules = append(f.Rules, Rule{Name: c.name, Conds: []Cond{{Arg: c.arg, Mask: sugid, Op: Ne, Value: 0}}, Action: eperm})
		}
		for _, c := range []struct {
			name          string
			flags, mode   int
			creatImplicit bool
		}{{"open", 1, 2, false}, {"openat", 2, 3, false}, {"creat", -1, 1, true}} {
			conds := []Cond{{Arg: c.mode, Mask: sugid, Op: Ne, Value: 0}}
			if !c.creatImplicit {
				conds = append([]Cond{{Arg: c.flags, Mask: unix.O_CREAT, Op: Ne, Value: 0}}, conds...)
			}
			f.Rules = append(f.Rules, Rule{Name: c.name, Conds: conds, Action: eperm})
		}
	}
	if s.MemoryDenyWriteExecute {
		wx := uint32(unix.PROT_WRITE | unix.PROT_EXEC)
		for _, n := range []string{"mmap", "mmap2"} {
			f.Rules = append(f.Rules, Rule{Name: n, Conds: []Cond{{Arg: 2, Mask: wx, Op: Eq, Value: wx}}, Action: eperm})
		}
		for _, n := range []string{"mprotect", "pkey_mprotect"} {
			f.Rules = append(f.Rules, Rule{Name: n, Conds: []Cond{{Arg: 2, Mask: unix.PROT_EXEC, Op: Ne, Value: 0}}, Action: eperm})
		}
		f.Rules = append(f.Rules, Rule{Name: "shmat", Conds: []Cond{{Arg: 2, Mask: shmExec, Op: Ne, Value: 0}}, Action: eperm})
	}
	if s.LockPersonality {
		// Only PER_LINUX and the query 0xffffffff pass.
		f.Rules = append(f.Rules, Rule{Name: "personality", Conds: []Cond{{Arg: 0, Op: Ne, Value: 0}, {Arg: 0, Op: Ne, Value: 0xffffffff}}, Action: eperm})
	}
	if err := syscallFilter(f, s.SystemCallFilter, deny); err != nil {
		return nil, fmt.Errorf("SystemCallFilter: %w", err)
	}
	return f, nil
}

// syscallFilter adds SystemCallFilter= as systemd reads it: the first
// entry decides between an allow list (which always includes @default)
// and a deny list; later entries of the other polarity take names out.
func syscallFilter(f *Filter, entries []string, deny Action) error {
	if len(entries) == 0 {
		return nil
	}
	allowList := !strings.HasPrefix(strings.TrimSpace(entries[0]), "~")
	set := map[string]Action{} // name -> action when denied (deny list) or listed (allow list)
	var order []string
	add := func(n string, a Action) {
		if _, ok := set[n]; !ok {
			order = append(order, n)
		}
		set[n] = a
	}
	if allowList {
		names, _ := Expand("@default")
		for _, n := range names {
			add(n, Allow)
		}
	}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		invert := strings.HasPrefix(e, "~")
		e = strings.TrimPrefix(e, "~")
		for _, w := range strings.Fields(e) {
			name, errno, hasErrno := strings.Cut(w, ":")
			action := deny
			if hasErrno {
				en, err := ParseErrno(errno)
				if err != nil {
					return fmt.Errorf("%s: %w", w, err)
				}
				action = Errno(en)
			}
			names, err := Expand(name)
			if err != nil {
				return err
			}
			for _, n := range names {
				switch {
				case invert != allowList: // same polarity as the list: add
					if allowList {
						add(n, Allow)
					} else {
						add(n, action)
					}
				default:
					delete(set, n)
				}
			}
		}
	}
	for _, n := range order {
		if a, ok := set[n]; ok {
			f.Rules = append(f.Rules, Rule{Name: n, Action: a})
		}
	}
	if allowList {
		f.Default = deny
	}
	return nil
}

func addressFamilies(f *Filter, entries []string) error {
	if len(entries) == 0 {
		return nil
	}
	words := strings.Fields(strings.Join(entries, " "))
	if len(words) == 1 && words[0] == "none" {
		for _, n := range []string{"socket", "socketcall"} {
			f.Rules = append(f.Rules, Rule{Name: n, Action: Errno(unix.EAFNOSUPPORT)})
		}
		return nil
	}
	invert := len(words) > 0 && strings.HasPrefix(words[0], "~")
	if invert {
		words[0] = strings.TrimPrefix(words[0], "~")
	}
	var fams []uint32
	for _, w := range words {
		n, ok := addressFamily[w]
		if !ok {
			return fmt.Errorf("unknown address family %q", w)
		}
		fams = append(fams, n)
	}
	nosupport := Errno(unix.EAFNOSUPPORT)
	if invert {
		for _, n := range fams {
			f.Rules = append(f.Rules, Rule{Name: "socket", Conds: []Cond{{Arg: 0, Op: Eq, Value: n}}, Action: nosupport})
		}
		return nil
	}
	conds := make([]Cond, len(fams))
	for i, n := range fams {
		conds[i] = Cond{Arg: 0, Op: Ne, Value: n}
	}
	f.Rules = append(f.Rules, Rule{Name: "socket", Conds: conds, Action: nosupport})
	return nil
}

var addressFamily = map[string]uint32{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_UNIX, "AF_INET": unix.AF_INET, "AF_INET6": unix.AF_INET6,
	"AF_NETLINK": unix.AF_NETLINK, "AF_PACKET": unix.AF_PACKET, "AF_BLUETOOTH": unix.AF_BLUETOOTH,
	"AF_CAN": unix.AF_CAN, "AF_ALG": unix.AF_ALG, "AF_VSOCK": unix.AF_VSOCK, "AF_KEY": unix.AF_KEY,
	"AF_X25": unix.AF_X25, "AF_AX25": unix.AF_AX25, "AF_APPLETALK": unix.AF_APPLETALK, "AF_IPX": unix.AF_IPX,
	"AF_TIPC": unix.AF_TIPC, "AF_XDP": unix.AF_XDP, "AF_QIPCRTR": unix.AF_QIPCRTR, "AF_RDS": unix.AF_RDS,
	"AF_NFC": unix.AF_NFC, "AF_MCTP": unix.AF_MCTP, "AF_IEEE802154": unix.AF_IEEE802154,
}

// shmExec is SHM_EXEC from <linux/shm.h>.
const shmExec = 0o100000

// Namespace flags by the names RestrictNamespaces= uses.
var namespaceFlags = []struct {
	name string
	flag uint32
}{
	{"cgroup", unix.CLONE_NEWCGROUP}, {"ipc", unix.CLONE_NEWIPC}, {"net", unix.CLONE_NEWNET},
	{"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID}, {"user", unix.CLONE_NEWUSER},
	{"uts", unix.CLONE_NEWUTS}, {"time", unix.CLONE_NEWTIME},
}

func namespaces(f *Filter, v string) error {
	v = strings.TrimSpace(v)
	if v == "" || v == "no" || v == "false" {
		return nil
	}
	denied := map[string]bool{}
	switch v {
	case "yes", "true":
		for _, n := range namespaceFlags {
			denied[n.name] = true
		}
	default:
		invert := strings.HasPrefix(v, "~")
		listed := map[string]bool{}
		for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
			ok := false
			for _, n := range namespaceFlags {
				ok = ok || n.name == w
			}
			if !ok {
				return fmt.Errorf("unknown namespace %q", w)
			}
			listed[w] = true
		}
		for _, n := range namespaceFlags {
			denied[n.name] = listed[n.name] == invert
		}
	}
	var mask uint32
	for _, n := range namespaceFlags {
		if denied[n.name] {
			mask |= n.flag
		}
	}
	if mask == 0 {
		return nil
	}
	eperm := Errno(unix.EPERM)
	// clone3 passes its flags in memory a filter cannot read: make libc
	// fall back to clone, as systemd does.
	f.Rules = append(f.Rules,
		Rule{Name: "clone3", Action: Errno(unix.ENOSYS)},
		Rule{Name: "unshare", Conds: []Cond{{Arg: 0, Mask: mask, Op: Ne, Value: 0}}, Action: eperm},
		Rule{Name: "clone", Conds: []Cond{{Arg: 0, Mask: mask, Op: Ne, Value: 0}}, Action: eperm},
		Rule{Name: "setns", Conds: []Cond{{Arg: 1, Op: Eq, Value: 0}}, Action: eperm},
		Rule{Name: "setns", Conds: []Cond{{Arg: 1, Mask: mask, Op: Ne, Value: 0}}, Action: eperm},
	)
	return nil
}
