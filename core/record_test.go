package core

import (
	"path/filepath"
	"testing"
)

// The records under testdata/state-v1 were written by the manager before
// unit kinds became types; a manager must keep reading them.
func TestReadsVersion1Records(t *testing.T) {
	pf := readState(filepath.Join("testdata", "state-v1", "units"))
	defer pf.close()
	if len(pf.corrupt) != 0 {
		t.Fatalf("unreadable records: %v", pf.corrupt)
	}
	tests := []struct {
		name string
		want savedUnit
	}{
		{"run.service", savedUnit{State: Active, Sub: "running", MainPID: 13112, StartTime: 21988, Result: "success", Starts: "1796164018848439020"}},
		{"bad.service", savedUnit{State: Failed, Sub: "failed", Result: "exit-code", Starts: "1796164018818169078"}},
		{"slow.service", savedUnit{State: Activating, Sub: "start-pre", Result: "success", Job: "start", CtrlPID: 13113, CtrlStart: 21989, Starts: "1796164018849570779"}},
		{"tick.timer", savedUnit{State: Active, Sub: "waiting", Result: "success", LastTrigger: 1796164018955876138, Activated: 1796164018855082471, Starts: "1796164018855080859"}},
		{"l.socket", savedUnit{State: Active, Sub: "listening", Result: "success", Starts: "1796164018818710592"}},
		{"default.target", savedUnit{State: Inactive, Sub: "dead", Job: "start"}},
	}
	for _, tt := range tests {
		if got := pf.saved[tt.name]; got != tt.want {
			t.Errorf("%s: read %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
