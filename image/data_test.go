package image

import (
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/units"
)

func TestDataUnits(t *testing.T) {
	tr := NewTree()
	for _, u := range []string{"identity.service", "writer.service"} {
		if err := tr.AddFile(unitsDir+"/"+u+".toml", []byte("[Service]\nExecStart = \"/bin/true\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := board.Data{Device: "LABEL=data", Type: "ext4", Options: "noatime", RequiredBy: []string{"identity.service", "writer.service"}}
	if err := addDataUnits(tr, d); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"var.mount", "fsck-var.service"} {
		n := tr.nodes[strings.TrimPrefix(unitsDir, "/")+"/"+name+".toml"]
		if n == nil {
			t.Fatalf("%s not written", name)
		}
		u, err := units.Parse(name+".toml", n.Data)
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", name, err, n.Data)
		}
		if name == "var.mount" && (u.Mount.What != "/dev/disk/by-label/data" || u.Mount.Where != "/var" || u.Mount.Type != "ext4") {
			t.Errorf("var.mount: %+v", u.Mount)
		}
		if !strings.Contains(string(n.Data), `dev-disk-by\x2dlabel-data.device`) {
			t.Errorf("%s does not wait for the device:\n%s", name, n.Data)
		}
	}
	drop := tr.nodes[strings.TrimPrefix(unitsDir, "/")+"/writer.service.d/data-partition.toml"]
	if drop == nil || !strings.Contains(string(drop.Data), "Requires = ['var.mount']") {
		t.Fatalf("writer.service drop-in: %+v", drop)
	}
	// A unit that is not in the image cannot need the partition.
	d.RequiredBy = []string{"nosuch.service"}
	if err := addDataUnits(NewTree(), d); err == nil || !strings.Contains(err.Error(), "required_by names nosuch.service, which is not a unit in the image") {
		t.Fatalf("err = %v", err)
	}
}
