package identity

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeClock struct {
	now time.Time
	set []time.Time
}

func newSystem(t *testing.T, persistent bool, clock *fakeClock) (*System, *bytes.Buffer) {
	dir := t.TempDir()
	out := &bytes.Buffer{}
	return &System{
		Paths:      Paths{MachineID: filepath.Join(dir, "etc-machine-id"), StateDir: filepath.Join(dir, "var", "lib", "sysmaster")},
		Out:        out,
		Persistent: func(string) bool { return persistent },
		SetClock:   func(t time.Time) error { clock.set = append(clock.set, t); clock.now = t; return nil },
		Now:        func() time.Time { return clock.now },
	}, out
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestMachineIDKeptOnPersistentStorage(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	s, out := newSystem(t, true, clock)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	id := read(t, s.Paths.MachineID)
	if !ValidMachineID(id) || read(t, s.Paths.savedID()) != id || !strings.Contains(out.String(), "generated on first boot\n") {
		t.Fatalf("first boot: id %q, output %q", id, out)
	}
	// Next boot: /etc is a fresh initramfs, /var is the same.
	os.Remove(s.Paths.MachineID)
	out.Reset()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s.Paths.MachineID); got != id || !strings.Contains(out.String(), "kept from") {
		t.Fatalf("second boot: id %q, want %q; output %q", got, id, out)
	}
}

func TestMachineIDWithoutPersistentStorage(t *testing.T) {
	s, out := newSystem(t, false, &fakeClock{now: time.Unix(1_800_000_000, 0)})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !ValidMachineID(read(t, s.Paths.MachineID)) || !strings.Contains(out.String(), "is not on persistent storage") {
		t.Fatalf("output %q", out)
	}
	if _, err := os.Stat(s.Paths.savedID()); err == nil {
		t.Fatal("kept a machine id on storage that is not persistent")
	}
}

func TestCorruptFilesIgnored(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	s, out := newSystem(t, true, clock)
	if err := os.MkdirAll(s.Paths.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.Paths.savedID(), []byte("not-an-id\n"), 0o644)
	os.WriteFile(s.Paths.clock(), []byte("yesterday\n"), 0o644)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`machine-id: "not-an-id" is not a machine id (32 hex digits); ignored`,
		`clock: "yesterday" is not a time in Unix seconds; ignored`,
		"generated on first boot",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q, want %q", out, want)
		}
	}
	if len(clock.set) != 0 {
		t.Errorf("clock set from a corrupt file: %v", clock.set)
	}
	// Both are repaired.
	if id := read(t, s.Paths.savedID()); !ValidMachineID(id) || read(t, s.Paths.clock()) != "1800000000" {
		t.Fatalf("saved id %q, clock %q", id, read(t, s.Paths.clock()))
	}
}

func TestClockNeverGoesBack(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	s, out := newSystem(t, true, clock)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	clock.now = clock.now.Add(time.Hour)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// A board without a battery starts in 1970 on the next boot.
	clock.now = time.Unix(5, 0)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if len(clock.set) != 1 || !clock.set[0].Equal(time.Unix(1_800_003_600, 0)) {
		t.Fatalf("clock set %v", clock.set)
	}
	if !strings.Contains(out.String(), "clock was 1970-01-01T00:00:05Z, before the last saved time; set to 2027-01-15T09:00:00Z") {
		t.Fatalf("output %q", out)
	}
	// A clock ahead of the saved time stays.
	clock.set = nil
	clock.now = time.Unix(1_900_000_000, 0)
	if err := s.Start(); err != nil || len(clock.set) != 0 {
		t.Fatalf("clock set %v, %v", clock.set, err)
	}
}

func TestValidMachineID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef":  true,
		"0123456789ABCDEF0123456789abcdef":  false,
		"00000000000000000000000000000000":  false,
		"0123456789abcdef0123456789abcde":   false,
		"0123456789abcdef0123456789abcdef0": false,
	} {
		if ValidMachineID(id) != want {
			t.Errorf("ValidMachineID(%q) = %v", id, !want)
		}
	}
	seen := map[string]bool{}
	for _, kept := range []bool{true, false, true, false} {
		id, err := NewMachineID(kept)
		if err != nil || !ValidMachineID(id) || id[12] != '4' || seen[id] {
			t.Fatalf("NewMachineID(%v) = %q, %v", kept, id, err)
		}
		seen[id] = true
	}
}

// TestMachineIDOnReadOnlyRoot: with /etc read-only (a squashfs root), the
// id goes to /run and is mounted over the image's empty /etc/machine-id;
// without that file to mount over, the error says so.
func TestMachineIDOnReadOnlyRoot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		etcFile bool
		wantErr string
	}{
		{"empty file in the image", true, ""},
		{"no file to mount over", false, "has no file to mount the id over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSystem(t, false, &fakeClock{now: time.Unix(1_800_000_000, 0)})
			s.Paths.RuntimeID = filepath.Join(t.TempDir(), "run-machine-id")
			if tc.etcFile {
				if err := os.WriteFile(s.Paths.MachineID, nil, 0o444); err != nil {
					t.Fatal(err)
				}
			}
			s.Write = func(path string, data []byte, perm os.FileMode) error {
				if path == s.Paths.MachineID {
					return &os.PathError{Op: "open", Path: path, Err: syscall.EROFS}
				}
				return os.WriteFile(path, data, perm)
			}
			var bound [][2]string
			s.Bind = func(src, dst string) error { bound = append(bound, [2]string{src, dst}); return nil }
			err := s.Start()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(bound) != 0 {
					t.Fatalf("Start: %v, bound %v; want an error with %q", err, bound, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id := read(t, s.Paths.RuntimeID); !ValidMachineID(id) || len(bound) != 1 || bound[0] != [2]string{s.Paths.RuntimeID, s.Paths.MachineID} {
				t.Fatalf("runtime id %q, bound %v", id, bound)
			}
		})
	}
}
