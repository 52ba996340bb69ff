package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/units"
)

// deviceTimeout bounds how long a start job waits for its device to
// appear, as systemd's DefaultDeviceTimeoutSec.
const deviceTimeout = 90 * time.Second

// unitNames are the device units that stand for the device: one for its
// /sys path, one for its node and one per symlink, as systemd names them.
func deviceUnitNames(ev *DeviceEvent) []string {
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
	u := newUnit(name, syntheticDevice(name), nil)
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
	names := deviceUnitNames(ev)
	if ev.Action == "remove" {
		if old := m.devLinks[ev.SysPath]; old != nil {
			names = append(names, old...)
		}
		delete(m.devLinks, ev.SysPath)
		for _, n := range dedup(names) {
			if u := m.units[n]; u != nil && u.state == Active {
				m.unplug(u)
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
			m.unplug(u)
		}
	}
	m.devLinks[ev.SysPath] = names
	for _, n := range names {
		u := m.deviceUnit(n)
		if u.state != Active {
			m.setState(u, devicePlugged)
		}
		if j := u.job; j != nil && j.running && !j.stopping() {
			m.logf("%s: found", n)
			if d, ok := u.k.(*device); ok {
				d.stopWait()
			}
			m.startEnded(u, resultDone)
		}
	}
}

// deviceEpoch tells the device manager whether the reports it made still
// hold: a random id of this manager process (a restart, crash or
// re-execution loses devLinks) and a count of the times a device unit
// stopped being plugged, which a report equal to an earlier one would
// undo (a link taken over by another device), and of stop jobs of plugged
// device units.
type deviceEpoch struct {
	id    uint64
	downs uint64
}

func newDeviceEpoch() deviceEpoch { return deviceEpoch{id: rand.Uint64()} }

func (e deviceEpoch) String() string {
	return strconv.FormatUint(e.id, 16) + "." + strconv.FormatUint(e.downs, 10)
}

// unplug sets a device unit dead.
func (m *Manager) unplug(u *unit) {
	m.setState(u, deviceDead)
	m.devEpoch.downs++
}

// device is a device the device manager reported; units wait for it.
type device struct {
	*unit
	noKindState
	wait timerHandle // a start job's wait for the device
}

type deviceState uint8

const (
	deviceDead deviceState = iota
	devicePlugged
)

var deviceStates = []stateInfo{deviceDead: {"dead", Inactive}, devicePlugged: {"plugged", Active}}

func (s deviceState) String() string { return deviceStates[s].name }
func (s deviceState) active() State  { return deviceStates[s].active }

func (u *device) typeName() string  { return "device" }
func (u *device) initial() subState { return deviceDead }
func (u *device) parseSub(n string) (subState, bool) {
	return parseState[deviceState](deviceStates, n)
}

// checked: a device is only waited for, whatever its dependencies.
func (u *device) checked() bool { return false }

// logged: devices come and go by the hundred at boot; only a device some
// unit waited for is worth a line (see deviceChanged).
func (u *device) logged() bool { return false }

// isolated: devices follow the hardware, not isolate.
func (u *device) isolated() bool { return false }

func (u *device) restore(m *Manager, rec savedUnit, pf *prefetched) bool {
	return restoreSimple(u.unit, rec)
}

// start runs a start job of a device unit: done when the device is
// there, else it waits for the device manager to report it.
func (u *device) start(m *Manager) {
	if u.state == Active {
		m.startEnded(u.unit, resultDone)
		return
	}
	j := u.job
	m.logf("%s: waiting for the device", u.name)
	u.wait = m.after(deviceTimeout, func() {
		if u.job == j && u.state != Active {
			j.failMsg = fmt.Sprintf("%s did not appear within %s", u.name, deviceTimeout)
			m.logf("%s", j.failMsg)
			m.finishJob(j, resultTimeout)
			m.dispatch()
		}
	})
}

// stop ends the wait: devices come and go with the hardware, not with
// jobs.
func (u *device) stop(m *Manager) {
	u.stopWait()
	if u.state == Active {
		// The unit stays plugged, but whoever stopped it hears it from
		// every report of the next trigger, as before the epoch.
		m.devEpoch.downs++
	}
	m.stopEnded(u.unit)
}

func (u *device) stopWait() {
	if u.wait != nil {
		u.wait.Stop()
		u.wait = nil
	}
}

// resume corrects the recorded state of a device after a restart of
// core: reports sent while no core ran were lost, so the device's path
// decides. A user manager's devices are whatever it was told, not the
// host's, so it keeps its records.
func (u *device) resume(m *Manager) {
	if m.cfg.User {
		return
	}
	p, err := devicePath(u.name)
	if err != nil {
		return
	}
	fi, err := os.Lstat(p)
	switch {
	case err == nil && u.state != Active && readyDevice(p, fi):
		m.setState(u.unit, devicePlugged)
	case errors.Is(err, os.ErrNotExist) && u.state == Active:
		m.unplug(u.unit)
	}
}

// readyDevice reports whether a path that exists may count as a device
// that is ready: a node in /dev may exist before the device manager has
// set it up, so only its links (which it makes) and /sys paths count.
func readyDevice(p string, fi os.FileInfo) bool {
	return strings.HasPrefix(p, "/sys/") || fi.Mode()&os.ModeSymlink != 0 && path.Dir(p) != "/dev"
}
