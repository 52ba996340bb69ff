package devmaster

import (
	"errors"
	"fmt"

	"github.com/sysmaster-go/sysmaster/exts/kmod"
)

// NewKmodLoader is the module loader of a board: the running kernel's
// module tree under /lib/modules, as the modprobe applet uses it.
func NewKmodLoader() (ModuleLoader, error) {
	l, err := kmod.NewLoader()
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	return kmodLoader{l}, nil
}

// kmodLoader adds ResolveAlias to a kmod.Loader for devctl test.
type kmodLoader struct{ *kmod.Loader }

// ResolveAlias names the modules that loading alias involves, without
// loading anything; built-in ones are left out.
func (k kmodLoader) ResolveAlias(alias string) ([]string, error) {
	steps, err := k.Plan(alias, "")
	if errors.Is(err, kmod.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range steps {
		if !s.Builtin {
			names = append(names, s.Name)
		}
	}
	return names, nil
}
