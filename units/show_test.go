package units

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProperties compares Properties with golden files written in
// systemctl show's format, as systemd.exec(5), systemd.service(5) and
// org.freedesktop.systemd1(5) document it; -update rewrites them.
func TestProperties(t *testing.T) {
	files, err := filepath.Glob("testdata/show/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		u, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, p := range u.Properties() {
			b.WriteString(p[0] + "=" + p[1] + "\n")
		}
		golden := strings.TrimSuffix(f, ".toml") + ".golden"
		if *updateDoc {
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s: properties differ from %s:\n%s", f, golden, b.String())
		}
	}
}

func TestTimespan(t *testing.T) {
	for _, tt := range []struct {
		d    Duration
		want string
	}{{0, "0"}, {Duration(100e6), "100ms"}, {Duration(90e9), "1min 30s"}, {Duration(1500e6), "1.500000s"}, {Duration(1500e3), "1.500ms"},
		{Duration(90500e6), "1min 30.500000s"}, {Duration(86400e9 + 1e9), "1d 1s"}} {
		if got := timespan(tt.d.D()); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.d.D(), got, tt.want)
		}
	}
}
