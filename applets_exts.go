//go:build !smbox_noexts

package main

import (
	"github.com/sysmaster-go/sysmaster/exts/fsck"
	"github.com/sysmaster-go/sysmaster/exts/identity"
	"github.com/sysmaster-go/sysmaster/exts/randomseed"
)

// extApplets adds the small extensions: fsck, identity, random-seed.
func extApplets(t map[string]applet) {
	t["fsck"] = fsck.Main
	t["identity"] = identity.Main
	t["random-seed"] = randomseed.Main
}
