package tomlerr

import (
	"regexp"
	"strconv"
	"testing"
)

// The expression this package replaced, to check that both agree.
var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

func TestParse(t *testing.T) {
	for _, msg := range []string{
		`toml: line 3 (last key "Service.ExecStart"): incompatible types: TOML value has type int64; destination has type string`,
		`toml: line 12 (last key ""): x`,
		`toml: line 1 (last key "a"): `,
		`toml: line 1 (last key "a"): two "): parts`,
		`toml: line x (last key "a"): m`,
		`toml: line  (last key "a"): m`,
		`toml: line 1 (last key "a"b"): m`,
		`toml: line 1 (last key "a"): multi` + "\nline",
		`toml: line 1 (last key "a")`,
		`other error`,
		``,
	} {
		line, key, rest, ok := Parse(msg)
		m := typeErrRE.FindStringSubmatch(msg)
		if ok != (m != nil) {
			t.Errorf("%q: ok %v, the expression says %v", msg, ok, m != nil)
			continue
		}
		if !ok {
			continue
		}
		if want := m[1]; strconv.Itoa(line) != want || key != m[2] || rest != m[3] {
			t.Errorf("%q: %d %q %q, want %s %q %q", msg, line, key, rest, m[1], m[2], m[3])
		}
	}
}
