package execute

import (
	"fmt"
	"os"
	"strings"
)

// ReadEnvironmentFile reads a file in systemd's EnvironmentFile= syntax and
// returns its assignments as "KEY=VALUE" strings, in file order:
//
//   - one KEY=VALUE per line; blank lines and lines starting with # or ; are
//     skipped; an "export " prefix before the key is tolerated;
//   - whitespace around the key and around an unquoted value is dropped;
//   - 'single quotes' keep everything literally; in "double quotes" a
//     backslash escapes " \ ` $ and a newline, and is kept before anything else;
//   - outside quotes a backslash escapes the next character, and a backslash
//     at the end of a line continues the value on the next line.
//
// A line without "=", a key that is not a valid variable name or an
// unterminated quote is an error naming path:line.
func ReadEnvironmentFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("environment file: %w", err)
	}
	env, err := parseEnv(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return env, nil
}

// lineError is a parse error at a line, printed as "LINE: what".
type lineError struct {
	line int
	what string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.what) }

func parseEnv(s string) ([]string, error) {
	const (
		preKey = iota
		key
		preValue
		value
		valueEscape
		singleQuote
		doubleQuote
		doubleQuoteEscape
		comment
	)
	var (
		env       []string
		k, v      strings.Builder
		state     = preKey
		line      = 1 // current line
		start     = 1 // line the current assignment started on
		quoteLine = 1 // line the open quote is on
		keepTo    int // length of v up to its last escaped or quoted byte
	)
	push := func() error {
		name := strings.TrimSpace(k.String())
		if !validEnvName(name) {
			return &lineError{start, fmt.Sprintf("invalid variable name %q", name)}
		}
		// Trailing unquoted whitespace goes; escaped or quoted bytes stay.
		val := v.String()
		val = val[:keepTo] + strings.TrimRight(val[keepTo:], " \t\r")
		env = append(env, name+"="+val)
		k.Reset()
		v.Reset()
		keepTo = 0
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case c == '\n':
			case c == ' ' || c == '\t' || c == '\r':
			default:
				start = line
				state = key
				k.WriteByte(c)
			}
		case key:
			switch {
			case c == '=':
				state = preValue
			case c == '\n':
				return nil, &lineError{start, fmt.Sprintf("missing '=' after %q", strings.TrimSpace(k.String()))}
			case (c == ' ' || c == '\t') && k.String() == "export":
				k.Reset()
				state = preKey
			default:
				k.WriteByte(c)
			}
		case preValue, value:
			switch c {
			case '\n':
				if err := push(); err != nil {
					return nil, err
				}
				state = preKey
			case '\\':
				state = valueEscape
			case '\'':
				quoteLine, state = line, singleQuote
			case '"':
				quoteLine, state = line, doubleQuote
			case ' ', '\t', '\r':
				if state == value {
					v.WriteByte(c)
				}
			default:
				state = value
				v.WriteByte(c)
			}
		case valueEscape:
			state = value
			if c != '\n' { // an escaped newline continues the value
				v.WriteByte(c)
				keepTo = v.Len()
			}
		case singleQuote:
			if c == '\'' {
				state = value
				keepTo = v.Len()
			} else {
				v.WriteByte(c)
			}
		case doubleQuote:
			switch c {
			case '"':
				state = value
				keepTo = v.Len()
			case '\\':
				state = doubleQuoteEscape
			default:
				v.WriteByte(c)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			switch c {
			case '"', '\\', '`', '$':
				v.WriteByte(c)
			case '\n':
			default:
				v.WriteByte('\\')
				v.WriteByte(c)
			}
		case comment:
			if c == '\n' {
				state = preKey
			}
		}
		if c == '\n' {
			line++
		}
	}
	switch state {
	case key:
		return nil, &lineError{start, fmt.Sprintf("missing '=' after %q", strings.TrimSpace(k.String()))}
	case singleQuote, doubleQuote, doubleQuoteEscape:
		return nil, &lineError{quoteLine, "unterminated quote"}
	case preValue, value, valueEscape:
		if err := push(); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// validEnvName accepts the names a shell accepts: [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
