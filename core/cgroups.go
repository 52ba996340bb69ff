package core

import (
	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/cgroup"
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
	if m.cg == nil {
		return nil
	}
	p, err := m.cg.Create(u.name)
	if err != nil {
		return err
	}
	u.cgroup = p
	s := u.svc()
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
