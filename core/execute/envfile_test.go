package execute

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadEnvironmentFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  string // substring of the error, after the path
	}{
		{name: "empty", in: "", want: nil},
		{name: "plain", in: "A=1\nB=two words\n", want: []string{"A=1", "B=two words"}},
		{name: "no final newline", in: "A=1", want: []string{"A=1"}},
		{name: "comments and blanks", in: "# c\n; c\n\n  \nA=1\n   # indented\n", want: []string{"A=1"}},
		{name: "whitespace trimmed", in: "  A  =   x y  \t\n", want: []string{"A=x y"}},
		{name: "empty value", in: "A=\nB=   \n", want: []string{"A=", "B="}},
		{name: "export", in: "export A=1\nexport  B=2\n", want: []string{"A=1", "B=2"}},
		{name: "exported name", in: "exported=1\n", want: []string{"exported=1"}},
		{name: "single quotes", in: `A='x \n "y" $z  '` + "\n", want: []string{`A=x \n "y" $z  `}},
		{name: "double quotes", in: `A="a \"b\" \\ \$c \x"` + "\n", want: []string{`A=a "b" \ $c \x`}},
		{name: "quoted multiline", in: "A=\"one\ntwo\"\nB=3\n", want: []string{"A=one\ntwo", "B=3"}},
		{name: "double quote continuation", in: "A=\"one \\\ntwo\"\n", want: []string{"A=one two"}},
		{name: "continuation", in: "A=one \\\n  two\nB=2\n", want: []string{"A=one   two", "B=2"}},
		{name: "escape", in: `A=a\ b\\c\ ` + "\n", want: []string{`A=a b\c `}},
		{name: "mixed quotes", in: `A=x"y z"'w'` + "\n", want: []string{"A=xy zw"}},
		{name: "value with equals", in: "A=b=c\n", want: []string{"A=b=c"}},
		{name: "crlf", in: "A=1\r\nB=2\r\n", want: []string{"A=1", "B=2"}},
		{name: "missing equals", in: "A=1\nB=2\nbogus\n", err: ":3: missing '='"},
		{name: "missing equals at end", in: "A=1\n\nbogus", err: ":3: missing '='"},
		{name: "bad name", in: "A=1\n1A=2\n", err: `:2: invalid variable name "1A"`},
		{name: "space in name", in: "A B=2\n", err: `:1: invalid variable name "A B"`},
		{name: "unterminated", in: "A=1\nB=\"open\nC=3\n", err: ":2: unterminated quote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "env")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadEnvironmentFile(path)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), path+tc.err) {
					t.Fatalf("err = %v, want prefix %q", err, path+tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ReadEnvironmentFile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
