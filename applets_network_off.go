//go:build smbox_nonetwork

package main

// networkApplets: the network manager left out of this build (smbox_nonetwork).
func networkApplets(map[string]applet) {}
