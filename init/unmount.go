package pid1

import (
	"bufio"
	"bytes"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// leftMounted lists the mount points in a mountinfo table that are not
// "/" nor one of init's own, innermost last, as they were mounted: core
// unmounts its mount units at shutdown, these are what it left (a core
// that was killed, a mount made by hand).
func leftMounted(mountinfo []byte, own []string) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(mountinfo))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			continue
		}
		where := unescapeMountinfo(f[4])
		if where == "/" || slices.Contains(own, where) || underAny(where, own) {
			continue
		}
		out = append(out, where)
	}
	return out
}

// underAny reports whether p is below one of dirs (a mount under /dev or
// /sys goes with it).
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// unmountLeft unmounts what core left mounted, innermost first, once
// every process is gone; one that stays busy is made read-only, so the
// filesystem is consistent when the power goes.
func (p *pid1) unmountLeft(mountinfo []byte) {
	left := leftMounted(mountinfo, p.mounted)
	for i := len(left) - 1; i >= 0; i-- {
		where := left[i]
		if err := p.mounter.Unmount(where, 0); err == nil {
			p.logf("unmounted %s", where)
			continue
		} else if rerr := p.mounter.Mount("", where, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil {
			p.logf("warning: cannot unmount %s (%v) nor make it read-only (%v)", where, err, rerr)
		} else {
			p.logf("warning: cannot unmount %s (%v); made it read-only", where, err)
		}
	}
}
