package units

import "testing"

func TestEscapePath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/", "-"},
		{"/mnt/data", "mnt-data"},
		{"/mnt//data/", "mnt-data"},
		{"/home/a b", `home-a\x20b`},
		{"/var/lib-x", `var-lib\x2dx`},
		{"/.hidden/x.y", `\x2ehidden-x.y`},
	}
	for _, tt := range tests {
		got := EscapePath(tt.path)
		if got != tt.want {
			t.Errorf("EscapePath(%q) = %q, want %q", tt.path, got, tt.want)
		}
		back, err := UnescapePath(got)
		if err != nil || back != "/"+trimSlashes(tt.path) {
			t.Errorf("UnescapePath(%q) = %q, %v", got, back, err)
		}
	}
	if n := UnitNameFromPath("/mnt/data", "mount"); n != "mnt-data.mount" {
		t.Errorf("UnitNameFromPath = %q", n)
	}
	for _, bad := range []string{`a\x`, `a\q00`, `a\xzz`} {
		if _, err := Unescape(bad); err == nil {
			t.Errorf("Unescape(%q) succeeded", bad)
		}
	}
}

func trimSlashes(p string) string {
	switch p {
	case "/":
		return ""
	case "/mnt//data/":
		return "mnt/data"
	}
	return p[1:]
}

func TestNameHelpers(t *testing.T) {
	tests := []struct {
		name, template string
		isTemplate     bool
	}{
		{"getty@ttyS0.service", "getty@.service", false},
		{"getty@.service", "", true},
		{"sshd.service", "", false},
	}
	for _, tt := range tests {
		if got := TemplateOf(tt.name); got != tt.template {
			t.Errorf("TemplateOf(%q) = %q, want %q", tt.name, got, tt.template)
		}
		if got := IsTemplate(tt.name); got != tt.isTemplate {
			t.Errorf("IsTemplate(%q) = %v", tt.name, got)
		}
	}
}
