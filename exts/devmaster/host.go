package devmaster

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/blkid"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// host is the machine as devmaster and devctl see it: sysfs, /dev and the
// database, each under a root that tests point at a temporary tree.
type host struct {
	sys     sysfs
	devRoot string
	db      db
}

func newHost(sysRoot, devRoot, runRoot string) host {
	return host{sys: sysfs{Root: filepath.Clean(sysRoot)}, devRoot: filepath.Clean(devRoot), db: newDB(runRoot)}
}

// prepared is an event made ready for the rules: the device they see,
// with what was imported from sysfs, the filesystem and the database.
type prepared struct {
	ev    *uevent.Event
	dev   *rules.Device
	id    string // database id
	oldID string // database id before a move, when it differs
	old   record // database entry before this event
	node  string // device node under devRoot; "" when none
}

// prepare builds the device view for ev. It changes nothing; the errors
// are worth a log line but leave a usable device.
func (h host) prepare(ev *uevent.Event) (*prepared, []error) {
	var errs []error
	p := &prepared{ev: ev, id: dbID(ev.Subsystem, ev.SysName(), ev.Env)}
	oldID := p.id
	if ev.Action == "move" {
		if from := ev.Env["DEVPATH_OLD"]; from != "" {
			if oldID = dbID(ev.Subsystem, path.Base(from), ev.Env); oldID != p.id {
				p.oldID = oldID
			}
		}
	}
	var err error
	if p.old, err = h.db.read(oldID); err != nil {
		errs = append(errs, err)
	}
	env := maps.Clone(ev.Env)
	// As udev: an event after "add" keeps what earlier ones imported.
	if ev.Action != "add" {
		for k, v := range p.old.Env {
			if _, ok := env[k]; !ok {
				env[k] = v
			}
		}
	}
	devnode := ""
	if name := strings.TrimPrefix(ev.Env["DEVNAME"], "/dev/"); name != "" {
		if validRel(name) {
			devnode = "/dev/" + name
			env["DEVNAME"] = devnode
			p.node = filepath.Join(h.devRoot, name)
		} else {
			errs = append(errs, fmt.Errorf("bad DEVNAME %q", name))
		}
	}
	var attr func(string) (string, bool)
	var readDriver func() string
	if ev.Action != "remove" {
		attr = h.sys.AttrFunc(ev.DevPath)
		// An event without DRIVER was sent before one was bound, or made
		// up from a tree that lacks it; the link says, if a rule asks.
		readDriver = func() string {
			drv, _ := h.sys.Driver(ev.DevPath)
			return drv
		}
	}
	if ev.Subsystem == "block" && p.node != "" && (ev.Action == "add" || ev.Action == "change") {
		if err := h.importBlock(ev.DevPath, p.node, env); err != nil {
			errs = append(errs, err)
		}
	}
	p.dev = &rules.Device{
		Action: ev.Action, DevPath: ev.DevPath, Subsystem: ev.Subsystem, Kernel: ev.SysName(),
		DevNode: devnode, Driver: ev.Env["DRIVER"], ReadDriver: readDriver, Env: env, Attr: attr,
	}
	return p, errs
}

// importBlock sets what udev's blkid builtin and persistent-storage rules
// would: ID_SERIAL from the disk's serial attribute, and ID_FS_* from the
// filesystem on the node. Values stay as found (the rules escape them in
// link names) unless a line break or NUL would corrupt the database;
// the _ENC variants are escaped as udev does.
func (h host) importBlock(devpath, node string, env map[string]string) error {
	if env["ID_SERIAL"] == "" {
		disk := devpath
		if env["DEVTYPE"] == "partition" {
			disk = path.Dir(devpath)
		}
		for _, attr := range []string{"serial", "device/serial"} {
			if v, err := h.sys.Attr(disk, attr); err == nil && strings.TrimSpace(v) != "" {
				env["ID_SERIAL"] = storable(strings.TrimSpace(v))
				break
			}
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "ID_FS_") {
			delete(env, k)
		}
	}
	if size, err := h.sys.Attr(devpath, "size"); err == nil && size == "0" {
		return nil // no medium: nothing to read
	}
	info, err := blkid.ProbeFile(node)
	if err != nil {
		if errors.Is(err, blkid.ErrUnknown) || errors.Is(err, os.ErrNotExist) ||
			errors.Is(err, syscall.ENOMEDIUM) || errors.Is(err, syscall.ENXIO) {
			return nil
		}
		return fmt.Errorf("probing %s: %w", node, err)
	}
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	set("ID_FS_TYPE", info.Type)
	set("ID_FS_USAGE", info.Usage)
	set("ID_FS_VERSION", info.Version)
	set("ID_FS_UUID", storable(info.UUID))
	set("ID_FS_UUID_ENC", encodeString(info.UUID))
	set("ID_FS_LABEL", storable(info.Label))
	set("ID_FS_LABEL_ENC", encodeString(info.Label))
	return nil
}

// storable makes v safe for a database line.
func storable(v string) string {
	if strings.ContainsAny(v, "\x00\n\r") {
		return safeString(v)
	}
	return v
}

// stored is what the database keeps of a device's properties: those that
// devmaster added or changed, not the kernel's own.
// Most devices have none: the map is made only for the first.
func stored(env, kernel map[string]string) map[string]string {
	var out map[string]string
	for k, v := range env {
		switch k {
		case "DEVNAME", "DEVLINKS": // derived again each time
			continue
		}
		if kv, ok := kernel[k]; !ok || kv != v {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}
