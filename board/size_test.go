package board

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"0", 0, false}, {"4096", 4096, false}, {"512K", 512 << 10, false}, {"8M", 8 << 20, false},
		{"8MiB", 8 << 20, false}, {"1G", 1 << 30, false}, {"1.5M", 3 << 19, false}, {" 2 M ", 2 << 20, false},
		{"", 0, true}, {"M", 0, true}, {"-1", 0, true}, {"8MB", 0, true}, {"1e3", 0, true}, {"eight", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := Size(8 << 20).String(); s != "8M" {
		t.Errorf("String = %q", s)
	}
	if s := Size(1000).String(); s != "1000" {
		t.Errorf("String = %q", s)
	}
}

func TestMaxSizeKey(t *testing.T) {
	const head = "arch = \"arm64\"\nkernel = { package = \"k\" }\nqemu = { binary = \"q\" }\n"
	for _, tt := range []struct {
		body string
		want Size
		err  string
	}{
		{"max_size = \"16M\"\n", 16 << 20, ""},
		{"max_size = 1048576\n", 1 << 20, ""},
		{"max_size = \"16 megs\"\n", 0, "max_size"},
		{"max_size = -5\n", 0, "max_size"},
		{"max_size = true\n", 0, "max_size"},
	} {
		b, err := Parse("b.toml", "b", []byte(head+tt.body))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "b.toml") {
				t.Errorf("%q: err = %v, want one naming b.toml and %s", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || b.MaxSize != tt.want {
			t.Errorf("%q: %v, %v; want %d", tt.body, b, err, tt.want)
		}
	}
}
