package rules_test

import (
	"fmt"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
)

func Example() {
	const file = `
[[rule]]
subsystem = "block"
kernel = "vd*"
env = { DEVTYPE = "disk" }
attr = { serial = "?*" }
group = "disk"
mode = "0660"
symlink = ["disk/by-id/virtio-$attr{serial}"]
start = ["storage@$kernel.service"]

[[rule]]
subsystem = "block"
symlink = ["disk/by-label/$env{ID_FS_LABEL}"]   # not made: no label
`
	list, err := rules.Parse("60-storage.toml", []byte(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := rules.NewSet(list...).Apply(&rules.Device{
		Action:    "add",
		Subsystem: "block",
		Kernel:    "vda",
		DevNode:   "/dev/vda",
		Env:       map[string]string{"DEVTYPE": "disk"},
		Attr: func(name string) (string, bool) {
			if name == "serial" {
				return "boot disk", true
			}
			return "", false
		},
	})
	fmt.Println(res.Group, res.Mode)
	fmt.Println(res.Symlinks)
	fmt.Println(res.Units)
	fmt.Println(res.Matched)

	_, err = rules.Parse("61-typo.toml", []byte("[[rule]]\nkernel = \"vd*\"\nsymlnk = [\"x\"]\n"))
	fmt.Println(err)
	// Output:
	// disk -rw-rw----
	// [disk/by-id/virtio-boot\x20disk]
	// [storage@vda.service]
	// [60-storage.toml:2 60-storage.toml:12]
	// 61-typo.toml:3: symlnk: unknown key (did you mean symlink?)
}
