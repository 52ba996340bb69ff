package sysmon

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMonitor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pid    int
		tids   []int
		pidMax int
		want   int
		ok     bool
	}{
		{"next after the main thread", 85, []int{85, 86, 87, 90}, 32768, 86, true},
		{"other processes' ids in between", 93, []int{93, 117, 99, 100, 105}, 32768, 99, true},
		{"pid 1 after the kernel's threads", 1, []int{1, 80, 79, 84}, 32768, 79, true},
		{"ids round pid_max", 32760, []int{32760, 4, 32765, 5}, 32768, 32765, true},
		{"all round pid_max", 32767, []int{32767, 301, 300}, 32768, 300, true},
		{"a thread before pid is the last one", 500, []int{500, 499, 501}, 32768, 501, true},
		{"only the main thread", 42, []int{42}, 32768, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := monitor(tc.pid, tc.tids, tc.pidMax)
			if got != tc.want || ok != tc.ok {
				t.Errorf("monitor(%d, %v) = %d, %v; want %d, %v", tc.pid, tc.tids, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// The thread monitor picks is the one that wakes the most while a
// process with one P makes system calls: the runtime's monitor, taking
// the P back from them.
func TestMonitorIsTheBusiestSleeper(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := switches(t)
	buf := make([]byte, 512)
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Read(buf)
		f.Close()
	}
	after := switches(t)
	busiest, most := 0, -1
	var tids []int
	for tid, n := range after {
		tids = append(tids, tid)
		if d := n - before[tid]; d > most {
			busiest, most = tid, d
		}
	}
	got, _ := monitor(os.Getpid(), tids, pidMax())
	if got != busiest {
		t.Errorf("monitor picked thread %d; the one that woke most (%d times) is %d (switches: %v → %v)", got, most, busiest, before, after)
	}
}

func TestQuietSetsSlack(t *testing.T) {
	tid, err := quiet(3 * time.Millisecond)
	if errors.Is(err, os.ErrPermission) {
		t.Skip("needs CAP_SYS_NICE:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.WriteFile("/proc/"+strconv.Itoa(tid)+"/timerslack_ns", []byte("0"), 0) }()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "3000000" {
		t.Errorf("thread %d's slack is %s ns, want 3000000", tid, got)
	}
}

// switches reads the voluntary context switches of each thread.
func switches(t *testing.T) map[int]int {
	t.Helper()
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, tid := range tids {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				out[tid], _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	return out
}
