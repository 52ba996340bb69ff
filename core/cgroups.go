package core

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/cgroup"
	"github.com/sysmaster-go/sysmaster/core/execute"
	"github.com/sysmaster-go/sysmaster/units"
)

// setupCgroups gives every service a cgroup when the system manager owns
// a writable cgroup2 tree. A user-mode manager uses process groups unless
// told otherwise: moving a host's processes around is not its business.
func (m *Manager) setupCgroups() {
	if m.cfg.User && !m.cfg.Cgroups {
		m.logf("user mode: tracking services by process group (--cgroups uses a delegated cgroup2 subtree)")
		return
	}
	cg, err := cgroup.Detect()
	if err != nil || !cg.Writable() {
		m.logf("no writable cgroup2 hierarchy (%v); tracking services by process group", err)
		return
	}
	if on, err := cg.EnableControllers("memory", "pids", "cpu"); err != nil {
		m.logf("cgroup controllers: %v", err)
	} else {
		m.logf("cgroups at %s (controllers: %v)", cg.Own(), on)
	}
	m.cg = cg
}

func (m *Manager) createCgroup(u *service) error {
	s := u.svc()
	ctrls, delegate := s.DelegateControllers()
	if m.cg == nil {
		if delegate {
			return fmt.Errorf("delegation (Delegate=%s): this manager has no cgroup2 tree to delegate from", s.Delegate)
		}
		return nil
	}
	p, err := m.cg.Create(u.name)
	if err != nil {
		return err
	}
	u.cgroup = p
	if delegate {
		if err := m.delegate(u, p, ctrls); err != nil {
			return err
		}
	}
	var l cgroup.Limits
	if s.MemoryMax > 0 {
		v := uint64(s.MemoryMax)
		if v == units.Unlimited {
			v = cgroup.Max
		}
		l.MemoryMax = &v
	}
	if s.CPUWeight > 0 {
		v := uint64(s.CPUWeight)
		l.CPUWeight = &v
	}
	if s.TasksMax > 0 {
		v := uint64(s.TasksMax)
		if v == units.Unlimited {
			v = cgroup.Max
		}
		l.TasksMax = &v
	}
	if l.MemoryMax != nil || l.CPUWeight != nil || l.TasksMax != nil {
		return m.cg.SetLimits(p, l)
	}
	return nil
}

func (m *Manager) removeCgroup(u *service) {
	if m.cg == nil || u.cgroup == "" {
		return
	}
	_ = m.cg.Kill(u.cgroup, unix.SIGKILL)
	_ = m.cg.Remove(u.cgroup)
	u.cgroup = ""
}

// delegate hands the cgroup at p to u: the controllers it asks for (all
// the manager has for "yes") become available in it, to enable for the
// children it makes, and with User= it owns the cgroup. A controller the
// manager cannot offer is logged, not fatal, as under systemd.
func (m *Manager) delegate(u *service, p string, ctrls []string) error {
	if ctrls == nil {
		var err error
		if ctrls, err = m.cg.Available(); err != nil {
			return fmt.Errorf("delegation: %w", err)
		}
	}
	on, err := m.cg.EnableControllers(ctrls...)
	if err != nil || len(on) < len(ctrls) {
		m.logf("%s: Delegate: controllers %v of %v available (%v)", u.name, on, ctrls, err)
	}
	s := u.svc()
	if s.User == "" {
		return nil
	}
	uid, gid, _, err := execute.LookupUser(s.User)
	if err != nil {
		return fmt.Errorf("delegation: User %q: %w", s.User, err)
	}
	if s.Group != "" {
		if gid, err = execute.LookupGroup(s.Group); err != nil {
			return fmt.Errorf("delegation: Group %q: %w", s.Group, err)
		}
	}
	return m.cg.Delegate(p, int(uid), int(gid))
}
