//go:build smbox_nodevmaster

package main

// devmasterApplets: the device manager left out of this build (smbox_nodevmaster).
func devmasterApplets(map[string]applet) {}
