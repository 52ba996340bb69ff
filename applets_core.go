//go:build !smbox_nocore

package main

import (
	"github.com/sysmaster-go/sysmaster/core"
	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/core/notify"
	"github.com/sysmaster-go/sysmaster/core/sctl"
)

// coreApplets adds the service manager, its CLI and the exec helper.
func coreApplets(t map[string]applet) {
	t["sysmaster"] = resident(core.Main)
	t["sctl"] = sctl.Main
	t["poweroff"] = sctl.Power("poweroff")
	t["reboot"] = sctl.Power("reboot")
	t["halt"] = sctl.Power("halt")
	t["notify"] = notify.Main
	// The service manager runs this first when a service needs settings
	// that must be applied between fork and exec.
	t[execute.HelperName] = execute.Main
}
