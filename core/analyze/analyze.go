// Package analyze turns the manager's boot record (proto.Boot) into what
// systemd-analyze prints: the time of the boot's parts, the units by how
// long they took to start, the chain of units the target waited for, and
// an SVG chart of the boot.
package analyze

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// Times is the boot's parts. Userspace runs from pid 1's start (from the
// manager's start when no init said when that was) until the target was
// reached; the images boot with their root in the initramfs, so there is
// no separate initrd part.
type Times struct {
	Kernel    time.Duration `json:"kernel_ns"`
	Userspace time.Duration `json:"userspace_ns"`
	Total     time.Duration `json:"total_ns"`
	Target    string        `json:"target"`
	Finished  bool          `json:"finished"`
}

// origin is where userspace begins on the kernel clock.
func origin(b *proto.Boot) time.Duration {
	if b.Kernel > 0 {
		return b.Kernel
	}
	return b.Manager
}

// BootTimes is the boot's parts, as `analyze time` prints them.
func BootTimes(b *proto.Boot) Times {
	t := Times{Kernel: b.Kernel, Target: b.Target, Finished: b.Finished > 0}
	if t.Finished {
		t.Userspace = b.Finished - origin(b)
		t.Total = t.Kernel + t.Userspace
	}
	return t
}

// String is systemd-analyze's wording.
func (t Times) String() string {
	if !t.Finished {
		return fmt.Sprintf("Bootup is not yet finished (%s not reached).\n", t.Target)
	}
	var b strings.Builder
	b.WriteString("Startup finished in ")
	if t.Kernel > 0 {
		fmt.Fprintf(&b, "%s (kernel) + ", Format(t.Kernel))
	}
	fmt.Fprintf(&b, "%s (userspace) = %s\n", Format(t.Userspace), Format(t.Total))
	fmt.Fprintf(&b, "%s reached after %s in userspace.\n", t.Target, Format(t.Userspace))
	return b.String()
}

// Format prints d as systemd-analyze does: 1min 2.345s, 1.234s, 345ms.
func Format(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return fmt.Sprintf("%dmin %.3fs", d/time.Minute, (d % time.Minute).Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	default:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
}

// started is when u's start ended: active, failed, or (a oneshot that ran
// and finished) inactive again; zero while it is still starting.
func started(u proto.UnitTimes) time.Duration {
	for _, t := range []time.Duration{u.Active, u.Failed, u.Inactive} {
		if t > 0 && t >= u.Activating {
			return t
		}
	}
	return 0
}

// Entry is one unit in blame: how long it took to start.
type Entry struct {
	Unit string        `json:"unit"`
	Took time.Duration `json:"took_ns"`
	Ran  time.Duration `json:"ran_ns"`
}

// Blame lists the units that started, the slowest first.
func Blame(b *proto.Boot) []Entry {
	var out []Entry
	for _, u := range b.Units {
		end := started(u)
		if u.Activating == 0 || end == 0 || end == u.Activating {
			continue
		}
		out = append(out, Entry{Unit: u.Name, Took: end - u.Activating, Ran: u.Ran})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Took != out[j].Took {
			return out[i].Took > out[j].Took
		}
		return out[i].Unit < out[j].Unit
	})
	return out
}

// Link is one unit of the critical chain: when it was up (At, from
// userspace's start) and how long its start took.
type Link struct {
	Unit string        `json:"unit"`
	At   time.Duration `json:"at_ns"`
	Took time.Duration `json:"took_ns"`
}

// CriticalChain follows from unit (the target when "") the units it was
// ordered after that were up last before it began, as
// systemd-analyze critical-chain does. The first link is unit.
func CriticalChain(b *proto.Boot, unit string) ([]Link, error) {
	if unit == "" {
		unit = b.Target
	}
	byName := map[string]proto.UnitTimes{}
	for _, u := range b.Units {
		byName[u.Name] = u
	}
	u, ok := byName[unit]
	if !ok || started(u) == 0 {
		return nil, fmt.Errorf("%s has not started in this boot", unit)
	}
	o := origin(b)
	var chain []Link
	seen := map[string]bool{}
	for {
		seen[u.Name] = true
		end := started(u)
		chain = append(chain, Link{Unit: u.Name, At: end - o, Took: end - u.Activating})
		var next proto.UnitTimes
		found := false
		for _, a := range u.After {
			d, ok := byName[a]
			if !ok || seen[a] {
				continue
			}
			de := started(d)
			if de == 0 || de > u.Activating {
				continue
			}
			if !found || de > started(next) {
				next, found = d, true
			}
		}
		if !found {
			return chain, nil
		}
		u = next
	}
}

// FormatChain prints the chain as systemd-analyze does, the unit asked
// for at the top and each unit it waited for below.
func FormatChain(chain []Link) string {
	var b strings.Builder
	b.WriteString("The time when unit became active or started is printed after the \"@\" character.\n")
	b.WriteString("The time the unit took to start is printed after the \"+\" character.\n\n")
	for i, l := range chain {
		b.WriteString(strings.Repeat("  ", i))
		if i > 0 {
			b.WriteString("└─")
		}
		fmt.Fprintf(&b, "%s @%s", l.Unit, Format(l.At))
		if l.Took > 0 {
			fmt.Fprintf(&b, " +%s", Format(l.Took))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
