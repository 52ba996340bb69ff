package proto

import (
	"fmt"
	"strings"
)

// DeviceEvent is what the device manager tells core about one device, so
// units can order themselves after it ("dev-ttyS1.device").
type DeviceEvent struct {
	Action  string   `json:"action"`            // add, change, move, bind, remove
	SysPath string   `json:"syspath"`           // /sys/devices/...
	DevNode string   `json:"devnode,omitempty"` // /dev/...
	Links   []string `json:"links,omitempty"`   // /dev/disk/by-uuid/...
}

// Bounds of a device report: links of one device, and reports in one
// request (coldplug sends many at once).
const (
	MaxDeviceLinks = 256
	MaxDeviceBatch = 512
)

// Check reports what is wrong with ev, naming the field.
func (ev *DeviceEvent) Check() error {
	switch ev.Action {
	case "add", "change", "move", "bind", "unbind", "online", "offline", "remove":
	default:
		return fmt.Errorf("device: unknown action %.20q", ev.Action)
	}
	if !strings.HasPrefix(ev.SysPath, "/sys/") {
		return fmt.Errorf("device: syspath %.60q is not under /sys", ev.SysPath)
	}
	if len(ev.Links) > MaxDeviceLinks {
		return fmt.Errorf("device: %d links, at most %d", len(ev.Links), MaxDeviceLinks)
	}
	for _, p := range append([]string{ev.SysPath, ev.DevNode}, ev.Links...) {
		if len(p) > 1024 || strings.ContainsAny(p, "\x00\n") {
			return fmt.Errorf("device: bad path %.60q", p)
		}
	}
	for _, p := range append([]string{ev.DevNode}, ev.Links...) {
		if p != "" && !strings.HasPrefix(p, "/dev/") {
			return fmt.Errorf("device: %.60q is not under /dev", p)
		}
	}
	return nil
}
