// Package tomlerr reads the line and key out of the type-mismatch errors
// of BurntSushi/toml, which carry them only in their text.
package tomlerr

import (
	"strconv"
	"strings"
)

// Parse splits msg, `toml: line N (last key "KEY"): MESSAGE`, into its
// parts; ok is false for any other text, or one spanning several lines.
func Parse(msg string) (line int, key, rest string, ok bool) {
	s, ok := strings.CutPrefix(msg, "toml: line ")
	if !ok {
		return 0, "", "", false
	}
	num, s, ok := strings.Cut(s, ` (last key "`)
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, "", "", false
	}
	key, rest, ok = strings.Cut(s, `"): `)
	if !ok || strings.Contains(key, `"`) || strings.Contains(rest, "\n") {
		return 0, "", "", false
	}
	line, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", "", false
	}
	return line, key, rest, true
}
