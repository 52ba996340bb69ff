package devmaster

// Manager is the service manager as devmaster sees it. Workers call it
// concurrently.
type Manager interface {
	// DeviceChanged tells it a device appeared (add/change/bind/move) or
	// went away (remove), with its /sys path, device node and /dev
	// symlinks (absolute), so units can depend on "dev-ttyS1.device".
	DeviceChanged(action, syspath, devnode string, links []string) error
	StartUnit(name string) error
}

// knownDevices is a Manager that can leave out what a trigger pass would
// tell it again unchanged (sctl.DeviceReporter): Sync at the start of the
// pass, then DeviceSeen for the pass's events. A retrigger of an unchanged
// system then costs the manager nothing, while after its restart, or a
// device unit unplugged since, every report goes out as before.
type knownDevices interface {
	Sync() error
	DeviceSeen(action, syspath, devnode string, links []string) error
}

// noManager is the Manager when there is none to tell.
type noManager struct{}

func (noManager) DeviceChanged(action, syspath, devnode string, links []string) error { return nil }
func (noManager) StartUnit(name string) error                                         { return nil }

// announced reports whether the manager hears of an action.
func announced(action string) bool {
	switch action {
	case "add", "change", "bind", "move", "remove":
		return true
	}
	return false
}
