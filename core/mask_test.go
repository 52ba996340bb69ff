package core_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/core"
)

// TestMaskFlag: --mask (sysmaster.mask= through init) masks a unit for
// the life of the manager without a link in the unit directories, and a
// bad name is reported and skipped rather than keeping the manager down.
func TestMaskFlag(t *testing.T) {
	m := newManager(t, map[string]string{
		"a.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"b.service": "[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
	})
	m.args = []string{"--mask", "b.service", "--mask", "not a unit"}
	m.start()
	m.waitState("default.target", core.Active)
	m.waitState("a.service", core.Active)
	if st := m.status("b.service"); st.Load != "masked" || st.Active != core.Inactive {
		t.Errorf("b.service: load %q, active %q; want masked and inactive", st.Load, st.Active)
	}
	if out := m.output(); !strings.Contains(out, `--mask "not a unit" ignored`) {
		t.Errorf("no warning for the bad name:\n%s", out)
	}
	if _, err := os.Lstat(filepath.Join(m.units, "b.service.toml")); err != nil {
		t.Errorf("b.service's file: %v", err)
	}
	m.stop()
}
