package devmaster

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
)

// handle runs on a worker: import, load modules, apply the rules, act.
func (d *Daemon) handle(ev *uevent.Event) {
	p, errs := d.host.prepare(ev)
	for _, err := range errs {
		d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
	}
	if ev.Action == "add" {
		d.loadModules(ev)
	}
	res := d.rules.Load().Apply(p.dev)
	for _, w := range res.Warnings {
		d.logf("%s %s: rules: %s", ev.Action, ev.DevPath, w)
	}
	for k, v := range res.Env {
		if v == "" {
			delete(p.dev.Env, k)
		} else {
			p.dev.Env[k] = v
		}
	}
	if ev.Action == "remove" {
		d.removed(p, res)
	} else {
		d.changed(p, res)
	}
}

func (d *Daemon) loadModules(ev *uevent.Event) {
	alias := ev.Env["MODALIAS"]
	mods, first, err := d.mods.load(alias)
	switch {
	case !first:
	case err != nil:
		d.logf("%s: modules for %s: %v", ev.DevPath, alias, err)
	case len(mods) > 0:
		d.logf("%s: loaded %s for %s", ev.DevPath, strings.Join(mods, " "), alias)
	}
}

// changed acts on a device that is present: node access, links, database,
// programs, units, and the manager.
func (d *Daemon) changed(p *prepared, res *rules.Result) {
	ev := p.ev
	if p.node != "" && (res.Owner != "" || res.Group != "" || res.ModeSet) {
		if err := d.setNodeAccess(p.node, res.Owner, res.Group, res.Mode, res.ModeSet); err != nil {
			d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
		}
	}
	var links []string
	if p.node == "" && len(res.Symlinks) > 0 {
		d.logf("%s %s: links %v asked for a device without a node", ev.Action, ev.DevPath, res.Symlinks)
	} else {
		for _, l := range res.Symlinks {
			l = filepath.Clean(l)
			if slices.Contains(links, l) {
				continue
			}
			changed, err := addLink(d.host.devRoot, l, p.node)
			if err != nil {
				d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
				continue
			}
			if changed {
				d.debugf("link %s -> %s", filepath.Join(d.host.devRoot, l), p.node)
			}
			links = append(links, l)
		}
	}
	for _, l := range p.old.Links {
		if !slices.Contains(links, l) {
			if err := removeLink(d.host.devRoot, l, p.node); err != nil {
				d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
			}
		}
	}
	abs := d.absLinks(links)
	if len(abs) > 0 {
		p.dev.Env["DEVLINKS"] = strings.Join(abs, " ")
	}
	rec := record{Links: links, Env: stored(p.dev.Env, ev.Env), Initialized: p.old.Initialized}
	if rec.Initialized == 0 {
		rec.Initialized = monotonicUsec()
	}
	// A device handled again (a trigger) mostly finds its record as it
	// was: writing it anyway would cost a file per device. As udev, a
	// device with neither a node, an interface, links nor properties of
	// ours gets no record: most devices (buses, CPUs, ACPI) are such.
	var err error
	switch {
	case emptyRecord(p.id, rec):
		err = d.host.db.remove(p.id)
	case p.oldID != "" || !sameRecord(p.old, rec):
		err = d.host.db.write(p.id, rec)
	}
	if err != nil {
		d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
	}
	if p.oldID != "" {
		if err := d.host.db.remove(p.oldID); err != nil {
			d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
		}
	}
	d.runPrograms(p, res)
	if ev.Action == "add" {
		for _, u := range res.Units {
			d.logf("%s: starting %s", ev.DevPath, u)
			if err := d.mgr.StartUnit(u); err != nil {
				d.logf("%s: starting %s: %v", ev.DevPath, u, err)
			}
		}
	}
	d.announce(p, abs)
}

// removed undoes what changed did for a device that went away; devtmpfs
// removes the node itself.
func (d *Daemon) removed(p *prepared, res *rules.Result) {
	ev := p.ev
	for _, l := range p.old.Links {
		if err := removeLink(d.host.devRoot, l, p.node); err != nil {
			d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
		}
	}
	if err := d.host.db.remove(p.id); err != nil {
		d.logf("%s %s: %v", ev.Action, ev.DevPath, err)
	}
	d.runPrograms(p, res)
	d.announce(p, d.absLinks(p.old.Links))
}

func (d *Daemon) runPrograms(p *prepared, res *rules.Result) {
	for _, argv := range res.Run {
		d.logf("%s %s: RUN %s", p.ev.Action, p.ev.DevPath, strings.Join(argv, " "))
		if err := d.runProgram(argv, p.dev.Env); err != nil {
			d.logf("%s %s: %v", p.ev.Action, p.ev.DevPath, err)
		}
	}
}

// ManagerProperty marks, when a rule sets it to "1", a device the service
// manager hears about (as udev's TAG+="systemd"): units can then order
// themselves after it. Devices with links are always announced.
const ManagerProperty = "SYSMASTER_DEVICE"

func (d *Daemon) announce(p *prepared, links []string) {
	if !announced(p.ev.Action) {
		return
	}
	if p.dev.Env[ManagerProperty] != "1" && p.old.Env[ManagerProperty] != "1" && len(links) == 0 && len(p.old.Links) == 0 {
		return
	}
	report := d.mgr.DeviceChanged
	if k, ok := d.mgr.(knownDevices); ok && p.ev.Action != "remove" && d.inSyncedRun(p.ev) {
		report = k.DeviceSeen
	}
	err := report(p.ev.Action, d.host.sys.Root+p.ev.DevPath, p.node, links)
	if err != nil {
		d.logf("%s %s: telling the manager: %v", p.ev.Action, p.ev.DevPath, err)
	}
}

// inSyncedRun reports whether ev belongs to a trigger run that began with
// the manager's Sync.
func (d *Daemon) inSyncedRun(ev *uevent.Event) bool {
	u := ev.Env["SYNTH_UUID"]
	if u == "" {
		return false
	}
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	return d.synced[u]
}

func (d *Daemon) absLinks(links []string) []string {
	out := make([]string, 0, len(links))
	for _, l := range links {
		out = append(out, filepath.Join(d.host.devRoot, l))
	}
	return out
}

// emptyRecord reports whether the record of device id says nothing worth
// a file: ids without a device number or interface index start with "+".
func emptyRecord(id string, r record) bool {
	return strings.HasPrefix(id, "+") && len(r.Links) == 0 && len(r.Env) == 0
}

func sameRecord(a, b record) bool {
	if a.Initialized != b.Initialized || len(a.Links) != len(b.Links) || !maps.Equal(a.Env, b.Env) {
		return false
	}
	// Links mostly come in the same order each time: sort only if not.
	return slices.Equal(a.Links, b.Links) ||
		slices.Equal(slices.Sorted(slices.Values(a.Links)), slices.Sorted(slices.Values(b.Links)))
}
