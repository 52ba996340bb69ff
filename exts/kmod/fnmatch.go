package kmod

// fnmatch reports whether s matches the shell pattern as fnmatch(3) with no
// flags matches it, which is how kmod matches module aliases: '*' matches
// any run of bytes ('/' included), '?' any one byte, "[...]" one byte of a
// class ("[!...]" and "[^...]" negate it, "a-z" is a range, a ']' first is a
// member), and '\' quotes the next byte. A '[' without its ']' is literal.
func fnmatch(pattern, s string) bool {
	px, sx := 0, 0
	// Where to resume after the last '*' when the rest fails to match:
	// the star then swallows one more byte.
	starPx, starSx := -1, 0
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			if pattern[px] == '*' {
				starPx, starSx = px, sx
				px++
				continue
			}
			if sx < len(s) {
				if ok, width := matchOne(pattern[px:], s[sx]); ok {
					px += width
					sx++
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			starSx++
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// matchOne matches the pattern element at the start of p, which is not
// '*', against c. width is the length of the element in p.
func matchOne(p string, c byte) (ok bool, width int) {
	switch p[0] {
	case '?':
		return true, 1
	case '\\':
		if len(p) > 1 {
			return p[1] == c, 2
		}
		return c == '\\', 1
	case '[':
		if ok, width, valid := matchClass(p, c); valid {
			return ok, width
		}
		return c == '[', 1
	}
	return p[0] == c, 1
}

// matchClass matches the class at the start of p against c; valid is false
// when the class has no closing ']'.
func matchClass(p string, c byte) (ok bool, width int, valid bool) {
	i := 1
	negate := i < len(p) && (p[i] == '!' || p[i] == '^')
	if negate {
		i++
	}
	matched := false
	for first := true; i < len(p); first = false {
		lo := p[i]
		if lo == ']' && !first {
			return matched != negate, i + 1, true
		}
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			i += 2
			if hi == '\\' && i < len(p) {
				hi = p[i]
				i++
			}
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return false, 0, false
}

// literalPrefix returns the bytes every match of pattern starts with, so
// that most patterns are ruled out without running the matcher.
func literalPrefix(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?', '[', '\\':
			return pattern[:i]
		}
	}
	return pattern
}
