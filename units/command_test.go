package units

import (
	"reflect"
	"testing"
)

func TestCommandPrefixes(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"-/bin/a x", Command{IgnoreFailure: true, Argv: []string{"/bin/a", "x"}}},
		{"@/bin/busybox sh -c x", Command{Path: "/bin/busybox", Argv: []string{"sh", "-c", "x"}}},
		{"+/bin/a", Command{Privileged: true, Argv: []string{"/bin/a"}}},
		{"!/bin/a", Command{KeepUser: true, Argv: []string{"/bin/a"}}},
		{"!!/bin/a", Command{KeepUser: true, Argv: []string{"/bin/a"}}},
		{":/bin/a $X", Command{NoExpand: true, Argv: []string{"/bin/a", "$X"}}},
		{"-+/bin/a", Command{IgnoreFailure: true, Privileged: true, Argv: []string{"/bin/a"}}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.line)
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.line, got, tt.want)
		}
		if again, err := ParseCommand(got.String()); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: String() %q does not read back: %+v %v", tt.line, got.String(), again, err)
		}
	}
	for _, bad := range []string{"+!/bin/a", "@/bin/a", "|/bin/a"} {
		if _, err := ParseCommand(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCommandExpand(t *testing.T) {
	env := map[string]string{"OPTS": "-a  -b", "ONE": "x y", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	tests := []struct {
		line string
		want []string
	}{
		{"/bin/d $OPTS", []string{"/bin/d", "-a", "-b"}},
		{"/bin/d ${ONE}", []string{"/bin/d", "x y"}},
		{"/bin/d --o=${ONE}!", []string{"/bin/d", "--o=x y!"}},
		{"/bin/d $UNSET $EMPTY end", []string{"/bin/d", "end"}},
		{"/bin/d ${UNSET}", []string{"/bin/d", ""}},
		{"/bin/d $$OPTS cost$$", []string{"/bin/d", "$OPTS", "cost$"}},
		{"/bin/d a$OPTS", []string{"/bin/d", "a$OPTS"}},
		{":/bin/d $OPTS", []string{"/bin/d", "$OPTS"}},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Expand(lookup); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
		}
	}
}
