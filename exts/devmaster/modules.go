package devmaster

import "sync"

// ModuleLoader loads the kernel modules matching a device's MODALIAS.
// Workers call it concurrently.
type ModuleLoader interface {
	// ProbeAlias loads the modules for modalias (and their dependencies)
	// and returns their names.
	ProbeAlias(modalias string) ([]string, error)
}

// ModuleResolver is implemented by loaders that can name the modules an
// alias would load without loading them; devctl test uses it.
type ModuleResolver interface {
	ResolveAlias(modalias string) ([]string, error)
}

// modules asks the loader once per alias: many devices share one
// (every virtio disk, every CPU), and a second probe would only find the
// modules loaded.
type modules struct {
	loader ModuleLoader
	mu     sync.Mutex
	seen   map[string]*aliasLoad
}

type aliasLoad struct {
	done chan struct{}
	mods []string
	err  error
}

func newModules(l ModuleLoader) *modules {
	return &modules{loader: l, seen: map[string]*aliasLoad{}}
}

// load probes alias unless it was before; first reports whether this call
// did, so only it logs. Concurrent calls for one alias wait for the first.
func (m *modules) load(alias string) (mods []string, first bool, err error) {
	if m.loader == nil || alias == "" {
		return nil, false, nil
	}
	m.mu.Lock()
	l, ok := m.seen[alias]
	if !ok {
		l = &aliasLoad{done: make(chan struct{})}
		m.seen[alias] = l
	}
	m.mu.Unlock()
	if ok {
		<-l.done
		return l.mods, false, l.err
	}
	l.mods, l.err = m.loader.ProbeAlias(alias)
	close(l.done)
	return l.mods, true, l.err
}

// reset forgets the aliases seen, so a trigger or reload probes again
// (modules may have been removed or installed since).
func (m *modules) reset() {
	m.mu.Lock()
	m.seen = map[string]*aliasLoad{}
	m.mu.Unlock()
}
