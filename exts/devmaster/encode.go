package devmaster

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// plainChar reports whether c may appear in a device name unescaped, as
// udev's whitelist: letters, digits and "#+-.:=@_".
func plainChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("#+-.:=@_", c) >= 0
}

// safeString makes s usable in a link name as udev does for ID_FS_LABEL
// and ID_SERIAL: white space trimmed, inner runs of it turned into one
// "_", other characters outside the whitelist and valid UTF-8 into "_".
func safeString(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			space = true
			continue
		case space:
			b.WriteByte('_')
			space = false
		}
		switch {
		case r == utf8.RuneError:
			b.WriteByte('_')
		case r >= utf8.RuneSelf:
			b.WriteRune(r)
		case plainChar(byte(r)):
			b.WriteByte(byte(r))
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// encodeString escapes s as udev's ID_FS_LABEL_ENC: every byte outside the
// whitelist and outside valid multi-byte UTF-8 becomes \xNN, so the value
// survives in a link name and decodes back exactly.
func encodeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case n > 1:
			b.WriteString(s[i : i+n])
		case r != utf8.RuneError && plainChar(s[i]):
			b.WriteByte(s[i])
		default:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		}
		i += n
	}
	return b.String()
}
