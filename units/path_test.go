package units

import (
	"strings"
	"testing"
)

func TestPathSection(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string
		wantUnit   string
	}{
		{"w.path", "[Path]\nPathExists = [\"/run/flag\"]\n", "", "w.service"},
		{"w@x.path", "[Path]\nPathChanged = [\"/etc/x\"]\n", "", "w@x.service"},
		{"w.path", "[Path]\nDirectoryNotEmpty = [\"/spool\"]\nUnit = \"drain.service\"\nMakeDirectory = true\nDirectoryMode = \"0700\"\n", "", "drain.service"},
		{"w.path", "[Path]\nMakeDirectory = true\n", "w.path.toml:1: Path.PathExists: missing", ""},
		{"w.path", "[Path]\nPathModified = [\"etc/x\"]\n", "w.path.toml:2: Path.PathModified: \"etc/x\" is not an absolute path", ""},
		{"w.path", "[Path]\nPathExistsGlob = [\"/a/[\"]\n", "Path.PathExistsGlob", ""},
		{"w.path", "[Path]\nPathExists = [\"/a\"]\nUnit = \"other.path\"\n", "is not a unit a path unit can start", ""},
		{"w.path", "[Path]\nPathExist = [\"/a\"]\n", "did you mean PathExists?", ""},
		{"w.path", "[Service]\nExecStart = \"/bin/true\"\n", "[Service] section in a path unit", ""},
	}
	for _, tt := range tests {
		u, err := Parse(tt.name+".toml", []byte(tt.body))
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s %q: err %v, want %q", tt.name, tt.body, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s %q: %v", tt.name, tt.body, err)
		case u.PathUnit.Unit != tt.wantUnit:
			t.Errorf("%s: Unit = %q, want %q", tt.name, u.PathUnit.Unit, tt.wantUnit)
		}
	}
}
