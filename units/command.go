package units

import (
	"errors"
	"fmt"
	"strings"
)

// Command is one command line of an Exec key, split as systemd splits it.
type Command struct {
	// IgnoreFailure is set by the "-" prefix: a non-zero exit is not a failure.
	IgnoreFailure bool
	Argv          []string
}

func (c Command) String() string {
	var b strings.Builder
	if c.IgnoreFailure {
		b.WriteByte('-')
	}
	for i, a := range c.Argv {
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
// and single quotes group, backslash escapes, a leading "-" ignores failure.
func ParseCommand(line string) (Command, error) {
	var c Command
	s := strings.TrimSpace(line)
	for len(s) > 0 && strings.ContainsRune("-@+!:", rune(s[0])) {
		if s[0] == '-' {
			c.IgnoreFailure = true
		} else {
			return c, fmt.Errorf("command %q: prefix %q is not supported", line, s[0])
		}
		s = s[1:]
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
	c.Argv = argv
	return c, nil
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
			i++
			switch s[i] {
			case 'n':
				cur.WriteByte('\n')
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(s[i])
			}
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
