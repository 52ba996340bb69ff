package rules

import (
	"strconv"
	"strings"
)

// The TOML decoder does not say on which line a key inside an array of
// tables was set ([[rule]] keys share one name in its metadata), so the
// lines for error messages come from this scan of the text. It runs only
// on text the decoder has accepted, so it can rely on the syntax being
// valid; it must still end and not panic on anything.

// layout is where the keys of a rules file are.
type layout struct {
	top   map[string]int // top-level keys and tables: line of the first mention
	rules []ruleLayout   // one per [[rule]] header, in order
}

type ruleLayout struct {
	line int            // of the [[rule]] header
	keys map[string]int // "mode", "attr", "attr.serial", …
}

// line returns the line of key (dotted for nested keys, like
// "attr.serial") in rule i, falling back to its parent key and then to
// the rule's header.
func (l *layout) line(i int, key string) int {
	if i >= len(l.rules) {
		return l.top["rule"]
	}
	r := l.rules[i]
	for k := key; k != ""; {
		if n, ok := r.keys[k]; ok {
			return n
		}
		dot := strings.LastIndexByte(k, '.')
		if dot < 0 {
			break
		}
		k = k[:dot]
	}
	return r.line
}

func setFirst(m map[string]int, k string, line int) {
	if _, ok := m[k]; !ok {
		m[k] = line
	}
}

// scanLayout finds the lines of the headers and keys in text.
func scanLayout(text string) *layout {
	l := &layout{top: map[string]int{}}
	s := &scanner{text: strings.TrimPrefix(text, "\ufeff"), line: 1}
	const top, other = -1, -2
	table := top // index of the rule the current table belongs to, or top, or other
	prefix := "" // key prefix of the current table inside a rule ("attr." for [rule.attr])
	for {
		s.skipBlank()
		if s.eof() {
			return l
		}
		line := s.line
		if s.peek() == '[' {
			array := strings.HasPrefix(s.text[s.pos:], "[[")
			s.pos++
			if array {
				s.pos++
			}
			path := s.keyPath()
			s.skipLine()
			table, prefix = other, ""
			switch {
			case array && len(path) == 1 && path[0] == "rule":
				l.rules = append(l.rules, ruleLayout{line: line, keys: map[string]int{}})
				table = len(l.rules) - 1
			case len(path) >= 2 && path[0] == "rule" && len(l.rules) > 0:
				table = len(l.rules) - 1
				for j := 2; j <= len(path); j++ {
					setFirst(l.rules[table].keys, strings.Join(path[1:j], "."), line)
				}
				prefix = strings.Join(path[1:], ".") + "."
			case len(path) > 0:
				setFirst(l.top, path[0], line)
			}
			continue
		}
		path := s.keyPath()
		if s.peek() == '=' {
			s.pos++
		}
		s.skipValue()
		switch {
		case len(path) == 0:
			// Not a key (impossible in valid TOML): skipValue moved on.
		case table >= 0:
			for j := 1; j <= len(path); j++ {
				setFirst(l.rules[table].keys, prefix+strings.Join(path[:j], "."), line)
			}
		case table == top:
			setFirst(l.top, path[0], line)
		}
	}
}

// scanner walks TOML text, counting lines.
type scanner struct {
	text string
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.text) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.text[s.pos]
}

// skipBlank skips whitespace, newlines and comments.
func (s *scanner) skipBlank() {
	for !s.eof() {
		switch s.peek() {
		case '\n':
			s.line++
			s.pos++
		case ' ', '\t', '\r':
			s.pos++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the end of the line, leaving the newline.
func (s *scanner) skipLine() {
	if i := strings.IndexByte(s.text[s.pos:], '\n'); i >= 0 {
		s.pos += i
	} else {
		s.pos = len(s.text)
	}
}

// keyPath reads a dotted key (bare or quoted parts) up to '=', ']' or
// the end of the line.
func (s *scanner) keyPath() []string {
	var path []string
	for {
		for s.peek() == ' ' || s.peek() == '\t' {
			s.pos++
		}
		if s.eof() {
			return path
		}
		switch c := s.peek(); c {
		case '"', '\'':
			start := s.pos
			s.skipString()
			path = append(path, unquoteKey(s.text[start:s.pos], c))
		default:
			start := s.pos
			for !s.eof() && !strings.ContainsRune(" \t.=]\n\r#", rune(s.peek())) {
				s.pos++
			}
			if s.pos == start {
				return path
			}
			path = append(path, s.text[start:s.pos])
		}
		for s.peek() == ' ' || s.peek() == '\t' {
			s.pos++
		}
		if s.peek() != '.' {
			return path
		}
		s.pos++
	}
}

// skipValue skips a value, which may span lines inside brackets, braces
// and multi-line strings, up to the newline that ends it.
func (s *scanner) skipValue() {
	depth := 0
	for !s.eof() {
		switch s.peek() {
		case '"', '\'':
			s.skipString()
		case '[', '{':
			depth++
			s.pos++
		case ']', '}':
			depth--
			s.pos++
		case '#':
			s.skipLine()
		case '\n':
			if depth <= 0 {
				return
			}
			s.line++
			s.pos++
		default:
			s.pos++
		}
	}
}

// skipString skips a basic, literal or multi-line string starting at pos.
func (s *scanner) skipString() {
	q := s.text[s.pos]
	delim := string(q)
	if strings.HasPrefix(s.text[s.pos:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	s.pos += len(delim)
	for !s.eof() {
		c := s.text[s.pos]
		switch {
		case c == '\\' && q == '"':
			s.pos++ // the escaped character is skipped below
			if s.eof() {
				return
			}
			if s.text[s.pos] == '\n' {
				s.line++
			}
		case c == '\n':
			s.line++
		case strings.HasPrefix(s.text[s.pos:], delim):
			s.pos += len(delim)
			// A multi-line string may end with up to two more quotes
			// that belong to its content.
			for n := 0; len(delim) == 3 && n < 2 && s.peek() == q; n++ {
				s.pos++
			}
			return
		}
		s.pos++
	}
}

// unquoteKey returns the name a quoted key stands for.
func unquoteKey(quoted string, q byte) string {
	if q == '"' {
		if u, err := strconv.Unquote(quoted); err == nil {
			return u
		}
	}
	if len(quoted) >= 2 && quoted[0] == q && quoted[len(quoted)-1] == q {
		return quoted[1 : len(quoted)-1]
	}
	return quoted
}
