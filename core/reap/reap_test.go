package reap

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAllReapsEveryChild(t *testing.T) {
	want := map[int]int{}
	for _, code := range []string{"0", "3", "7"} {
		cmd := exec.Command("/bin/sh", "-c", "exit "+code)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want[cmd.Process.Pid] = map[string]int{"0": 0, "3": 3, "7": 7}[code]
	}
	got := map[int]int{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		All(func(pid int, ws unix.WaitStatus) { got[pid] = ws.ExitStatus() })
		time.Sleep(10 * time.Millisecond)
	}
	for pid, code := range want {
		if c, ok := got[pid]; !ok || c != code {
			t.Errorf("pid %d: got %d (reaped %v), want %d", pid, c, ok, code)
		}
	}
}
