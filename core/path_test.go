package core_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/core"
)

func TestPathUnits(t *testing.T) {
	m := newManager(t, map[string]string{
		"exists.path":     "[Path]\nPathExists = [\"@DIR@/flag\"]\n" + enabled,
		"exists.service":  "[Service]\nExecStart = \"/bin/sleep 1000\"\n",
		"changed.path":    "[Path]\nPathChanged = [\"@DIR@/conf/app.conf\"]\n" + enabled,
		"changed.service": "[Service]\nType = \"oneshot\"\nExecStart = \"" + fmt.Sprintf(appendTo, "changed") + "\"\n",
		"spool.path":      "[Path]\nDirectoryNotEmpty = [\"@DIR@/spool\"]\nMakeDirectory = true\nUnit = \"drain.service\"\n" + enabled,
		"drain.service":   "[Service]\nType = \"oneshot\"\nExecStart = [\"/bin/sh -c 'rm -f @DIR@/spool/*'\", \"" + fmt.Sprintf(appendTo, "drained") + "\"]\n",
	})
	m.start()
	for _, n := range []string{"exists.path", "changed.path", "spool.path"} {
		if st := m.waitState(n, core.Active); st.Sub != "waiting" {
			t.Fatalf("%s: %+v", n, st)
		}
	}
	if fi, err := os.Stat(filepath.Join(m.dir, "spool")); err != nil || !fi.IsDir() {
		t.Fatalf("MakeDirectory: %v", err)
	}
	if st := m.status("exists.service"); st.Active != core.Inactive {
		t.Fatalf("exists.service started before its path existed: %+v", st)
	}
	os.WriteFile(filepath.Join(m.dir, "flag"), nil, 0o644)
	m.waitState("exists.service", core.Active)
	if st := m.status("exists.path"); st.Sub != "running" {
		t.Errorf("exists.path while its unit runs: %+v", st)
	}
	// The watched file's directory does not exist yet: its creation is
	// followed down to the file. The file comes in one rename, as
	// configuration is written: created and then written in place, it
	// would be changed twice (its creation and the close after writing),
	// and whether that starts the service once or twice depends on
	// whether the first run ended in between.
	os.MkdirAll(filepath.Join(m.dir, "conf"), 0o755)
	os.WriteFile(filepath.Join(m.dir, "conf", ".app.conf.new"), []byte("x"), 0o644)
	os.Rename(filepath.Join(m.dir, "conf", ".app.conf.new"), filepath.Join(m.dir, "conf", "app.conf"))
	os.WriteFile(filepath.Join(m.dir, "spool", "job1"), []byte("x"), 0o644)
	m.waitFor(func() bool {
		l := strings.Join(readLines(t, filepath.Join(m.dir, "log")), " ")
		return strings.Contains(l, "changed") && strings.Contains(l, "drained")
	}, "changed.service and drain.service ran")
	if ents, _ := os.ReadDir(filepath.Join(m.dir, "spool")); len(ents) != 0 {
		t.Errorf("spool not drained: %d entries", len(ents))
	}
	m.waitState("drain.service", core.Inactive)
	if st := m.status("spool.path"); st.Sub != "waiting" {
		t.Errorf("spool.path once drained: %+v", st)
	}
	m.stop()
	if n := strings.Count(strings.Join(readLines(t, filepath.Join(m.dir, "log")), " "), "changed"); n != 1 {
		t.Errorf("changed.service ran %d times for one write, want 1", n)
	}
}
