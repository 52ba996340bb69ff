package devmaster

import (
	"strings"
	"testing"
	"time"
)

func TestRunProgram(t *testing.T) {
	logger, tl := newLogger(t)
	d := &Daemon{cfg: Config{ExecTimeout: 200 * time.Millisecond}, log: logger}
	env := map[string]string{"DEVNAME": "/dev/ttyS1", "ACTION": "add"}
	if err := d.runProgram([]string{"sh", "-c", `echo "node $DEVNAME on $ACTION"; echo err >&2`}, env); err != nil {
		t.Fatal(err)
	}
	if !tl.contains("RUN sh: node /dev/ttyS1 on add") || !tl.contains("RUN sh: err") {
		t.Errorf("output not logged: %v", tl.lines)
	}
	if err := d.runProgram([]string{"sh", "-c", "exit 3"}, env); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("failing program: %v", err)
	}
	start := time.Now()
	// The background child keeps the output pipe open: the process group
	// is killed, and waiting is bounded.
	err := d.runProgram([]string{"sh", "-c", "sleep 30 & sleep 30"}, env)
	if err == nil || !strings.Contains(err.Error(), "killed") || time.Since(start) > 5*time.Second {
		t.Errorf("hanging program: %v after %v", err, time.Since(start))
	}
	if err := d.runProgram([]string{"/nonexistent/prog"}, env); err == nil {
		t.Error("a missing program ran")
	}
	if err := d.runProgram(nil, env); err == nil {
		t.Error("an empty command ran")
	}
	if err := d.runProgram([]string{"sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x"}, env); err != nil {
		t.Fatal(err)
	}
	if !tl.contains("more bytes of output dropped") {
		t.Error("output not bounded")
	}
}
