package units

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Converted is one unit of a converted directory.
type Converted struct {
	Name string // NAME.KIND
	Conversion
	Err error
}

// ConvertedDir is a directory of systemd unit files converted: its units,
// and the NAME.wants/ and NAME.requires/ entries to recreate.
type ConvertedDir struct {
	Units []Converted
	// Links are "TARGET.wants/UNIT" (or .requires) entries, as found.
	Links []string
	// Skipped lists files not converted, with why (aliases, other kinds).
	Skipped []string
}

// ConvertDir converts every unit file of a systemd unit directory, with its
// drop-ins (NAME.d/*.conf, and for an instance also TEMPLATE.d), and
// collects its .wants/ and .requires/ links.
func ConvertDir(dir string) (*ConvertedDir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	out := &ConvertedDir{}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if e.IsDir() {
			if strings.HasSuffix(name, ".wants") || strings.HasSuffix(name, ".requires") {
				links, err := os.ReadDir(path)
				if err != nil {
					return nil, fmt.Errorf("convert: %w", err)
				}
				for _, l := range links {
					out.Links = append(out.Links, name+"/"+l.Name())
				}
			}
			continue
		}
		kind := filepath.Ext(name)
		if !oneOf(kind, ".service", ".socket", ".timer", ".mount", ".target", ".path") {
			if kind == ".automount" || kind == ".swap" || kind == ".slice" {
				out.Skipped = append(out.Skipped, name+": there are no "+kind[1:]+" units here")
			}
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return nil, fmt.Errorf("convert: %w", err)
			}
			if target == os.DevNull {
				out.Skipped = append(out.Skipped, name+": masked (sctl mask makes the same link)")
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, filepath.Base(target))); err == nil {
				out.Skipped = append(out.Skipped, name+": an alias of "+filepath.Base(target)+" (Alias= in its [Install])")
				continue
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		dropIns, err := ReadDropIns(dir, name)
		if err != nil {
			return nil, err
		}
		c, err := ConvertFiles(name, data, dropIns)
		out.Units = append(out.Units, Converted{Name: name, Conversion: c, Err: err})
	}
	sort.Strings(out.Links)
	return out, nil
}

// ReadDropIns reads the drop-ins of name in dir in systemd's order: by file
// name, those of the unit itself overriding a template's of the same name.
func ReadDropIns(dir, name string) ([]Source, error) {
	dirs := []string{name + ".d"}
	if t := TemplateOf(name); t != "" {
		dirs = append([]string{t + ".d"}, dirs...)
	}
	byName := map[string]string{}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, d, "*.conf"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			byName[filepath.Base(f)] = f
		}
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Source
	for _, n := range names {
		data, err := os.ReadFile(byName[n])
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		rel, _ := filepath.Rel(dir, byName[n])
		out = append(out, Source{Name: rel, Data: data})
	}
	return out, nil
}

// Write writes the converted units into dir as NAME.KIND.toml, with the
// .wants/ and .requires/ links pointing at them. Units that failed to
// convert are left out.
func (c *ConvertedDir) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, u := range c.Units {
		if u.Err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, u.Name+".toml"), u.TOML, 0o644); err != nil {
			return err
		}
		have[u.Name] = true
	}
	for _, l := range c.Links {
		sub, unit := filepath.Split(l)
		file := unit
		if !have[file] {
			file = TemplateOf(unit)
		}
		if !have[file] {
			continue // a link to a unit that is not in this directory
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
		link := filepath.Join(dir, sub, unit)
		os.Remove(link)
		if err := os.Symlink("../"+file+".toml", link); err != nil {
			return err
		}
	}
	return nil
}
