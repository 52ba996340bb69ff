package rules

import (
	"fmt"
	"io/fs"
	"path"
)

// Device is what the rules see of one event.
type Device struct {
	Action    string // add, remove, change, move, bind, unbind, online, offline
	DevPath   string // kernel DEVPATH, e.g. /devices/pci0000:00/0000:00:02.0/virtio0/net/eth0
	Subsystem string
	Kernel    string // sysname: last element of DevPath (e.g. eth0, ttyS1, vda1); derived from DevPath when ""
	DevNode   string // "/dev/..." or ""
	Driver    string
	// ReadDriver, when set, names the bound driver if Driver is "" and a
	// rule asks: kernel events carry DRIVER whenever one is bound, so the
	// sysfs link is worth reading only then.
	ReadDriver func() string
	Env        map[string]string // uevent properties plus what devmaster imported (ID_FS_UUID, ID_FS_LABEL, ID_FS_TYPE, ID_SERIAL, ...)
	// Attr reads a sysfs attribute of the device, trimmed; nil means the
	// device has none. Names may reach into subdirectories
	// ("device/serial"). Apply reads each name at most once.
	Attr func(name string) (string, bool)
}

// Rule is one [[rule]] table of a rules file, compiled.
type Rule struct {
	File string
	Line int // of the [[rule]] header

	action, subsystem, kernel, devpath, driver *pattern
	attr, env                                  []keyed // in key order

	owner, group string
	mode         fs.FileMode
	modeSet      bool
	setEnv       []assignment // in key order
	symlink      []template
	run          []template // one argv
	start        []template
	last         bool
	at           string // pos, made once by NewSet: every event lists the rules it matched
}

// assignment is one property of set_env.
type assignment struct {
	key   string
	value template
}

// pos is "FILE:LINE", as Result.Matched names the rule.
func (r *Rule) pos() string {
	if r.at != "" {
		return r.at
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// Set is an ordered list of rules. It is not changed after it is made,
// so any number of goroutines may Apply it at once.
type Set struct {
	rules []Rule
}

// NewSet returns the set of rules, applied in the order given.
func NewSet(rules ...Rule) *Set {
	s := &Set{rules: append([]Rule(nil), rules...)}
	for i := range s.rules {
		r := &s.rules[i]
		r.at = ""
		r.at = r.pos()
	}
	return s
}

// Len returns the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Rules returns the rules in the order they apply.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	return append([]Rule(nil), s.rules...)
}

// Result is what the rules decided for one device.
type Result struct {
	Owner, Group string // "" = unchanged; name or number as written
	Mode         fs.FileMode
	ModeSet      bool
	// Symlinks are relative to /dev, substituted, escaped, path-cleaned
	// and deduplicated; never absolute nor outside /dev.
	Symlinks []string
	// Env holds the properties set by rules; an empty value means the
	// property is to be removed.
	Env      map[string]string
	Run      [][]string // argv of programs to run, substituted
	Units    []string   // units to start for this device (like systemd's SYSTEMD_WANTS), deduplicated
	Matched  []string   // "FILE:LINE" of each rule that matched, in order
	Warnings []string   // "FILE:LINE: KEY: message" for values dropped while applying
}

// Apply evaluates every rule in order against d and returns what they
// decided. It is pure: it changes neither d nor the system, and reads
// only d (and d.Attr).
func (s *Set) Apply(d *Device) *Result {
	res := &Result{}
	if s == nil {
		return res
	}
	c := newContext(d, res)
	for i := range s.rules {
		r := &s.rules[i]
		if !r.matches(c) {
			continue
		}
		res.Matched = append(res.Matched, r.pos())
		r.apply(c, res)
		if r.last {
			break
		}
	}
	return res
}

// matches tests the cheap fields first and sysfs attributes last.
func (r *Rule) matches(c *context) bool {
	d := c.dev
	for _, f := range [...]struct {
		p *pattern
		v string
	}{{r.action, d.Action}, {r.subsystem, d.Subsystem}, {r.kernel, c.kernel}, {r.devpath, d.DevPath}} {
		if f.p != nil && !f.p.match(f.v, true) {
			return false
		}
	}
	if r.driver != nil && !r.driver.match(c.driver(), true) {
		return false
	}
	for _, k := range r.env {
		// An unset property matches as "", as in udev: env = { X = "" }
		// holds when X is not set.
		v, _ := c.env(k.key)
		if !k.match(v, true) {
			return false
		}
	}
	for _, k := range r.attr {
		if v, ok := c.attr(k.key); !k.match(v, ok) {
			return false
		}
	}
	return true
}

// apply records the rule's assignments in res. set_env comes first, so
// the rule's own links, programs and units can use what it sets.
func (r *Rule) apply(c *context, res *Result) {
	if r.owner != "" {
		res.Owner = r.owner
	}
	if r.group != "" {
		res.Group = r.group
	}
	if r.modeSet {
		res.Mode, res.ModeSet = r.mode, true
	}
	if len(r.setEnv) > 0 {
		values := make([]string, len(r.setEnv))
		for i, a := range r.setEnv {
			values[i] = a.value.expand(c, nil)
		}
		if res.Env == nil {
			res.Env = map[string]string{}
		}
		for i, a := range r.setEnv {
			res.Env[a.key] = values[i]
		}
	}
	for _, t := range r.symlink {
		link, empty, err := checkLink(t.expand(c, escapeLink))
		switch {
		case err != nil:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: symlink: %v, dropped", r.pos(), err))
		case !empty && !contains(res.Symlinks, link):
			res.Symlinks = append(res.Symlinks, link)
		}
	}
	if len(r.run) > 0 {
		argv := make([]string, len(r.run))
		for i, t := range r.run {
			argv[i] = t.expand(c, nil)
		}
		res.Run = append(res.Run, argv)
	}
	for _, t := range r.start {
		unit := t.expand(c, escapeUnit)
		if err := checkUnitName(unit); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: start: %v, dropped", r.pos(), err))
		} else if !contains(res.Units, unit) {
			res.Units = append(res.Units, unit)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// context is one device while the rules are applied to it: the device,
// the properties set so far, and the attributes read so far.
type context struct {
	dev    *Device
	kernel string
	set    *Result
	attrs  map[string]attrValue
	// drv caches BoundDriver once read.
	drv     string
	drvRead bool
}

// BoundDriver is Driver, else what ReadDriver reads.
func (d *Device) BoundDriver() string {
	if d.Driver == "" && d.ReadDriver != nil {
		return d.ReadDriver()
	}
	return d.Driver
}

func (c *context) driver() string {
	if !c.drvRead {
		c.drv, c.drvRead = c.dev.BoundDriver(), true
	}
	return c.drv
}

type attrValue struct {
	v  string
	ok bool
}

func newContext(d *Device, res *Result) *context {
	k := d.Kernel
	if k == "" && d.DevPath != "" {
		k = path.Base(d.DevPath)
	}
	return &context{dev: d, kernel: k, set: res}
}

// env looks a property up: what rules set wins over the event's own.
func (c *context) env(key string) (string, bool) {
	if v, ok := c.set.Env[key]; ok {
		return v, v != ""
	}
	v, ok := c.dev.Env[key]
	return v, ok
}

func (c *context) attr(name string) (string, bool) {
	if c.dev.Attr == nil {
		return "", false
	}
	if a, ok := c.attrs[name]; ok {
		return a.v, a.ok
	}
	v, ok := c.dev.Attr(name)
	if c.attrs == nil {
		c.attrs = map[string]attrValue{}
	}
	c.attrs[name] = attrValue{v, ok}
	return v, ok
}

// value is what a substitution stands for; "" when unset.
func (c *context) value(src source, arg string) string {
	d := c.dev
	switch src {
	case srcKernel:
		return c.kernel
	case srcNumber:
		return kernelNumber(c.kernel)
	case srcDevPath:
		return d.DevPath
	case srcDevNode:
		return d.DevNode
	case srcDriver:
		return c.driver()
	case srcEnv:
		v, _ := c.env(arg)
		return v
	case srcAttr:
		v, _ := c.attr(arg)
		return v
	}
	return ""
}
