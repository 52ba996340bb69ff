//go:build smbox_nocore

package main

// coreApplets: the service manager, its CLI and the exec helper left out of this build (smbox_nocore).
func coreApplets(map[string]applet) {}
