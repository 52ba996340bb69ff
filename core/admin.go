package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// listDependencies prints the tree of units that name pulls in.
func (m *Manager) listDependencies(name string) string {
	var b strings.Builder
	seen := map[string]bool{}
	var walk func(n, indent string)
	walk = func(n, indent string) {
		mark := "o"
		if u := m.units[n]; u != nil && u.state == Active {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s%s %s\n", indent, mark, n)
		if seen[n] {
			return
		}
		seen[n] = true
		u := m.units[n]
		if u == nil {
			return
		}
		deps := dedup(m.wantsOf(u))
		for _, d := range deps {
			walk(d, indent+"  ")
		}
	}
	walk(name, "")
	return b.String()
}

// cat prints the unit files (and drop-ins) behind units.
func (m *Manager) cat(names []string) Response {
	var b strings.Builder
	r := Response{}
	for i, n := range names {
		u := m.units[n]
		if i > 0 {
			b.WriteString("\n")
		}
		paths := u.files()
		if len(paths) == 0 {
			r.Code = 1
			r.Err = "no file for " + n
			continue
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				r.Code, r.Err = 1, err.Error()
				continue
			}
			fmt.Fprintf(&b, "# %s\n%s", p, data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				b.WriteString("\n")
			}
		}
	}
	r.Out = b.String()
	return r
}

// show prints properties as KEY=VALUE lines, like systemctl show.
func (m *Manager) show(req Request) Response {
	var b strings.Builder
	var all []map[string]string
	for i, n := range req.Units {
		if i > 0 {
			b.WriteString("\n")
		}
		u := m.units[n]
		st := m.unitStatus(u)
		props := [][2]string{
			{"Id", u.name},
			{"Description", st.Description},
			{"LoadState", st.Load},
			{"ActiveState", string(u.state)},
			{"SubState", u.sub.String()},
			{"MainPID", fmt.Sprint(m.unitStatus(u).MainPID)},
			{"Result", u.result.String()},
			{"NRestarts", fmt.Sprint(u.restarts)},
			{"UnitFileState", m.enabledState(u)},
			{"FragmentPath", st.Path},
		}
		if !u.since.IsZero() {
			props = append(props, [2]string{"StateChangeTimestamp", u.since.Format(time.RFC3339Nano)})
		}
		if u.cfg != nil {
			c := u.cfg.Unit
			for _, d := range []struct {
				k string
				v []string
			}{
				{"Requires", c.Requires}, {"Requisite", c.Requisite}, {"Wants", m.wantsOf(u)}, {"BindsTo", c.BindsTo},
				{"PartOf", c.PartOf}, {"Conflicts", c.Conflicts}, {"Before", c.Before}, {"After", c.After},
				{"OnFailure", c.OnFailure},
			} {
				props = append(props, [2]string{d.k, strings.Join(dedup(append([]string{}, d.v...)), " ")})
			}
		}
		if st.Error != "" {
			props = append(props, [2]string{"LoadError", st.Error})
		}
		if u.cfg != nil {
			props = append(props, u.cfg.Properties()...)
		}
		if req.JSON {
			obj := map[string]string{}
			for _, p := range props {
				obj[p[0]] = p[1]
			}
			all = append(all, obj)
			continue
		}
		for _, p := range props {
			fmt.Fprintf(&b, "%s=%s\n", p[0], p[1])
		}
	}
	if req.JSON {
		out, _ := json.MarshalIndent(all, "", "  ")
		return Response{Out: string(out) + "\n"}
	}
	return Response{Out: b.String()}
}

// enabledState says whether u is hooked into a target by a .wants or
// .requires link, as systemctl is-enabled does.
func (m *Manager) enabledState(u *unit) string {
	if u.cfg == nil {
		return "bad"
	}
	if m.enabled[u.name] {
		return "enabled"
	}
	if len(u.cfg.Install.WantedBy)+len(u.cfg.Install.RequiredBy) == 0 {
		return "static"
	}
	return "disabled"
}

// setEnabled creates or removes the .wants/.requires links that [Install]
// describes, in the first unit directory, then reloads.
func (m *Manager) setEnabled(names []string, enable bool) Response {
	dir := m.cfg.UnitDirs[0]
	var out strings.Builder
	var errs []error
	for _, n := range names {
		u := m.units[n]
		if u.cfg == nil {
			errs = append(errs, fmt.Errorf("%s: bad unit: %v", n, u.loadErr))
			continue
		}
		links := installLinks(dir, u)
		if len(links) == 0 {
			errs = append(errs, fmt.Errorf("%s has no [Install] section (WantedBy= or RequiredBy=): it is static", n))
			continue
		}
		for _, l := range links {
			if enable {
				if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
					errs = append(errs, err)
					continue
				}
				if _, err := os.Lstat(l); err == nil {
					continue
				}
				if err := os.Symlink(u.cfg.Path, l); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(&out, "Created symlink %s -> %s.\n", l, u.cfg.Path)
			} else {
				err := os.Remove(l)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(&out, "Removed %s.\n", l)
			}
		}
	}
	if err := m.reload(); err != nil {
		errs = append(errs, err)
	}
	r := Response{Out: out.String()}
	if err := errors.Join(errs...); err != nil {
		r.Code, r.Err = 1, err.Error()
	}
	return r
}

func installLinks(dir string, u *unit) []string {
	var out []string
	for _, t := range u.cfg.Install.WantedBy {
		out = append(out, filepath.Join(dir, t+".wants", u.name))
	}
	for _, t := range u.cfg.Install.RequiredBy {
		out = append(out, filepath.Join(dir, t+".requires", u.name))
	}
	sort.Strings(out)
	return out
}

// unitLog returns the last lines a unit printed.
func (m *Manager) unitLog(name string, n int) Response {
	u := m.units[name]
	if n <= 0 {
		n = 100
	}
	s, ok := u.k.(*service)
	if !ok || s.log == nil {
		return Response{}
	}
	var b strings.Builder
	for _, l := range s.log.Lines(n) {
		fmt.Fprintf(&b, "%s %s\n", l.Time.Format("Jan 02 15:04:05.000"), l.Text)
	}
	return Response{Out: b.String()}
}

// scanEnabled finds the units linked from .wants and .requires folders,
// once per load rather than once per query.
func (m *Manager) scanEnabled() {
	m.enabled = map[string]bool{}
	// Names only: no stat of every link, which a thousand units pay for
	// at each start of the manager.
	for _, dir := range m.cfg.UnitDirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !e.IsDir() || !strings.HasSuffix(e.Name(), ".wants") && !strings.HasSuffix(e.Name(), ".requires") {
				continue
			}
			f, err := os.Open(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			names, _ := f.Readdirnames(-1)
			f.Close()
			for _, n := range names {
				m.enabled[n] = true
			}
		}
	}
}
