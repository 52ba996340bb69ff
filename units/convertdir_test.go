package units

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvertDir(t *testing.T) {
	src := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.service", "[Unit]\nAfter=network.target\n[Service]\nExecStart=/bin/web\nEnvironment=A=1\n[Install]\nWantedBy=multi-user.target\n")
	write("web.service.d/10-env.conf", "[Service]\nEnvironment=B=2\n")
	write("web.service.d/20-reset.conf", "[Unit]\nAfter=\nAfter=local-fs.target\n[Service]\nFrobnicate=yes\n")
	write("getty@.service", "[Service]\nExecStart=/sbin/agetty %I\n")
	write("getty@.service.d/noclear.conf", "[Service]\nTTYPath=/dev/%I\n")
	write("multi-user.target", "[Unit]\nDescription=Multi-User\n")
	write("data.path", "[Path]\nPathExists=/x\n")
	if err := os.MkdirAll(filepath.Join(src, "multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"../web.service", "multi-user.target.wants/web.service"}, {"../getty@.service", "multi-user.target.wants/getty@tty1.service"}, {"web.service", "www.service"}} {
		if err := os.Symlink(l[0], filepath.Join(src, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ConvertDir(src)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Skipped, "\n"); !strings.Contains(got, "www.service: an alias of web.service") {
		t.Errorf("skipped: %q", got)
	}
	var lost []string
	for _, u := range c.Units {
		if u.Err != nil {
			t.Errorf("%s: %v", u.Name, u.Err)
		}
		for _, d := range u.Lost() {
			lost = append(lost, u.Name+": "+d.String())
		}
	}
	if want := "web.service: Service.Frobnicate (web.service.d/20-reset.conf line 5): not supported"; len(lost) != 1 || lost[0] != want {
		t.Errorf("lost %q, want [%q]", lost, want)
	}
	good, bad, err := LoadDir(out)
	if err != nil || len(bad) > 0 {
		t.Fatalf("load: %v %v", err, bad)
	}
	web := good["web.service"]
	if web == nil || strings.Join(web.Service.Environment, " ") != "A=1 B=2" || strings.Join(web.Unit.After, " ") != "local-fs.target" {
		t.Fatalf("web.service: %+v", web)
	}
	if !oneOf("web.service", good["multi-user.target"].Unit.Wants...) || !oneOf("getty@tty1.service", good["multi-user.target"].Unit.Wants...) {
		t.Errorf("multi-user.target wants %v", good["multi-user.target"].Unit.Wants)
	}
	if g := good["getty@tty1.service"]; g == nil || g.Service.TTYPath != "/dev/tty1" {
		t.Errorf("getty@tty1.service: %+v", g)
	}
}
