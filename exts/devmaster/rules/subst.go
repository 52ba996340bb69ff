package rules

import (
	"fmt"
	"strings"
)

// source is what a substitution reads.
type source uint8

const (
	srcText source = iota // literal text
	srcKernel
	srcNumber
	srcDevPath
	srcDevNode
	srcDriver
	srcEnv
	srcAttr
)

// part is one piece of a template: literal text, or a substitution with
// its argument (the key of $env{KEY} and $attr{NAME}).
type part struct {
	src source
	arg string
}

// template is a value with substitutions, parsed once when the rules load.
type template []part

// parseTemplate splits s into literal text and substitutions; an unknown
// or unterminated substitution is an error.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, part{src: srcText, arg: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' && c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == c {
			lit.WriteByte(c) // "$$" or "%%"
			i++
			continue
		}
		src, n, ok := substName(s[i:])
		if !ok {
			return nil, fmt.Errorf("unknown substitution at %q (write %c%c for a literal %c)", clip(s[i:]), c, c, c)
		}
		next := i + n // just past the substitution
		var arg string
		if src == srcEnv || src == srcAttr {
			end := strings.IndexByte(s[next:], '}')
			if next >= len(s) || s[next] != '{' || end < 0 {
				return nil, fmt.Errorf("%q needs a name in braces, like %s{NAME}", clip(s[i:]), s[i:next])
			}
			arg = s[next+1 : next+end]
			if err := checkSubstArg(src, arg); err != nil {
				return nil, err
			}
			next += end + 1
		}
		flush()
		t = append(t, part{src: src, arg: arg})
		i = next - 1 // the loop's i++ moves to next
	}
	flush()
	return t, nil
}

// substName recognizes the substitution at the start of s ("$kernel",
// "%k", …) and returns its length.
func substName(s string) (source, int, bool) {
	if s[0] == '%' {
		if len(s) < 2 {
			return 0, 0, false
		}
		switch s[1] {
		case 'k':
			return srcKernel, 2, true
		case 'n':
			return srcNumber, 2, true
		case 'p':
			return srcDevPath, 2, true
		case 'N':
			return srcDevNode, 2, true
		case 'E':
			return srcEnv, 2, true
		case 's':
			return srcAttr, 2, true
		}
		return 0, 0, false
	}
	for _, n := range [...]struct {
		name string
		src  source
	}{
		{"kernel", srcKernel}, {"number", srcNumber}, {"devpath", srcDevPath},
		{"devnode", srcDevNode}, {"driver", srcDriver}, {"env", srcEnv}, {"attr", srcAttr},
	} {
		if strings.HasPrefix(s[1:], n.name) {
			return n.src, 1 + len(n.name), true
		}
	}
	return 0, 0, false
}

func checkSubstArg(src source, arg string) error {
	switch {
	case arg == "":
		return fmt.Errorf("empty name in braces")
	case src == srcEnv && !validEnvName(arg):
		return fmt.Errorf("property name %q: want letters, digits and '_'", arg)
	case src == srcAttr && !validAttrName(arg):
		return fmt.Errorf("attribute name %q: want a path below the device, without '..'", arg)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// expand substitutes values from c into t. Each substituted value goes
// through esc, which may escape it for the place it lands in (a link
// name, a unit name); literal text is kept as written.
func (t template) expand(c *context, esc func(source, string) string) string {
	var b strings.Builder
	for _, p := range t {
		if p.src == srcText {
			b.WriteString(p.arg)
			continue
		}
		v := c.value(p.src, p.arg)
		if esc != nil {
			v = esc(p.src, v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// shape is t with every substitution replaced by "x": what a value looks
// like when all of them are set, for checks when the rules load.
func (t template) shape() string {
	var b strings.Builder
	for _, p := range t {
		if p.src == srcText {
			b.WriteString(p.arg)
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

// literalPrefix is the literal text t starts with.
func (t template) literalPrefix() string {
	if len(t) > 0 && t[0].src == srcText {
		return t[0].arg
	}
	return ""
}
