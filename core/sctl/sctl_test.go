package sctl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no command", []string{"sctl"}, 2, "usage:"},
		{"unknown command", []string{"sctl", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unit needed", []string{"sctl", "start"}, 2, "no unit given"},
		{"flags after the command", []string{"sctl", "status", "x", "--socket", missing}, 1, "cannot reach the manager at " + missing},
		{"environment socket", []string{"sctl", "list-units"}, 1, "cannot reach the manager at " + missing},
	}
	t.Setenv("SYSMASTER_SOCKET", missing)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.err) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.err)
			}
		})
	}
}

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "web.service")
	if err := os.WriteFile(f, []byte("[Unit]\nDescription=Web\nAfter=network.target\n\n[Service]\nExecStart=/usr/bin/httpd -f\nRestart=on-failure\nPrivateTmp=yes\nIPAccounting=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"sctl", "convert", f}, &out, &errb); code != 0 {
		t.Fatalf("convert: %d %s", code, errb.String())
	}
	for _, w := range []string{"# web.service.toml", "ExecStart", "/usr/bin/httpd -f", "on-failure", "PrivateTmp = true"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if !strings.Contains(errb.String(), "IPAccounting") {
		t.Errorf("unsupported IPAccounting not listed: %q", errb.String())
	}
}

func TestConvertDirStrict(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.service"), []byte("[Service]\nExecStart=/bin/a\n[Install]\nWantedBy=multi-user.target\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "b.service"), []byte("[Service]\nExecStart=/bin/b\nOOMPolicy=stop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"sctl", "convert", "-o", out, src}, &stdout, &stderr); code != 0 {
		t.Fatalf("convert -o: %d %s", code, stderr.String())
	}
	for _, f := range []string{"a.service.toml", "b.service.toml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stderr.String(), "b.service: Service.OOMPolicy (line 3): not supported") {
		t.Errorf("OOMPolicy not reported with its line: %q", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"sctl", "convert", "--strict", filepath.Join(src, "b.service")}, &stdout, &stderr); code != 1 {
		t.Errorf("--strict: code %d, want 1 (%s)", code, stderr.String())
	}
	if code := run([]string{"sctl", "convert", "--strict", filepath.Join(src, "a.service")}, &stdout, &stderr); code != 0 {
		t.Errorf("--strict on a clean file: code %d (%s)", code, stderr.String())
	}
}
