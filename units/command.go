package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Command is one command line of an Exec key, split as systemd splits it.
type Command struct {
	// IgnoreFailure is set by the "-" prefix: a non-zero exit is not a failure.
	IgnoreFailure bool
	// Path is the file executed when it differs from Argv[0] ("@" prefix:
	// the second word becomes argv[0]); "" executes Argv[0].
	Path string
	// Privileged ("+") runs the command as the manager: no User=, Group=
	// or sandboxing.
	Privileged bool
	// KeepUser ("!") runs the command without User= and Group=, but
	// sandboxed.
	KeepUser bool
	// NoExpand (":") leaves $VAR in the arguments as written.
	NoExpand bool
	Argv     []string
}

func (c Command) String() string {
	var b strings.Builder
	for _, p := range []struct {
		on bool
		ch byte
	}{{c.IgnoreFailure, '-'}, {c.Path != "", '@'}, {c.Privileged, '+'}, {c.KeepUser, '!'}, {c.NoExpand, ':'}} {
		if p.on {
			b.WriteByte(p.ch)
		}
	}
	argv := c.Argv
	if c.Path != "" {
		argv = append([]string{c.Path}, argv...)
	}
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\"'\\") {
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`)
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// Commands is the value of an Exec key: a string or an array of strings,
// each one command line.
type Commands []Command

// UnmarshalTOML accepts a string or an array of strings.
func (cs *Commands) UnmarshalTOML(v any) error {
	var lines []string
	switch v := v.(type) {
	case string:
		lines = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a string or an array of strings, got an array holding %T", e)
			}
			lines = append(lines, s)
		}
	default:
		return fmt.Errorf("want a string or an array of strings, got %T", v)
	}
	out := make(Commands, 0, len(lines))
	for _, l := range lines {
		c, err := ParseCommand(l)
		if err != nil {
			return err
		}
		out = append(out, c)
	}
	*cs = out
	return nil
}

// ParseCommand splits one command line: words separated by blanks, double
// and single quotes group, backslash escapes; the prefixes "-", "@", "+",
// "!" and ":" are systemd's (see Command). "!!" is read as "!".
func ParseCommand(line string) (Command, error) {
	var c Command
	s := strings.TrimSpace(line)
	at := false
	for len(s) > 0 && strings.ContainsRune("-@+!:|", rune(s[0])) {
		switch s[0] {
		case '-':
			c.IgnoreFailure = true
		case '@':
			at = true
		case '+':
			c.Privileged = true
		case '!':
			c.KeepUser = true
		case ':':
			c.NoExpand = true
		default:
			return c, fmt.Errorf("command %q: prefix %q is not supported", line, s[0])
		}
		s = s[1:]
	}
	if c.Privileged && c.KeepUser {
		return c, fmt.Errorf("command %q: prefixes '+' and '!' exclude each other", line)
	}
	argv, err := SplitWords(s)
	if err != nil {
		return c, fmt.Errorf("command %q: %w", line, err)
	}
	if len(argv) == 0 {
		return c, fmt.Errorf("command %q: empty", line)
	}
	if !strings.HasPrefix(argv[0], "/") {
		return c, fmt.Errorf("command %q: executable %q is not an absolute path", line, argv[0])
	}
	if at {
		if len(argv) < 2 {
			return c, fmt.Errorf("command %q: '@' needs the executable and then argv[0]", line)
		}
		c.Path, argv = argv[0], argv[1:]
	}
	c.Argv = argv
	return c, nil
}

// Expand substitutes environment variables in the arguments as systemd
// does: "${NAME}" is replaced within its word, a word that is exactly
// "$NAME" becomes the value's blank-separated words (none when unset or
// empty), and "$$" is a literal "$". The executable path is never
// expanded. lookup returns a variable's value and whether it is set.
func (c Command) Expand(lookup func(string) (string, bool)) []string {
	if c.NoExpand {
		return c.Argv
	}
	out := []string{c.Argv[0]}
	for _, a := range c.Argv[1:] {
		if name, ok := wholeVar(a); ok {
			v, _ := lookup(name)
			out = append(out, strings.Fields(v)...)
			continue
		}
		out = append(out, expandWord(a, lookup))
	}
	return out
}

// wholeVar reports whether w is exactly "$NAME".
func wholeVar(w string) (string, bool) {
	if len(w) < 2 || w[0] != '$' || !validVarName(w[1:]) {
		return "", false
	}
	return w[1:], true
}

func validVarName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func expandWord(w string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '$' || i+1 >= len(w) {
			b.WriteByte(w[i])
			continue
		}
		switch {
		case w[i+1] == '$':
			b.WriteByte('$')
			i++
		case w[i+1] == '{':
			end := strings.IndexByte(w[i:], '}')
			if end < 0 || !validVarName(w[i+2:i+end]) {
				b.WriteByte('$')
				continue
			}
			v, _ := lookup(w[i+2 : i+end])
			b.WriteString(v)
			i += end
		default:
			// "$NAME" inside a longer word: systemd leaves it as written.
			b.WriteByte('$')
		}
	}
	return b.String()
}

// SplitWords splits s into words the way systemd splits Exec lines.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			n, err := unescape(&cur, s[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			in = true
		case quote != 0:
			cur.WriteByte(ch)
		case ch == '"' || ch == '\'':
			quote = ch
			in = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// simpleEscapes are the one-letter escapes of systemd's cunescape.
var simpleEscapes = map[byte]byte{
	'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', 's': ' ',
}

// unescape writes the character that the escape at the start of rest (the
// text after a backslash) stands for, as systemd's cunescape reads it:
// \xNN, \NNN (octal), \uXXXX, \UXXXXXXXX and the one-letter escapes;
// any other character stands for itself. It returns how many bytes of rest
// it used.
func unescape(b *strings.Builder, rest string) (int, error) {
	c := rest[0]
	if r, ok := simpleEscapes[c]; ok {
		b.WriteByte(r)
		return 1, nil
	}
	digits, base := 0, 0
	switch {
	case c == 'x':
		digits, base = 2, 16
	case c == 'u':
		digits, base = 4, 16
	case c == 'U':
		digits, base = 8, 16
	case c >= '0' && c <= '7':
		digits, base = 3, 8
	default:
		b.WriteByte(c)
		return 1, nil
	}
	start := 1
	if base == 8 {
		start = 0
	}
	if len(rest) < start+digits {
		return 0, fmt.Errorf("escape \\%s: want %d digits", rest, digits)
	}
	v, err := strconv.ParseUint(rest[start:start+digits], base, 32)
	if err != nil {
		return 0, fmt.Errorf("escape \\%s: %w", rest[:start+digits], err)
	}
	switch {
	case v == 0:
		return 0, fmt.Errorf("escape \\%s: a NUL byte cannot be passed", rest[:start+digits])
	case c == 'u' || c == 'U':
		if v > unicode.MaxRune || (v >= 0xd800 && v <= 0xdfff) {
			return 0, fmt.Errorf("escape \\%s: not a Unicode character", rest[:start+digits])
		}
		b.WriteRune(rune(v))
	case v > 0xff:
		return 0, fmt.Errorf("escape \\%s: beyond a byte", rest[:start+digits])
	default:
		b.WriteByte(byte(v))
	}
	return start + digits, nil
}
