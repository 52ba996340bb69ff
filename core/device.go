package core

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/units"
)

// DeviceEvent is what the device manager tells core about one device, so
// units can order themselves after it ("dev-ttyS1.device").
type DeviceEvent struct {
	Action  string   `json:"action"`            // add, change, move, bind, remove
	SysPath string   `json:"syspath"`           // /sys/devices/...
	DevNode string   `json:"devnode,omitempty"` // /dev/...
	Links   []string `json:"links,omitempty"`   // /dev/disk/by-uuid/...
}

// deviceTimeout bounds how long a start job waits for its device to
// appear, as systemd's DefaultDeviceTimeoutSec.
const deviceTimeout = 90 * time.Second

// Bounds of a device report: links of one device, and reports in one
// request (coldplug sends many at once).
const (
	maxDeviceLinks = 256
	maxDeviceBatch = 512
)

func (ev *DeviceEvent) check() error {
	switch ev.Action {
	case "add", "change", "move", "bind", "unbind", "online", "offline", "remove":
	default:
		return fmt.Errorf("device: unknown action %.20q", ev.Action)
	}
	if !strings.HasPrefix(ev.SysPath, "/sys/") {
		return fmt.Errorf("device: syspath %.60q is not under /sys", ev.SysPath)
	}
	if len(ev.Links) > maxDeviceLinks {
		return fmt.Errorf("device: %d links, at most %d", len(ev.Links), maxDeviceLinks)
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

// unitNames are the device units that stand for the device: one for its
// /sys path, one for its node and one per symlink, as systemd names them.
func (ev *DeviceEvent) unitNames() []string {
	out := []string{units.UnitNameFromPath(ev.SysPath, "device")}
	for _, p := range append([]string{ev.DevNode}, ev.Links...) {
		if p != "" {
			out = append(out, units.UnitNameFromPath(p, "device"))
		}
	}
	return out
}

// devicePath is the path a device unit stands for.
func devicePath(name string) (string, error) {
	return units.UnescapePath(strings.TrimSuffix(name, ".device"))
}

// deviceUnit returns the unit called name, made up when no file
// describes it.
func (m *Manager) deviceUnit(name string) *unit {
	if u := m.units[name]; u != nil {
		if u.cfg == nil && u.loadErr == nil {
			u.cfg = syntheticDevice(name)
		}
		return u
	}
	u := &unit{name: name, cfg: syntheticDevice(name), state: Inactive, sub: "dead"}
	m.units[name] = u
	return u
}

func syntheticDevice(name string) *units.Unit {
	c := &units.Unit{Name: name}
	if p, err := devicePath(name); err == nil {
		c.Unit.Description = p
	}
	return c
}

// addDeviceUnits makes a unit for every device another unit names, so a
// start job can wait for it. Ordering after a device also pulls it in:
// a device cannot be started, only waited for.
func (m *Manager) addDeviceUnits() {
	for _, n := range sortedNames(m.units) {
		u := m.units[n]
		if u.cfg == nil {
			continue
		}
		c := &u.cfg.Unit
		for _, list := range [][]string{c.Wants, c.Requires, c.BindsTo, c.Requisite, c.After, c.PartOf} {
			for _, d := range list {
				if strings.HasSuffix(d, ".device") {
					m.deviceUnit(d)
				}
			}
		}
	}
}

// deviceChanged applies one report of the device manager.
func (m *Manager) deviceChanged(ev *DeviceEvent) {
	names := ev.unitNames()
	if ev.Action == "remove" {
		if old := m.devLinks[ev.SysPath]; old != nil {
			names = append(names, old...)
		}
		delete(m.devLinks, ev.SysPath)
		for _, n := range dedup(names) {
			if u := m.units[n]; u != nil && u.state == Active {
				m.setState(u, Inactive, "dead")
			}
		}
		return
	}
	// A link the device no longer has goes away with it.
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	for _, n := range m.devLinks[ev.SysPath] {
		if u := m.units[n]; !keep[n] && u != nil && u.state == Active {
			m.setState(u, Inactive, "dead")
		}
	}
	m.devLinks[ev.SysPath] = names
	for _, n := range names {
		u := m.deviceUnit(n)
		if u.state != Active {
			m.setState(u, Active, "plugged")
		}
		if j := u.job; j != nil && j.running && !j.stopping() {
			m.logf("%s: found", n)
			m.stopDeviceWait(u)
			m.startEnded(u, resultDone)
		}
	}
}

// startDevice runs a start job of a device unit: done when the device is
// there, else it waits for the device manager to report it.
func (m *Manager) startDevice(u *unit) {
	if u.state == Active {
		m.startEnded(u, resultDone)
		return
	}
	j := u.job
	m.logf("%s: waiting for the device", u.name)
	u.timer = m.after(deviceTimeout, func() {
		if u.job == j && u.state != Active {
			j.failMsg = fmt.Sprintf("%s did not appear within %s", u.name, deviceTimeout)
			m.logf("%s", j.failMsg)
			m.finishJob(j, resultTimeout)
			m.dispatch()
		}
	})
}

func (m *Manager) stopDeviceWait(u *unit) {
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
}

// checkDevices corrects the recorded state of device units after a
// restart of core: reports sent while no core ran were lost, so the
// device's path decides. A user manager's devices are whatever it was
// told, not the host's, so it keeps its records.
func (m *Manager) checkDevices() {
	if m.cfg.User {
		return
	}
	for _, n := range sortedNames(m.units) {
		u := m.units[n]
		if u.kind() != "device" {
			continue
		}
		p, err := devicePath(n)
		if err != nil {
			continue
		}
		fi, err := os.Lstat(p)
		switch {
		case err == nil && u.state != Active && readyDevice(p, fi):
			m.setState(u, Active, "plugged")
		case errors.Is(err, os.ErrNotExist) && u.state == Active:
			m.setState(u, Inactive, "dead")
		}
	}
}

// readyDevice reports whether a path that exists may count as a device
// that is ready: a node in /dev may exist before the device manager has
// set it up, so only its links (which it makes) and /sys paths count.
func readyDevice(p string, fi os.FileInfo) bool {
	return strings.HasPrefix(p, "/sys/") || fi.Mode()&os.ModeSymlink != 0 && path.Dir(p) != "/dev"
}
