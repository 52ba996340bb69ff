package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads the *.toml rules files of dirs, given in priority order
// (e.g. /etc/devmaster/rules.d before /lib/devmaster/rules.d). A file
// hides the files of the same name in later directories, so an empty
// file (or a link to /dev/null) in /etc masks a shipped one. All files
// then apply in lexical order of their names, whatever their directory.
//
// A missing directory is fine. A bad file is skipped: Load returns the
// rules of the good files together with the errors of all bad ones
// (errors.Join), so devmaster runs with what it could read.
func Load(dirs ...string) (*Set, error) {
	files := map[string]string{} // base name -> path of the winning file
	var errs []error
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			// ReadDir returns what it read before the error.
		}
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".toml") || strings.HasPrefix(name, ".") || e.IsDir() {
				continue
			}
			if _, ok := files[name]; !ok {
				files[name] = filepath.Join(dir, name)
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)

	var rules []Rule
	for _, n := range names {
		p := files[n]
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		rs, err := Parse(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, rs...)
	}
	return &Set{rules: rules}, errors.Join(errs...)
}
