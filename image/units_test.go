package image

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddUnitsConvertsSystemdUnits checks that a units folder may hold
// systemd unit files beside TOML ones: they are converted into the image,
// a TOML unit of the same name wins, and .wants links follow.
func TestAddUnitsConvertsSystemdUnits(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"web.service":       "[Service]\nExecStart=/bin/web $OPTS\nProtectSystem=full\nIPAccounting=yes\nOOMPolicy=stop\n[Install]\nWantedBy=multi-user.target\n",
		"db.service":        "[Service]\nExecStart=/bin/systemd-db\n",
		"db.service.toml":   "[Service]\nExecStart = \"/bin/toml-db\"\n",
		"multi-user.target": "[Unit]\nDescription=Multi\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	tree := NewTree()
	if err := addUnits(tree, dir, &options{progress: &log}, true); err != nil {
		t.Fatal(err)
	}
	if err := presetUnits(tree); err != nil {
		t.Fatal(err)
	}
	web, ok := tree.Lookup(unitsDir + "/web.service.toml")
	if !ok || !strings.Contains(string(web.Data), `ProtectSystem = "full"`) {
		t.Fatalf("web.service.toml: %v %q", ok, web.Data)
	}
	db, _ := tree.Lookup(unitsDir + "/db.service.toml")
	if db.Source == "" || !strings.HasSuffix(db.Source, "db.service.toml") {
		t.Errorf("db.service.toml should be the TOML file, got %+v", db)
	}
	if _, ok := tree.Lookup(unitsDir + "/multi-user.target.wants/web.service"); !ok {
		t.Error("web.service not enabled")
	}
	if !strings.Contains(log.String(), "Service.OOMPolicy (line 5): not supported") {
		t.Errorf("lost directive not reported:\n%s", log.String())
	}
	if strings.Contains(log.String(), "IPAccounting") {
		t.Errorf("harmless directive reported as lost:\n%s", log.String())
	}
}
