package rules

import (
	"fmt"
	"strings"
)

// pattern is a compiled match value: globs separated by '|', any of which
// may match, the whole negated by a leading '!' (as in udev, "!a|b" is
// "neither a nor b").
type pattern struct {
	negate bool
	alts   []string
}

func parsePattern(s string) (pattern, error) {
	var p pattern
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		p.negate, s = true, rest
	}
	p.alts = strings.Split(s, "|")
	for _, a := range p.alts {
		if err := checkGlob(a); err != nil {
			return pattern{}, fmt.Errorf("%q: %w", a, err)
		}
	}
	return p, nil
}

// match reports whether value matches. An absent value (ok false) matches
// only a negated pattern: "attr = { serial = "!x" }" holds for a device
// without a serial.
func (p pattern) match(value string, ok bool) bool {
	if !ok {
		return p.negate
	}
	for _, a := range p.alts {
		if glob(a, value) {
			return !p.negate
		}
	}
	return p.negate
}

// keyed is a pattern on one attribute or property.
type keyed struct {
	key string
	pattern
}
