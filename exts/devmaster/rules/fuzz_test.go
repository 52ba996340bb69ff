package rules

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: no rules file may panic Parse or Apply; errors point into
// the file; no link leaves /dev whatever the device says. The seeds are
// the rules of the shipped files one at a time: small inputs keep the
// fuzzer fast.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/example.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range []string{string(Default()), string(example)} {
		for _, rule := range strings.Split(file, "[[rule]]")[1:] {
			f.Add("[[rule]]" + rule)
		}
	}
	for _, s := range []string{
		"[[rule]]\nsymlink = [\"x/$env{A}\", \"$devpath\"]\nset_env = { A = \"$attr{a}\" }\n",
		"[[rule]]\nrun = [\"/bin/x\", '''\n[[rule]]''', \"\"\"\nmode = 1\"\"\"]\n[rule.attr]\n\"a.b\" = \"!x|y*\"\n",
		"rule = [{ kernel = \"a\" }, { mode = \"7\" }]\n",
		"[[rule]]\nattr.serial = \"?*\"\nstart = [\"a@$kernel.service\"]\nlast = true\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		scanLayout(text) // must end on any text, valid TOML or not
		rules, err := Parse("f.toml", []byte(text))
		if err != nil {
			lines := strings.Count(text, "\n") + 1
			for _, e := range unjoin(err) {
				var re *Error
				if !errors.As(e, &re) {
					t.Fatalf("error %v is not an *Error", e)
				}
				if re.Line < 0 || re.Line > lines {
					t.Fatalf("error line %d outside the file's %d lines: %v", re.Line, lines, re)
				}
			}
			return
		}
		env := map[string]string{"A": "../..", "ID_FS_LABEL": "/etc"}
		d := &Device{
			Action: "add", DevPath: "/devices/../../x", Kernel: "..", DevNode: "/dev/../etc", Env: env,
			Attr: func(string) (string, bool) { return "../../../etc/passwd", true },
		}
		res := NewSet(rules...).Apply(d)
		for _, l := range res.Symlinks {
			if l == "" || l == "." || l == ".." || strings.HasPrefix(l, "/") || strings.HasPrefix(l, "../") {
				t.Fatalf("link %q escapes /dev", l)
			}
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
