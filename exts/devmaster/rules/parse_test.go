package rules

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the whole error text; errors of one file are joined by newlines
	}{
		{"unknown key suggests",
			"[[rule]]\nkernel = \"vda\"\nsymlnk = [\"x\"]\n",
			`f.toml:3: symlnk: unknown key (did you mean symlink?)`},
		{"unknown key without suggestion",
			"[[rule]]\nfrobnicate = 1\n",
			`f.toml:2: frobnicate: unknown key`},
		{"set-env suggests set_env",
			"[[rule]]\nset-env = { A = \"1\" }\n",
			`f.toml:2: set-env: unknown key (did you mean set_env?)`},
		{"line of a key in a later rule",
			"# comment\n[[rule]]\nmode = \"0600\"\n\n[[rule]]\nkernel = \"a\"\nmode = \"999\"\n",
			`f.toml:7: mode: "999" is not an octal mode up to 07777`},
		{"mode too big",
			"[[rule]]\nmode = \"10000\"\n",
			`f.toml:2: mode: "10000" is not an octal mode up to 07777`},
		{"mode empty",
			"[[rule]]\nmode = \"\"\n",
			`f.toml:2: mode: "" is not an octal mode up to 07777`},
		{"mode integer",
			"[[rule]]\nmode = 0o660\n",
			`f.toml:2: mode: must be an octal string like "0660", not an integer`},
		{"unknown action",
			"[[rule]]\naction = \"add|plug\"\n",
			`f.toml:2: action: unknown action "plug" (want add, remove, change, move, bind, unbind, online or offline)`},
		{"action glob",
			"[[rule]]\naction = \"a*\"\n",
			`f.toml:2: action: unknown action "a*" (want add, remove, change, move, bind, unbind, online or offline)`},
		{"bad glob",
			"[[rule]]\nkernel = \"vd[a\"\n",
			`f.toml:2: kernel: "vd[a": malformed glob`},
		{"bad glob in attr, dotted key line",
			"[[rule]]\nsubsystem = \"block\"\nattr.serial = \"[\"\n",
			`f.toml:3: attr.serial: "[": malformed glob`},
		{"bad env name",
			"[[rule]]\nenv = { \"A-B\" = \"x\" }\n",
			`f.toml:2: env.A-B: "A-B" is not a property name: letters, digits and '_'`},
		{"attr outside the device",
			"[[rule]]\nattr = { \"../uevent\" = \"x\" }\n",
			`f.toml:2: attr.../uevent: "../uevent" is not an attribute name: a path below the device, without '..'`},
		{"match type",
			"[[rule]]\nkernel = 3\n",
			`f.toml:2: kernel: must be a string, not an integer`},
		{"attr not a table",
			"[[rule]]\nattr = \"serial\"\n",
			`f.toml:2: attr: must be a table like { NAME = "pattern" }, not a string`},
		{"empty run",
			"[[rule]]\nrun = []\n",
			`f.toml:2: run: empty: give the program and its arguments, like ["/bin/logger", "$kernel"]`},
		{"relative program",
			"[[rule]]\nrun = [\"logger\", \"x\"]\n",
			`f.toml:2: run: program "logger" must be an absolute path`},
		{"run not an array",
			"[[rule]]\nrun = \"/bin/true\"\n",
			`f.toml:2: run: must be an array of strings like ["…"], not a string`},
		{"run element type",
			"[[rule]]\nrun = [\"/bin/x\", 1]\n",
			`f.toml:2: run: element 2 must be a string, not an integer`},
		{"bad substitution in run",
			"[[rule]]\nrun = [\n  \"/bin/date\",\n  \"+%s\",\n]\n",
			`f.toml:2: run: "+%s": "%s" needs a name in braces, like %s{NAME}`},
		{"bad unit name",
			"[[rule]]\nstart = [\"storage@$kernel\"]\n",
			`f.toml:2: start: "storage@$kernel": unit name "storage@x": want NAME.KIND with KIND one of service, target, socket, mount, timer`},
		{"device unit",
			"[[rule]]\nstart = [\"dev-vda.device\"]\n",
			`f.toml:2: start: "dev-vda.device": unit name "dev-vda.device": kind "device" is not one of service, target, socket, mount, timer`},
		{"absolute symlink",
			"[[rule]]\nsymlink = [\"/dev/foo\"]\n",
			`f.toml:2: symlink: "/dev/foo": links are relative to /dev: drop the leading /`},
		{"symlink with ..",
			"[[rule]]\nsymlink = [\"../etc/x\"]\n",
			`f.toml:2: symlink: "../etc/x": empty, '.' or '..' path component`},
		{"symlink with space",
			"[[rule]]\nsymlink = [\"my disk\"]\n",
			`f.toml:2: symlink: "my disk": character ' ' not allowed in a link name (use letters, digits and #+-.:=@_)`},
		{"bad owner",
			"[[rule]]\nowner = \"a b\"\n",
			`f.toml:2: owner: "a b" is neither a user/group name nor a number`},
		{"group number type",
			"[[rule]]\ngroup = 6\n",
			`f.toml:2: group: must be a string, not an integer`},
		{"last type",
			"[[rule]]\nlast = \"yes\"\n",
			`f.toml:2: last: must be true or false, not a string`},
		{"set_env value type",
			"[[rule]]\nset_env = { A = 1 }\n",
			`f.toml:2: set_env.A: must be a string, not an integer`},
		{"set_env in a sub-table",
			"[[rule]]\nkernel = \"x\"\n\n[rule.set_env]\nA = \"ok\"\nB = \"$nope\"\n",
			`f.toml:6: set_env.B: "$nope": unknown substitution at "$nope" (write $$ for a literal $)`},
		{"top-level key",
			"rules = 1\n",
			`f.toml:1: rules: unknown key (did you mean rule?); a rules file holds [[rule]] tables`},
		{"single [rule] table",
			"[rule]\nkernel = \"x\"\n",
			`f.toml:1: rule: must be an array of tables: write each rule as [[rule]]`},
		{"toml syntax",
			"[[rule]]\nkernel = \"x\"\nmode = \n",
			`f.toml:3: expected value but found '\n' instead`},
		{"duplicate key",
			"[[rule]]\nkernel = \"x\"\nkernel = \"y\"\n",
			`f.toml:3: Key 'rule.kernel' has already been defined.`},
		{"all errors, in file order",
			"[[rule]]\nmode = \"8\"\nkernel = \"[\"\n[[rule]]\nlast = 1\n",
			"f.toml:2: mode: \"8\" is not an octal mode up to 07777\n" +
				"f.toml:3: kernel: \"[\": malformed glob\n" +
				"f.toml:5: last: must be true or false, not an integer"},
		{"lines past multi-line strings and comments",
			"[[rule]]\n# [[rule]]\n# mode = \"x\"\nrun = [\"/bin/echo\", '''\n[[rule]]\nmode = \"1\"\n''', \"\"\"\nx\"\"\"\"]\nmode = \"9\"\n",
			`f.toml:9: mode: "9" is not an octal mode up to 07777`},
		{"quoted key",
			"[[rule]]\n\"kernel\" = \"[\"\n",
			`f.toml:2: kernel: "[": malformed glob`},
		{"CRLF lines",
			"[[rule]]\r\nkernel = \"a\"\r\nmode = \"x\"\r\n",
			`f.toml:3: mode: "x" is not an octal mode up to 07777`},
		{"inline array of tables",
			"rule = [\n  { kernel = \"a\" },\n  { mode = \"x\" },\n]\n",
			`f.toml:1: mode: "x" is not an octal mode up to 07777`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := Parse("f.toml", []byte(tt.text))
			if err == nil {
				t.Fatalf("Parse = %d rules, nil error; want %s", len(rules), tt.want)
			}
			if rules != nil {
				t.Errorf("Parse returned %d rules with an error", len(rules))
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error:\n%s\nwant:\n%s", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "f.toml" {
				t.Errorf("error %v is not an *Error for f.toml", err)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	text := "# rules\n\n[[rule]]\nkernel = \"a\"\n\n[[rule]]  # second\nkernel = \"b\"\n[rule.attr]\nx = \"1\"\n\n[[ rule ]]\n"
	rules, err := Parse("f.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, r := range rules {
		if r.File != "f.toml" {
			t.Errorf("File = %q", r.File)
		}
		lines = append(lines, r.Line)
	}
	if want := []int{3, 6, 11}; !slices.Equal(lines, want) {
		t.Errorf("rule lines = %v, want %v", lines, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "\ufeff"} {
		rules, err := Parse("e.toml", []byte(text))
		if err != nil || len(rules) != 0 {
			t.Errorf("Parse(%q) = %d rules, %v", text, len(rules), err)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		s    string
		want fs.FileMode
	}{
		{"0660", 0o660},
		{"644", 0o644},
		{"0", 0},
		{"4755", fs.ModeSetuid | 0o755},
		{"2775", fs.ModeSetgid | 0o775},
		{"1777", fs.ModeSticky | 0o777},
		{"07777", fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777},
	}
	for _, tt := range tests {
		rules, err := Parse("m.toml", []byte("[[rule]]\nmode = \""+tt.s+"\"\n"))
		if err != nil {
			t.Fatalf("mode %q: %v", tt.s, err)
		}
		res := NewSet(rules...).Apply(&Device{})
		if !res.ModeSet || res.Mode != tt.want {
			t.Errorf("mode %q = %v (set %v), want %v", tt.s, res.Mode, res.ModeSet, tt.want)
		}
	}
}

// TestExampleFile keeps the commented example in testdata valid.
func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Parse("testdata/example.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 5 {
		t.Fatalf("got %d rules", len(rules))
	}
	res := NewSet(rules...).Apply(&Device{
		Action: "add", Subsystem: "block", Kernel: "vdb1", DevNode: "/dev/vdb1",
		Env: map[string]string{"ID_FS_TYPE": "ext4", "ID_FS_LABEL": "data one"},
	})
	if want := []string{`data/data\x20one`}; !slices.Equal(res.Symlinks, want) {
		t.Errorf("Symlinks = %q, want %q", res.Symlinks, want)
	}
	if want := []string{"fsck-data@vdb1.service"}; !slices.Equal(res.Units, want) {
		t.Errorf("Units = %q, want %q", res.Units, want)
	}
	if len(res.Run) != 1 || !strings.HasSuffix(res.Run[0][3], "at /dev/vdb1: 100% ready") {
		t.Errorf("Run = %q", res.Run)
	}
}
