package pid1

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCmdlineFaultAround(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    int
		warning string
	}{
		{"console=ttyS0", 0, ""},
		{"sysmaster.fault_around=4096", 4096, ""},
		{"sysmaster.fault_around=16384", 16384, ""},
		{"sysmaster.fault_around=5000", 0, `sysmaster.fault_around="5000": want a power of two`},
		{"sysmaster.fault_around=1024", 0, "want a power of two"},
		{"sysmaster.fault_around=131072", 0, "want a power of two"},
		{"sysmaster.fault_around=off", 0, "want a power of two"},
	} {
		o, w := ParseCmdline(tc.cmdline)
		if o.FaultAround != tc.want {
			t.Errorf("%s: FaultAround = %d, want %d", tc.cmdline, o.FaultAround, tc.want)
		}
		if got := strings.Join(w, "\n"); (tc.warning == "") != (got == "") || !strings.Contains(got, tc.warning) {
			t.Errorf("%s: warnings %q, want one with %q", tc.cmdline, got, tc.warning)
		}
	}
}

func TestParseCmdlineMask(t *testing.T) {
	o, w := ParseCmdline("console=ttyS0 sysmaster.mask=a.service,b.service systemd.mask=c.service sysmaster.mask=")
	if want := []string{"a.service", "b.service", "c.service"}; !slices.Equal(o.Masked, want) {
		t.Errorf("Masked = %q, want %q", o.Masked, want)
	}
	if len(w) > 0 {
		t.Errorf("warnings %q", w)
	}
}
