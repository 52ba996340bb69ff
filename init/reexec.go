package pid1

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// stateEnv carries init's state across a re-exec of its binary (SIGHUP,
// `sctl reexec-init`): pid 1 and its children stay; only the program
// changes.
const stateEnv = "SYSMASTER_INIT_STATE"

type savedInit struct {
	CorePID int      `json:"core_pid"`
	Mounted []string `json:"mounted"`
	Opts    Options  `json:"opts"`
}

// reexec executes init's binary in place. It returns only on failure.
func (p *pid1) reexec() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := json.Marshal(savedInit{CorePID: p.corePID, Mounted: p.mounted, Opts: p.opts})
	if err != nil {
		return err
	}
	p.logf("re-executing %s", self)
	env := append(os.Environ(), stateEnv+"="+string(b))
	err = unix.Exec(self, os.Args, env)
	return fmt.Errorf("exec %s: %w", self, err)
}

// restore picks up the state a previous init left, if any.
func (p *pid1) restore() bool {
	v, ok := os.LookupEnv(stateEnv)
	if !ok {
		return false
	}
	os.Unsetenv(stateEnv)
	var st savedInit
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		p.logf("state from the previous init unusable (%v); starting afresh", err)
		return false
	}
	p.corePID, p.mounted, p.opts = st.CorePID, st.Mounted, st.Opts
	return true
}
