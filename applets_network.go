//go:build !smbox_nonetwork

package main

import "github.com/sysmaster-go/sysmaster/exts/network"

// networkApplets adds the network manager.
func networkApplets(t map[string]applet) {
	t["netmaster"] = resident(network.Main)
	t["netctl"] = network.CtlMain
}
