package image

import (
	"fmt"
	"path"
	"strings"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/units"
)

// addDataUnits writes the units of a board's data partition: a check of
// the filesystem after the device appears, the mount after the check, and
// a drop-in per unit that needs it (Requires= and After= the mount), so
// those start once it is mounted, fail with it, and stop before it is
// unmounted.
func addDataUnits(t *Tree, d board.Data) error {
	if d.Empty() {
		return nil
	}
	dev := d.DevicePath()
	devUnit := units.UnitNameFromPath(dev, "device")
	mount := units.UnitNameFromPath(d.MountPoint(), "mount")
	fsck := "fsck-" + strings.TrimSuffix(mount, ".mount") + ".service"
	files := map[string]string{
		fsck: fmt.Sprintf(`# Written by smimage from the board's [data] table.
[Unit]
Description = 'Check %[1]s before it is mounted'
After = ['%[2]s']
Before = ['%[3]s']

[Service]
Type = "oneshot"
RemainAfterExit = true
ExecStart = '/bin/smbox fsck %[4]s %[5]s'
`, d.Device, devUnit, mount, d.Type, dev),
		mount: fmt.Sprintf(`# Written by smimage from the board's [data] table.
[Unit]
Description = 'Data partition %[1]s'
Requires = ['%[2]s']
After = ['%[2]s', '%[3]s']

[Mount]
What = '%[4]s'
Where = '%[5]s'
Type = '%[6]s'
Options = '%[7]s'

[Install]
WantedBy = ["default.target"]
`, d.Device, fsck, devUnit, dev, d.MountPoint(), d.Type, d.Options),
	}
	for name, body := range files {
		if err := t.AddFile(path.Join(unitsDir, name+".toml"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	for _, u := range d.Users() {
		if _, ok := t.nodes[strings.TrimPrefix(path.Join(unitsDir, u+".toml"), "/")]; !ok {
			return fmt.Errorf("board [data]: required_by names %s, which is not a unit in the image", u)
		}
		dropIn := fmt.Sprintf("# Written by smimage: %s needs the data partition.\n[Unit]\nRequires = ['%s']\nAfter = ['%s']\n", u, mount, mount)
		if err := t.AddFile(path.Join(unitsDir, u+".d", "data-partition.toml"), []byte(dropIn), 0o644); err != nil {
			return err
		}
	}
	return nil
}
