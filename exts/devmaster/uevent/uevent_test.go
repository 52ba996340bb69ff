package uevent

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorded reads a recorded event from testdata. The files hold one field
// per line so they stay readable; the kernel separates and ends fields with
// NUL.
func recorded(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte{0})
}

func TestParseRecorded(t *testing.T) {
	tests := []struct {
		file      string
		action    string
		devpath   string
		subsystem string
		seqnum    uint64
		env       map[string]string
	}{
		{"pci-virtio-net-add.txt", "add", "/devices/pci0000:00/0000:00:02.0", "pci", 1021,
			map[string]string{"MODALIAS": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", "PCI_ID": "1AF4:1000"}},
		{"virtio-net-add.txt", "add", "/devices/pci0000:00/0000:00:02.0/virtio0", "virtio", 1043,
			map[string]string{"MODALIAS": "virtio:d00000001v00001AF4"}},
		{"virtio-net-bind.txt", "bind", "/devices/pci0000:00/0000:00:02.0/virtio0", "virtio", 1046,
			map[string]string{"DRIVER": "virtio_net"}},
		{"net-eth0-add.txt", "add", "/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0", "net", 1045,
			map[string]string{"INTERFACE": "eth0", "IFINDEX": "2"}},
		{"block-vda-add.txt", "add", "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda", "block", 1050,
			map[string]string{"DEVNAME": "vda", "DEVTYPE": "disk", "MAJOR": "254", "MINOR": "0"}},
		{"block-vda1-remove.txt", "remove", "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1", "block", 1702,
			map[string]string{"DEVNAME": "vda1", "DEVTYPE": "partition", "PARTN": "1"}},
		{"tty-ttyS1-add.txt", "add", "/devices/platform/serial8250/tty/ttyS1", "tty", 812,
			map[string]string{"DEVNAME": "ttyS1", "MAJOR": "4", "MINOR": "65"}},
		{"loop0-change-synth.txt", "change", "/devices/virtual/block/loop0", "block", 2001,
			map[string]string{"SYNTH_UUID": "6f1c1f3e-2b7a-4a53-9c4e-0d1f4b8e7a21"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := Parse(recorded(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Action != tt.action || ev.DevPath != tt.devpath || ev.Subsystem != tt.subsystem || ev.Seqnum != tt.seqnum {
				t.Errorf("got %s %s (%s) #%d, want %s %s (%s) #%d",
					ev.Action, ev.DevPath, ev.Subsystem, ev.Seqnum, tt.action, tt.devpath, tt.subsystem, tt.seqnum)
			}
			for k, v := range tt.env {
				if got := ev.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			again, err := Parse(ev.Marshal())
			if err != nil {
				t.Fatalf("re-parsing the marshaled event: %v", err)
			}
			if !maps.Equal(again.Env, ev.Env) {
				t.Errorf("round trip changed the fields:\n%v\n%v", ev.Env, again.Env)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00SEQNUM=1\x00"
	tests := []struct {
		name string
		msg  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"libudev", "libudev\x00\xfe\xed\xca\xfe" + strings.Repeat("\x00", 32), ErrLibudev},
		{"no final NUL", strings.TrimSuffix(good, "\x00"), ErrMalformed},
		{"cut in the middle", good[:30], ErrMalformed},
		{"no @", "add/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"field without =", "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM\x00", ErrMalformed},
		{"empty key", "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00=v\x00", ErrMalformed},
		{"empty field", "add@/devices/x\x00ACTION=add\x00\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"no ACTION", "add@/devices/x\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"no SUBSYSTEM", "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00", ErrMalformed},
		{"header disagrees", "add@/devices/y\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"upper-case action", "ADD@/devices/x\x00ACTION=ADD\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"relative devpath", "add@devices/x\x00ACTION=add\x00DEVPATH=devices/x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"dot-dot devpath", "add@/devices/../etc\x00ACTION=add\x00DEVPATH=/devices/../etc\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"double slash", "add@/devices//x\x00ACTION=add\x00DEVPATH=/devices//x\x00SUBSYSTEM=s\x00", ErrMalformed},
		{"bad seqnum", "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00SEQNUM=-1\x00", ErrMalformed},
		{"oversized", "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00X=" + strings.Repeat("y", MaxSize) + "\x00", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.msg))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want an error wrapping %v", ev, err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("the good message fails: %v", err)
	}
}

func TestNew(t *testing.T) {
	ev, err := New(map[string]string{"ACTION": "add", "DEVPATH": "/devices/platform/serial8250/tty/ttyS1", "SUBSYSTEM": "tty"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.SysName() != "ttyS1" || ev.Seqnum != 0 {
		t.Errorf("SysName %q, Seqnum %d", ev.SysName(), ev.Seqnum)
	}
	if _, err := New(map[string]string{"ACTION": "add", "DEVPATH": "/devices/x"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("no SUBSYSTEM: %v", err)
	}
	for k, v := range map[string]string{"": "x", "A=B": "x", "A\x00": "x", "A": "x\x00y"} {
		env := map[string]string{"ACTION": "add", "DEVPATH": "/devices/x", "SUBSYSTEM": "tty", k: v}
		if _, err := New(env); !errors.Is(err, ErrMalformed) {
			t.Errorf("field %q=%q accepted: %v", k, v, err)
		}
	}
}

// TestNewSplit: the typed fields are checked as by New; the others are
// the caller's to check.
func TestNewSplit(t *testing.T) {
	ev, err := NewSplit(map[string]string{"ACTION": "add", "DEVPATH": "/devices/x", "SUBSYSTEM": "tty", "SEQNUM": "7", "MAJOR": "4"})
	if err != nil || ev.Action != "add" || ev.DevPath != "/devices/x" || ev.Subsystem != "tty" || ev.Seqnum != 7 || ev.Get("MAJOR") != "4" {
		t.Fatalf("%+v, %v", ev, err)
	}
	for _, env := range []map[string]string{
		{"ACTION": "add", "DEVPATH": "/devices/x"},
		{"ACTION": "Add", "DEVPATH": "/devices/x", "SUBSYSTEM": "tty"},
		{"ACTION": "add", "DEVPATH": "/devices/../x", "SUBSYSTEM": "tty"},
		{"ACTION": "add", "DEVPATH": "/devices/x", "SUBSYSTEM": "tty", "SEQNUM": "x"},
	} {
		if _, err := NewSplit(env); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v accepted: %v", env, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".txt") {
			f.Add(recorded(f, e.Name()))
		}
	}
	f.Add([]byte("libudev\x00"))
	f.Add([]byte("add@/\x00"))
	f.Add([]byte("add@/a\x00ACTION=add\x00DEVPATH=/a\x00SUBSYSTEM=b\x00SEQNUM=18446744073709551615\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		ev, err := Parse(msg)
		if err != nil {
			if ev != nil {
				t.Fatal("an event along with an error")
			}
			return
		}
		if len(msg) > MaxSize || !ValidDevPath(ev.DevPath) || ev.Subsystem == "" {
			t.Fatalf("accepted %q", msg)
		}
		again, err := Parse(ev.Marshal())
		if err != nil {
			t.Fatalf("re-parsing %q: %v", ev.Marshal(), err)
		}
		if !maps.Equal(again.Env, ev.Env) || again.Seqnum != ev.Seqnum {
			t.Fatalf("round trip changed %v into %v", ev.Env, again.Env)
		}
	})
}
