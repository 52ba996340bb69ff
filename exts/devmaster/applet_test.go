package devmaster

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

func TestDaemonFlags(t *testing.T) {
	cfg, mgr, err := parseDaemonFlags([]string{"devmaster"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SysRoot != "/sys" || cfg.DevRoot != "/dev" || cfg.RunRoot != "/run" || !cfg.Coldplug ||
		cfg.Control != "/run/devmaster/control.sock" || mgr != DefaultManagerSocket ||
		!slices.Equal(cfg.RulesDirs, DefaultRulesDirs()) || cfg.Workers != DefaultWorkers() {
		t.Errorf("defaults: %+v, manager %q", cfg, mgr)
	}
	cfg, mgr, err = parseDaemonFlags([]string{"devmaster", "--sys", "/s", "--dev", "/d", "--run", "/r",
		"--rules-dir", "/a", "--rules-dir", "/b", "--workers", "3", "--manager", "/m.sock",
		"--exec-timeout", "5s", "--no-coldplug", "--debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SysRoot != "/s" || cfg.DevRoot != "/d" || cfg.RunRoot != "/r" || cfg.Coldplug || !cfg.Debug ||
		cfg.Control != "/r/devmaster/control.sock" || mgr != "/m.sock" || cfg.Workers != 3 ||
		cfg.ExecTimeout != 5*time.Second || !slices.Equal(cfg.RulesDirs, []string{"/a", "/b"}) {
		t.Errorf("flags: %+v, manager %q", cfg, mgr)
	}
	for _, args := range [][]string{{"--workers", "0"}, {"--bogus"}, {"extra"}, {"--exec-timeout", "0s"}} {
		if _, _, err := parseDaemonFlags(append([]string{"devmaster"}, args...), io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, _, err := parseDaemonFlags([]string{"devmaster", "-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if code := Main([]string{"devmaster", "--bogus"}); code != 2 {
		t.Errorf("Main with a bad flag = %d, want 2", code)
	}
}
