package rules

import (
	"fmt"
	"strings"
)

// Error is a problem in a rules file, located at the key that has it.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Key  string // "mode", "attr.serial", …; "" for the whole file or rule
	Msg  string
}

// Error reads "FILE:LINE: KEY: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}
