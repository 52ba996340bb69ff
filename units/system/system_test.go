package system

import (
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/units"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       Manager
		err        string
	}{
		{name: "empty", text: ""},
		{name: "watchdog", text: "[Manager]\nRuntimeWatchdogSec = \"30s\"\nRebootWatchdogSec = \"10min\"\nWatchdogDevice = \"/dev/watchdog1\"\n",
			want: Manager{RuntimeWatchdogSec: units.Duration(30 * time.Second), RebootWatchdogSec: units.Duration(10 * time.Minute), WatchdogDevice: "/dev/watchdog1"}},
		{name: "seconds as integer", text: "[Manager]\nRuntimeWatchdogSec = 20\n", want: Manager{RuntimeWatchdogSec: units.Duration(20 * time.Second)}},
		{name: "unknown key", text: "[Manager]\n\nRuntimeWatchdogSek = \"30s\"\n", err: "f.toml:3: Manager.RuntimeWatchdogSek: unknown key (did you mean RuntimeWatchdogSec?)"},
		{name: "unknown section", text: "[Manager]\n[Manger]\nx = 1\n", err: "f.toml:2: unknown section [Manger] (did you mean [Manager]?)"},
		{name: "bad duration", text: "[Manager]\nRuntimeWatchdogSec = \"soon\"\n", err: "f.toml:2"},
		{name: "fraction", text: "[Manager]\nRuntimeWatchdogSec = \"1500ms\"\n", err: "f.toml:2: Manager.RuntimeWatchdogSec: 1.5s: watchdogs count in whole seconds"},
		{name: "infinity", text: "[Manager]\nRebootWatchdogSec = \"infinity\"\n", err: "f.toml:2: Manager.RebootWatchdogSec: a watchdog cannot wait forever"},
		{name: "device not under /dev", text: "[Manager]\nWatchdogDevice = \"watchdog0\"\n", err: "f.toml:2: Manager.WatchdogDevice: \"watchdog0\" is not a device under /dev"},
		{name: "syntax", text: "[Manager]\nRuntimeWatchdogSec =\n", err: "f.toml:2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse("f.toml", []byte(c.text))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Manager != c.want {
				t.Fatalf("got %+v, want %+v", got.Manager, c.want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	c := Config{Manager: Manager{RuntimeWatchdogSec: units.Duration(90 * time.Second), RebootWatchdogSec: units.Duration(10 * time.Minute), WatchdogDevice: "/dev/watchdog1"}}
	got, err := Parse("encoded", c.Encode())
	if err != nil {
		t.Fatalf("%v\n%s", err, c.Encode())
	}
	if got != c {
		t.Fatalf("round trip: %+v, want %+v", got, c)
	}
	if (Config{}).Manager.Device() != DefaultWatchdogDevice || !(Config{}).Empty() {
		t.Fatal("defaults")
	}
}
