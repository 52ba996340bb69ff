package core_test

import (
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/analyze"
	"github.com/sysmaster-go/sysmaster/core/proto"
)

// analyzeUnits are a oneshot setup, a daemon after it and a target that
// waits for both.
func analyzeUnits() map[string]string {
	return map[string]string{
		"setup.service":  "[Service]\nType = \"oneshot\"\nExecStart = \"/bin/sleep 0.3\"\n" + enabled,
		"daemon.service": "[Unit]\nAfter = [\"setup.service\"]\n[Service]\nExecStart = \"/bin/sleep 1000\"\n" + enabled,
		"default.target": "[Unit]\nAfter = [\"setup.service\", \"daemon.service\"]\n",
	}
}

// sctl analyze, as a user runs it, before and after the manager crashes.
func TestAnalyze(t *testing.T) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	// As init hands it: pid 1 started "now", so userspace is this boot.
	t.Setenv(proto.EnvKernelDone, strconv.FormatInt(ts.Nano(), 10))
	m := newManager(t, analyzeUnits())
	m.start()
	m.waitState("daemon.service", core.Active)
	m.waitState("default.target", core.Active)

	out, code := m.sctl("analyze")
	if code != 0 || !strings.HasPrefix(out, "Startup finished in ") || !strings.Contains(out, "(kernel) + ") ||
		!strings.Contains(out, "default.target reached after ") {
		t.Fatalf("sctl analyze: exit %d:\n%s", code, out)
	}
	out, code = m.sctl("analyze", "--json", "time")
	var tm analyze.Times
	if err := json.Unmarshal([]byte(out), &tm); err != nil || code != 0 {
		t.Fatalf("sctl analyze --json time: exit %d, %v:\n%s", code, err, out)
	}
	if tm.Kernel != time.Duration(ts.Nano()) || tm.Userspace < 300*time.Millisecond || !tm.Finished {
		t.Errorf("times %+v: want the kernel part as given and userspace past setup's 0.3 s", tm)
	}
	out, code = m.sctl("analyze", "blame")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || !strings.HasSuffix(lines[0], " setup.service") {
		t.Errorf("sctl analyze blame: exit %d, want setup.service first:\n%s", code, out)
	}
	out, code = m.sctl("analyze", "critical-chain")
	if code != 0 || !strings.Contains(out, "default.target @") || !strings.Contains(out, "└─daemon.service @") || !strings.Contains(out, "└─setup.service @") {
		t.Errorf("sctl analyze critical-chain: exit %d:\n%s", code, out)
	}
	out, code = m.sctl("analyze", "plot")
	var doc struct {
		Rects []struct {
			Unit string `xml:"data-unit,attr"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("sctl analyze plot: exit %d, %v:\n%s", code, err, out)
	}
	bars := map[string]bool{}
	for _, r := range doc.Rects {
		bars[r.Unit] = true
	}
	for _, u := range []string{"kernel", "setup.service", "daemon.service", "default.target"} {
		if !bars[u] {
			t.Errorf("plot has no bar for %s: %v", u, bars)
		}
	}
	if out, code := m.sctl("analyze", "nonsense"); code != 2 || !strings.Contains(out, "unknown view") {
		t.Errorf("sctl analyze nonsense: exit %d: %s", code, out)
	}

	before, _ := m.sctl("analyze", "--json", "blame")
	m.kill9()
	m.start()
	m.waitState("daemon.service", core.Active)
	after, _ := m.sctl("analyze", "--json", "blame")
	var b, a []analyze.Entry
	if err := json.Unmarshal([]byte(before), &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(after), &a); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i].Ran = 0 // the daemon's run goes on
	}
	for i := range a {
		a[i].Ran = 0
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("blame after a manager restart %+v, want %+v", a, b)
	}
	m.stop()
}
