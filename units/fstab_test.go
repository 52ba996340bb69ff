package units

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFstab(t *testing.T) {
	data := `# /etc/fstab
/dev/vda1   /           ext4    defaults        0 1
UUID=1234-AB /boot     vfat    noatime,noauto  0 2
LABEL=my/data  /mnt/my\040data xfs nofail
/dev/vda3   none        swap    sw              0 0
/dev/vda4   swap        swap    sw
tmpfs       /tmp        tmpfs   mode=1777,size=64M

bogus
/dev/vda5   relative    ext4    defaults
/dev/vda6   /tmp        ext4    defaults
/dev/vda7   /x\04       ext4    defaults
`
	got, errs := ParseFstab("/etc/fstab", []byte(data))
	type mount struct{ name, what, where, typ, opts string }
	var gotM []mount
	var wanted []bool
	for _, u := range got {
		gotM = append(gotM, mount{u.Name, u.Mount.What, u.Mount.Where, u.Mount.Type, u.Mount.Options})
		wanted = append(wanted, reflect.DeepEqual(u.Install.WantedBy, List{"local-fs.target"}))
	}
	wantM := []mount{
		{"-.mount", "/dev/vda1", "/", "ext4", "defaults"},
		{"boot.mount", "/dev/disk/by-uuid/1234-AB", "/boot", "vfat", "noatime,noauto"},
		{`mnt-my\x20data.mount`, `/dev/disk/by-label/my\x2fdata`, "/mnt/my data", "xfs", "nofail"},
		{"tmp.mount", "tmpfs", "/tmp", "tmpfs", "mode=1777,size=64M"},
	}
	if !reflect.DeepEqual(gotM, wantM) {
		t.Errorf("mounts:\n got %q\nwant %q", gotM, wantM)
	}
	if !reflect.DeepEqual(wanted, []bool{true, false, true, true}) {
		t.Errorf("WantedBy local-fs.target: %v (noauto must not be wanted)", wanted)
	}
	wantErrs := []string{
		"/etc/fstab:9: want SPEC FILE TYPE",
		`/etc/fstab:10: mount point "relative" is not an absolute path`,
		"/etc/fstab:11: /tmp is mounted already by line 7",
		`/etc/fstab:12: "/x\\04": bad octal escape`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors = %v", errs)
	}
	for i, e := range errs {
		if !strings.Contains(e.Error(), wantErrs[i]) {
			t.Errorf("error %d = %v, want %q", i, e, wantErrs[i])
		}
	}
}
