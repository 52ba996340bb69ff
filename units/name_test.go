package units

import (
	"regexp"
	"testing"
)

// The expression validName replaced, to check that both agree.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\@-]*)?\.(service|target|socket|mount|timer|device|path)$`)

func TestValidNameMatchesExpression(t *testing.T) {
	for _, name := range []string{
		"a.service", "sshd.service", "getty@tty1.service", "getty@.service", "heartbeat-failed@frr@x.service",
		"dev-sda1.device", "sys-kernel-debug.mount", "x\\x2d.path", "a:b_c.d.timer", "a.b.c.socket",
		"@x.service", ".service", "a.", "a", "a.slice", "a.Service", "a b.service", "a@b c.service",
		"a@.b.target", "a@b.c@d.target", "é.service", "a.service.", "a..service", "a@@.service", "a/b.service",
		"a.servicex", "x.service\n", "a@b\\c.mount",
	} {
		if got, want := validName(name), nameRE.MatchString(name); got != want {
			t.Errorf("validName(%q) = %v, the expression says %v", name, got, want)
		}
	}
}

func TestCgroupController(t *testing.T) {
	for _, tt := range []struct {
		c    string
		want bool
	}{{"cpu", true}, {"hugetlb_x", true}, {"", false}, {"CPU", false}, {"cpu1", false}, {"io ", false}} {
		if got := cgroupController(tt.c); got != tt.want {
			t.Errorf("cgroupController(%q) = %v", tt.c, got)
		}
	}
}
