package devmaster

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
	"golang.org/x/sys/unix"
)

// resolve turns a devctl DEVICE argument into a device path.
func (h host) resolve(arg string) (string, error) {
	if strings.HasPrefix(arg, "/devices/") {
		return h.sys.DevPathOf(h.sys.Root + arg)
	}
	if strings.HasPrefix(arg, h.sys.Root+"/") || strings.HasPrefix(arg, "/sys/") {
		return h.sys.DevPathOf(filepath.Join(h.sys.Root, strings.TrimPrefix(strings.TrimPrefix(arg, h.sys.Root), "/sys")))
	}
	return h.resolveNode(arg)
}

// resolveNode finds the device of a node or a link to one: through
// /sys/dev/{block,char}/MAJOR:MINOR for a real node, else (a fake tree) by
// the DEVNAME of every device.
func (h host) resolveNode(arg string) (string, error) {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, h.devRoot+"/"), "/dev/")
	if !validRel(name) {
		return "", fmt.Errorf("%q is not a device path, /sys path or device node", arg)
	}
	p := filepath.Join(h.devRoot, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(h.devRoot)
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(real, root+"/")
	if !ok {
		return "", fmt.Errorf("%s is not under %s", p, h.devRoot)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&(os.ModeDevice) != 0 {
		kind := "char"
		if fi.Mode()&os.ModeCharDevice == 0 {
			kind = "block"
		}
		majmin := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		return h.sys.DevPathOf(filepath.Join(h.sys.Root, "dev", kind, majmin))
	}
	devs, err := h.sys.Enumerate(nil)
	if len(devs) == 0 && err != nil {
		return "", err
	}
	for _, d := range devs {
		if props, err := h.sys.Props(d.DevPath); err == nil && props["DEVNAME"] == rel {
			return d.DevPath, nil
		}
	}
	return "", fmt.Errorf("no device has the node %s", p)
}

func (c *ctl) info(args []string) int {
	fs := c.flags("info")
	pos, code, ok := c.parse(fs, args, 1)
	if !ok {
		return code
	}
	h := newHost(c.sysRoot, c.devRoot, c.runRoot)
	devpath, err := h.resolve(pos[0])
	if err != nil {
		return c.fail(err)
	}
	ev, err := h.sys.Event(devpath, "add")
	if err != nil {
		return c.fail(err)
	}
	delete(ev.Env, "ACTION")
	id := dbID(ev.Subsystem, ev.SysName(), ev.Env)
	rec, err := h.db.read(id)
	if err != nil {
		return c.fail(err)
	}
	printInfo(c.stdout, ev, rec)
	return 0
}

// printInfo prints a device as udevadm info does: P: path, N: node, S:
// links, E: properties (the kernel's, then the database's).
func printInfo(w io.Writer, ev *uevent.Event, rec record) {
	env := maps.Clone(ev.Env)
	maps.Copy(env, rec.Env)
	fmt.Fprintf(w, "P: %s\n", ev.DevPath)
	if name := strings.TrimPrefix(env["DEVNAME"], "/dev/"); name != "" {
		fmt.Fprintf(w, "N: %s\n", name)
		env["DEVNAME"] = "/dev/" + name
	}
	links := slices.Sorted(slices.Values(rec.Links))
	for _, l := range links {
		fmt.Fprintf(w, "S: %s\n", l)
	}
	if len(links) > 0 {
		abs := make([]string, len(links))
		for i, l := range links {
			abs[i] = "/dev/" + l
		}
		env["DEVLINKS"] = strings.Join(abs, " ")
	}
	if rec.Initialized > 0 {
		env["USEC_INITIALIZED"] = strconv.FormatUint(rec.Initialized, 10)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(w, "E: %s=%s\n", k, env[k])
	}
}

func (c *ctl) test(args []string) int {
	fs := c.flags("test")
	action := fs.String("action", "add", "the event to simulate")
	var dirs listFlag
	fs.Var(&dirs, "rules-dir", "rules `dir`ectory, repeatable (default "+strings.Join(DefaultRulesDirs(), ", ")+")")
	pos, code, ok := c.parse(fs, args, 1)
	if !ok {
		return code
	}
	if !validTriggerAction(*action) {
		fmt.Fprintf(c.stderr, "devctl test: bad --action %q\n", *action)
		return 2
	}
	if len(dirs) == 0 {
		dirs = DefaultRulesDirs()
	}
	h := newHost(c.sysRoot, c.devRoot, c.runRoot)
	devpath, err := h.resolve(pos[0])
	if err != nil {
		return c.fail(err)
	}
	ev, err := h.sys.Event(devpath, *action)
	if err != nil {
		return c.fail(err)
	}
	set, err := rules.Load(dirs...)
	if err != nil {
		fmt.Fprintf(c.stderr, "devctl: %v\n", err)
	}
	if set == nil {
		set = rules.NewSet()
	}
	p, errs := h.prepare(ev)
	for _, err := range errs {
		fmt.Fprintf(c.stderr, "devctl: %v\n", err)
	}
	res := set.Apply(p.dev)
	for k, v := range res.Env {
		if v == "" {
			delete(p.dev.Env, k)
		} else {
			p.dev.Env[k] = v
		}
	}
	w := c.stdout
	line := func(key, format string, args ...any) {
		fmt.Fprintf(w, "%-9s %s\n", key+":", fmt.Sprintf(format, args...))
	}
	line("device", "%s (%s), action %s", ev.DevPath, ev.Subsystem, ev.Action)
	if p.dev.DevNode != "" {
		line("node", "%s", p.dev.DevNode)
	}
	if drv := p.dev.BoundDriver(); drv != "" {
		line("driver", "%s", drv)
	}
	line("rules", "%s", strings.Join(dirs, " "))
	for _, m := range res.Matched {
		line("matched", "%s", m)
	}
	if res.Owner != "" {
		line("owner", "%s", res.Owner)
	}
	if res.Group != "" {
		line("group", "%s", res.Group)
	}
	if res.ModeSet {
		line("mode", "%04o", res.Mode.Perm()|res.Mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	}
	for _, l := range res.Symlinks {
		line("link", "/dev/%s", filepath.Clean(l))
	}
	for _, k := range slices.Sorted(maps.Keys(res.Env)) {
		line("env", "%s=%s", k, res.Env[k])
	}
	for _, argv := range res.Run {
		line("run", "%s", quoteArgv(argv))
	}
	for _, u := range res.Units {
		line("unit", "%s", u)
	}
	if alias := ev.Env["MODALIAS"]; alias != "" && ev.Action == "add" {
		line("modules", "%s", c.modulesFor(alias))
	}
	for _, warn := range res.Warnings {
		line("warning", "%s", warn)
	}
	if len(res.Matched) == 0 {
		line("matched", "no rule")
	}
	fmt.Fprintln(w, "properties:")
	for _, k := range slices.Sorted(maps.Keys(p.dev.Env)) {
		fmt.Fprintf(w, "  %s=%s\n", k, p.dev.Env[k])
	}
	return 0
}

// modulesFor names the modules an alias would load, when the loader can
// tell without loading them.
func (c *ctl) modulesFor(alias string) string {
	if c.loader == nil {
		return "for " + alias + " (no module loader here)"
	}
	l, err := c.loader()
	if err != nil {
		return fmt.Sprintf("for %s (module loader: %v)", alias, err)
	}
	r, ok := l.(ModuleResolver)
	if !ok {
		return "for " + alias
	}
	mods, err := r.ResolveAlias(alias)
	switch {
	case err != nil:
		return fmt.Sprintf("for %s: %v", alias, err)
	case len(mods) == 0:
		return "none for " + alias
	}
	return strings.Join(mods, " ") + " (for " + alias + ")"
}
