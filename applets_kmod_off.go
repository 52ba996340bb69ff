//go:build smbox_nokmod

package main

// kmodApplets: modprobe left out of this build (smbox_nokmod).
func kmodApplets(map[string]applet) {}
