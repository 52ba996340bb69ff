package image

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/exts/network/config"
)

// networkUnits are the shipped units a board without networking
// (network = false) leaves out; network.target and network-online.target
// stay, so that units ordered after them still load.
var networkUnits = []string{"netmaster.service.toml", "netmaster-wait-online.service.toml"}

// addNetwork installs the default network file (eth0 by DHCP) unless the
// board opts out; an extra file of the same name replaces it.
func addNetwork(t *Tree, b *board.Board) error {
	if !b.NetworkEnabled() {
		return nil
	}
	return t.AddFile(path.Join(config.Dir, config.DefaultName), config.Default(), 0o644)
}

// checkNetwork parses every network file in the image, so a typo fails
// the build (naming file, line and key) instead of being skipped on the
// board.
func checkNetwork(t *Tree) error {
	for _, n := range t.Nodes() {
		if n.Kind != KindFile || "/"+path.Dir(n.Path) != config.Dir || !strings.HasSuffix(n.Path, ".toml") {
			continue
		}
		data, name := n.Data, "/"+n.Path
		if n.Source != "" {
			var err error
			if data, err = os.ReadFile(n.Source); err != nil {
				return fmt.Errorf("network files: %w", err)
			}
			name = n.Source
		}
		if _, err := config.Parse(name, data); err != nil {
			return fmt.Errorf("bad network file: %w", err)
		}
	}
	return nil
}
