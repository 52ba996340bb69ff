//go:build !smbox_nodevmaster

package main

import "github.com/sysmaster-go/sysmaster/exts/devmaster"

// devmasterApplets adds the device manager.
func devmasterApplets(t map[string]applet) {
	t["devmaster"] = resident(devmaster.Main)
	t["devctl"] = devmaster.CtlMain
}
