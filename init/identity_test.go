package pid1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChooseHostname(t *testing.T) {
	for _, c := range []struct {
		name, cmdline, etc string
		etcErr             error
		want, warning      string
	}{
		{name: "command line wins", cmdline: "box1", etc: "board\n", want: "box1"},
		{name: "etc/hostname", etc: "# a comment\n\nboard-7\n", want: "board-7"},
		{name: "nothing", etcErr: os.ErrNotExist},
		{name: "bad command line", cmdline: "no_underscores", etc: "board\n", want: "board", warning: `systemd.hostname=: "no_underscores": a hostname has only letters`},
		{name: "bad file", etc: "-dash\n", warning: `/etc/hostname: "-dash": a hostname starts with a letter or digit; ignored`},
		{name: "unreadable", etcErr: os.ErrPermission, warning: "/etc/hostname: permission denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, warnings := chooseHostname(c.cmdline, []byte(c.etc), c.etcErr)
			if got != c.want {
				t.Errorf("hostname %q, want %q", got, c.want)
			}
			if w := strings.Join(warnings, "\n"); c.warning == "" && w != "" || !strings.Contains(w, c.warning) {
				t.Errorf("warnings %q, want %q", w, c.warning)
			}
		})
	}
}

func TestReadTimestamp(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("1700000000\n"), 0o644)
	os.WriteFile(bad, []byte("next tuesday\n"), 0o644)
	if ts, err := ReadTimestamp(good); err != nil || ts.Unix() != 1700000000 {
		t.Fatalf("good: %v, %v", ts, err)
	}
	if _, err := ReadTimestamp(bad); err == nil || !strings.Contains(err.Error(), `bad: "next tuesday" is not a time in Unix seconds`) {
		t.Fatalf("bad: %v", err)
	}
	// A clock already past the floor is left alone.
	if _, moved, err := ClockForward(time.Unix(1000, 0)); moved || err != nil {
		t.Fatalf("ClockForward into the past: moved %v, %v", moved, err)
	}
}

func TestParseCmdlineRootAndHostname(t *testing.T) {
	o, w := ParseCmdline("console=ttyS0 root=/dev/vda rootfstype=squashfs rootflags=noatime init=/sbin/other systemd.hostname=box")
	want := RootSpec{Device: "/dev/vda", FSType: "squashfs", Flags: "noatime", Init: "/sbin/other"}
	if o.Root != want || o.Hostname != "box" || len(w) != 0 {
		t.Fatalf("ParseCmdline = %+v, %q", o, w)
	}
}
