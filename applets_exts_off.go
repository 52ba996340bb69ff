//go:build smbox_noexts

package main

// extApplets: the small extensions: fsck, identity, random-seed left out of this build (smbox_noexts).
func extApplets(map[string]applet) {}
