package rules

import (
	"errors"
	"unicode/utf8"
)

// Globs use path.Match's syntax — '*', '?', '[a-z]', '[^a-z]', '\c' —
// with two differences that udev users rely on: '*' and '?' also match
// '/' (devpath = "/devices/*" matches every device, as fnmatch(3) without
// FNM_PATHNAME does in udev), and '[!a-z]' negates like '[^a-z]' (udev's
// rules write "vd*[!0-9]").

var errBadGlob = errors.New("malformed glob")

// checkGlob reports whether pattern is well formed.
func checkGlob(pattern string) error {
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '\\':
			if i+1 >= len(pattern) {
				return errBadGlob
			}
			_, w := utf8.DecodeRuneInString(pattern[i+1:])
			i += 1 + w
		case '[':
			n, ok := classLen(pattern[i:])
			if !ok {
				return errBadGlob
			}
			i += n
		default:
			i++
		}
	}
	return nil
}

// glob reports whether name matches the whole of pattern, which
// checkGlob accepted; a malformed pattern matches nothing.
func glob(pattern, name string) bool {
	// Backtracking over the last '*' only is enough: a later '*' can
	// absorb whatever an earlier one would have.
	px, nx := 0, 0
	starPx, starNx := -1, 0
	for px < len(pattern) || nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starNx = px, nx
				px++
				continue
			case '?':
				if nx < len(name) {
					_, w := utf8.DecodeRuneInString(name[nx:])
					px, nx = px+1, nx+w
					continue
				}
			case '[':
				if nx < len(name) {
					r, w := utf8.DecodeRuneInString(name[nx:])
					n, ok := classLen(pattern[px:])
					if !ok {
						return false
					}
					if matchClass(pattern[px:px+n], r) {
						px, nx = px+n, nx+w
						continue
					}
				}
			case '\\':
				if px+1 >= len(pattern) {
					return false
				}
				_, w := utf8.DecodeRuneInString(pattern[px+1:])
				lit := pattern[px+1 : px+1+w]
				if len(name)-nx >= len(lit) && name[nx:nx+len(lit)] == lit {
					px, nx = px+1+w, nx+len(lit)
					continue
				}
			default:
				if nx < len(name) && name[nx] == c {
					px, nx = px+1, nx+1
					continue
				}
			}
		}
		// Mismatch: let the last '*' absorb one more character.
		if starPx < 0 || starNx >= len(name) {
			return false
		}
		_, w := utf8.DecodeRuneInString(name[starNx:])
		starNx += w
		px, nx = starPx+1, starNx
	}
	return true
}

// classLen returns the length of the character class at the start of p
// ("[…]"), and whether it is well formed: not empty, closed, with ']'
// and '-' escaped inside. As in path.Match, a range like "z-a" is
// allowed and matches nothing.
func classLen(p string) (int, bool) {
	i := 1
	if i < len(p) && (p[i] == '^' || p[i] == '!') {
		i++
	}
	for n := 0; ; n++ {
		if i >= len(p) {
			return 0, false
		}
		if p[i] == ']' {
			if n == 0 {
				return 0, false
			}
			return i + 1, true
		}
		_, w, ok := classChar(p[i:])
		if !ok {
			return 0, false
		}
		i += w
		if i < len(p) && p[i] == '-' {
			_, w, ok := classChar(p[i+1:])
			if !ok {
				return 0, false
			}
			i += 1 + w
		}
	}
}

// classChar decodes one possibly escaped character of a class.
func classChar(p string) (r rune, width int, ok bool) {
	if p == "" || p[0] == '-' || p[0] == ']' {
		return 0, 0, false
	}
	esc := 0
	if p[0] == '\\' {
		esc = 1
	}
	r, w := utf8.DecodeRuneInString(p[esc:])
	if r == utf8.RuneError && w <= 1 {
		return 0, 0, false // end of pattern, or not UTF-8
	}
	return r, esc + w, true
}

// matchClass reports whether r is in the well-formed class p.
func matchClass(p string, r rune) bool {
	p = p[1 : len(p)-1]
	negate := false
	if p != "" && (p[0] == '^' || p[0] == '!') {
		negate, p = true, p[1:]
	}
	in := false
	for p != "" {
		lo, w, _ := classChar(p)
		p = p[w:]
		hi := lo
		if p != "" && p[0] == '-' {
			hi, w, _ = classChar(p[1:])
			p = p[1+w:]
		}
		if lo <= r && r <= hi {
			in = true
		}
	}
	return in != negate
}
