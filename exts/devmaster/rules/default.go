package rules

import _ "embed"

// DefaultName is the name the default rules are installed under in a
// rules directory; a file of that name in /etc/devmaster/rules.d
// replaces them.
const DefaultName = "50-default.toml"

//go:embed default.toml
var defaultRules string

// Default returns the rules shipped in images: permissions of common
// device nodes and the /dev/disk/by-* and /dev/virtio-ports links.
func Default() []byte { return []byte(defaultRules) }
