package image

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
)

// Where devmaster reads its rules on the board: the image's own in /lib,
// the owner's in /etc (a file there hides the same name in /lib).
const (
	libRulesDir = "/lib/devmaster/rules.d"
	etcRulesDir = "/etc/devmaster/rules.d"
)

// The users and groups every image knows, so that rules and units can name
// them (group "dialout", User "nobody"). Extra files replace them.
const (
	etcPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	etcGroup  = "root:x:0:\ntty:x:5:\ndisk:x:6:\nkmem:x:15:\ndialout:x:20:\naudio:x:29:\nvideo:x:44:\n" +
		"input:x:101:\nrender:x:102:\nnogroup:x:65534:\n"
)

// addSystemFiles installs the device rules every image carries, and the
// users and groups they name.
func addSystemFiles(t *Tree) error {
	for _, f := range []struct {
		path string
		data []byte
	}{
		{path.Join(libRulesDir, rules.DefaultName), rules.Default()},
		{"/etc/passwd", []byte(etcPasswd)},
		{"/etc/group", []byte(etcGroup)},
	} {
		if err := t.AddFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkRules parses every rules file in the image, so a bad rule fails the
// build (naming file, line and key) instead of being skipped on the board.
func checkRules(t *Tree) error {
	for _, n := range t.Nodes() {
		dir := "/" + path.Dir(n.Path)
		if n.Kind != KindFile || (dir != libRulesDir && dir != etcRulesDir) || !strings.HasSuffix(n.Path, ".toml") {
			continue
		}
		data, name := n.Data, "/"+n.Path
		if n.Source != "" {
			var err error
			if data, err = os.ReadFile(n.Source); err != nil {
				return fmt.Errorf("device rules: %w", err)
			}
			name = n.Source
		}
		if _, err := rules.Parse(name, data); err != nil {
			return fmt.Errorf("bad device rules: %w", err)
		}
	}
	return nil
}
