package board

import (
	"fmt"
	"path"
	"strings"
)

// Data declares a data partition the image mounts at boot ([data] in a
// board file): found by label or UUID, checked first when the filesystem
// asks for it, mounted before the units that need it and unmounted after
// them at shutdown.
type Data struct {
	// Device is "LABEL=name", "UUID=…" or a /dev path.
	Device string `toml:"device"`
	// Where is the mount point; /var when unset.
	Where string `toml:"where"`
	// Type is the filesystem: "ext4" (also ext2, ext3) or "vfat".
	Type    string `toml:"type"`
	Options string `toml:"options"`
	// RequiredBy are the units that need the partition: they start after
	// it is mounted and fail with it. Unset: the units that keep state
	// under /var (identity.service, random-seed.service).
	RequiredBy []string `toml:"required_by"`
}

// defaultDataUsers are the shipped units that keep state on /var.
var defaultDataUsers = []string{"identity.service", "random-seed.service"}

// Empty reports whether no data partition is declared.
func (d Data) Empty() bool {
	return d.Device == "" && d.Where == "" && d.Type == "" && d.Options == "" && d.RequiredBy == nil
}

// MountPoint is Where or /var.
func (d Data) MountPoint() string {
	if d.Where == "" {
		return "/var"
	}
	return d.Where
}

// Users are RequiredBy or the default units.
func (d Data) Users() []string {
	if d.RequiredBy == nil {
		return defaultDataUsers
	}
	return d.RequiredBy
}

// DevicePath is the node the device is found at: a by-label or by-uuid
// link that devmaster makes, or the path given.
func (d Data) DevicePath() string {
	if v, ok := strings.CutPrefix(d.Device, "LABEL="); ok {
		return "/dev/disk/by-label/" + v
	}
	if v, ok := strings.CutPrefix(d.Device, "UUID="); ok {
		return "/dev/disk/by-uuid/" + strings.ToLower(v)
	}
	return d.Device
}

func (d Data) validate() error {
	if d.Empty() {
		return nil
	}
	label, isLabel := strings.CutPrefix(d.Device, "LABEL=")
	uuid, isUUID := strings.CutPrefix(d.Device, "UUID=")
	switch {
	case d.Device == "":
		return fmt.Errorf("data.device: missing (LABEL=name, UUID=… or a /dev path)")
	case isLabel:
		if label == "" || !validName(label, "-_.") {
			return fmt.Errorf("data.device: label %q: letters, digits, '-', '_' and '.'", label)
		}
	case isUUID:
		if uuid == "" || !validName(uuid, "-") {
			return fmt.Errorf("data.device: UUID %q: hex digits and '-'", uuid)
		}
	case !strings.HasPrefix(d.Device, "/dev/") || path.Clean(d.Device) != d.Device:
		return fmt.Errorf("data.device: %q is not LABEL=, UUID= or a /dev path", d.Device)
	}
	if w := d.MountPoint(); !path.IsAbs(w) || path.Clean(w) != w || w == "/" {
		return fmt.Errorf("data.where: %q is not an absolute mount point below /", d.Where)
	}
	switch d.Type {
	case "ext4", "ext3", "ext2", "vfat":
	case "":
		return fmt.Errorf("data.type: missing (ext4 or vfat)")
	default:
		return fmt.Errorf("data.type: %q: want ext4, ext3, ext2 or vfat", d.Type)
	}
	if strings.ContainsAny(d.Options, "'\n ") {
		return fmt.Errorf("data.options: %q: comma-separated mount options, no quotes or spaces", d.Options)
	}
	for i, u := range d.RequiredBy {
		if !strings.Contains(u, ".") || strings.ContainsAny(u, "/ ") {
			return fmt.Errorf("data.required_by[%d]: %q is not a unit name", i, u)
		}
	}
	return nil
}
