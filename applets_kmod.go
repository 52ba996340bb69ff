//go:build !smbox_nokmod

package main

import "github.com/sysmaster-go/sysmaster/exts/kmod"

// kmodApplets adds modprobe.
func kmodApplets(t map[string]applet) {
	t["modprobe"] = kmod.Main
}
