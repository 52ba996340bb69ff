package core

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/units"
)

// listen opens the control socket, replacing a stale one.
func (m *Manager) listen() (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(m.cfg.Socket), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(m.cfg.Socket)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: m.cfg.Socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Anyone may ask; who may change state is checked per request.
	_ = os.Chmod(m.cfg.Socket, 0o666)
	return ln, nil
}

// Control socket limits: anyone may connect, so no local user may tie up
// the manager. Root always gets through.
const (
	// DefaultMaxConnsPerUID bounds the connections one uid (other than
	// root) has open at once.
	DefaultMaxConnsPerUID = 16
	// DefaultRequestTimeout is how long a connection may stay idle
	// before its request line has arrived.
	DefaultRequestTimeout = 10 * time.Second
)

// connLimits counts the open connections of each uid.
type connLimits struct {
	mu   sync.Mutex
	open map[int]int
	max  int
}

// take counts a connection of uid, or refuses it when uid has max open.
func (l *connLimits) take(uid int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if uid != 0 && l.open[uid] >= l.max {
		return false
	}
	l.open[uid]++
	return true
}

func (l *connLimits) release(uid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[uid]--; l.open[uid] <= 0 {
		delete(l.open, uid)
	}
}

func (m *Manager) serve(ln *net.UnixListener) {
	limits := &connLimits{open: map[int]int{}, max: m.cfg.MaxConnsPerUID}
	if limits.max <= 0 {
		limits.max = DefaultMaxConnsPerUID
	}
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		uid := peerUID(c)
		if !limits.take(uid) {
			// Told why, at once, without a goroutine of its own.
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			out, _ := json.Marshal(Response{Code: 1, Err: fmt.Sprintf("too many connections from uid %d (at most %d at once); try again later", uid, limits.max)})
			_, _ = c.Write(append(out, '\n'))
			c.Close()
			continue
		}
		m.conns.Add(1)
		go func() {
			defer m.conns.Done()
			defer limits.release(uid)
			m.handleConn(c, uid)
		}()
	}
}

// peerUID is the uid of the process at the other end, -1 if unknown.
func peerUID(c *net.UnixConn) int {
	uid := -1
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				uid = int(cred.Uid)
			}
		})
	}
	return uid
}

// mutating lists the commands that change state; only root or the
// manager's own user may send them.
var mutating = map[string]bool{
	"start": true, "stop": true, "isolate": true, "reset-failed": true, "kill": true, "cancel": true,
	"mask": true, "unmask": true, "restart": true, "try-restart": true, "reload": true,
	"enable": true, "disable": true, "daemon-reload": true, "daemon-reexec": true, "reexec-init": true,
	"poweroff": true, "reboot": true, "halt": true, "device": true, "switch-root": true,
}

func (m *Manager) handleConn(c *net.UnixConn, uid int) {
	defer c.Close()
	idle := m.cfg.RequestTimeout
	if idle <= 0 {
		idle = DefaultRequestTimeout
	}
	// The request must come soon; its answer may take as long as its jobs.
	_ = c.SetReadDeadline(time.Now().Add(idle))
	r := bufio.NewReaderSize(c, 4096)
	line, err := proto.ReadLine(r, MaxRequest)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no request within %s", idle)
	}
	var resp Response
	var req Request
	if err == nil {
		req, err = decodeRequest(line)
	}
	switch {
	case err != nil:
		resp = Response{Code: 1, Err: "bad request: " + err.Error()}
	case mutating[req.Cmd] && uid != 0 && uid != os.Getuid():
		resp = Response{Code: 4, Err: fmt.Sprintf("%s: access denied (uid %d)", req.Cmd, uid)}
	default:
		ch := make(chan Response, 1)
		m.post(func() { m.handle(req, ch) })
		select {
		case resp = <-ch:
			// Answer only once what the request changed is saved: what a
			// client was told survives a crash of the manager.
			saved := make(chan struct{})
			m.post(func() { m.afterSettle = append(m.afterSettle, func() { close(saved) }) })
			select {
			case <-saved:
			case <-m.exited:
			}
		case <-m.exited:
			resp = Response{Code: 1, Err: "manager is exiting"}
		}
	}
	out := []byte(proto.Pong)
	if req.Cmd != "ping" || resp.Code != 0 || resp.Out != "pong\n" {
		out, _ = json.Marshal(resp)
		out = append(out, '\n')
	}
	_ = c.SetWriteDeadline(time.Now().Add(idle))
	_, _ = c.Write(out)
}

// decodeRequest takes init's liveness check as it comes (proto.Ping).
func decodeRequest(line []byte) (Request, error) {
	if string(line) == proto.Ping {
		return Request{Cmd: "ping"}, nil
	}
	return DecodeRequest(line)
}

// handle runs one request on the manager goroutine. Requests that wait for
// jobs answer on ch later.
func (m *Manager) handle(req Request, ch chan<- Response) {
	need := func() bool {
		if len(req.Units) == 0 {
			ch <- Response{Code: 1, Err: req.Cmd + ": no unit given"}
			return false
		}
		for _, n := range req.Units {
			if m.units[n] == nil && !m.instantiate(n) {
				ch <- Response{Code: 5, Err: fmt.Sprintf("unit %s not found", n)}
				return false
			}
		}
		return true
	}
	switch req.Cmd {
	case "ping":
		ch <- Response{Out: "pong\n"}
	case "analyze":
		ch <- Response{Boot: m.bootAnswer()}
	case "device":
		for i := range req.Devices {
			m.deviceChanged(&req.Devices[i])
		}
		m.dispatch()
		ch <- Response{DeviceEpoch: m.devEpoch.String()}
	case "device-epoch":
		ch <- Response{DeviceEpoch: m.devEpoch.String()}
	case "start", "stop", "restart":
		if !need() {
			return
		}
		m.jobRequest(req, map[string]jobType{"start": jobStart, "stop": jobStop, "restart": jobRestart}[req.Cmd], req.Units, ch)
	case "isolate":
		if !need() {
			return
		}
		req.JobMode = "isolate"
		m.jobRequest(req, jobStart, req.Units, ch)
	case "reset-failed":
		for _, n := range req.Units {
			if m.units[n] == nil {
				ch <- Response{Code: 5, Err: fmt.Sprintf("unit %s not found", n)}
				return
			}
		}
		ch <- m.resetFailed(req.Units)
	case "kill":
		if !need() {
			return
		}
		ch <- m.kill(req)
	case "list-jobs":
		ch <- m.listJobs()
	case "cancel":
		ch <- m.cancel(req.JobIDs)
	case "list-timers":
		ch <- m.listTimers()
	case "mask", "unmask":
		if len(req.Units) == 0 {
			ch <- Response{Code: 1, Err: req.Cmd + ": no unit given"}
			return
		}
		for _, n := range req.Units {
			if err := units.ValidName(n); err != nil {
				ch <- Response{Code: 1, Err: err.Error()}
				return
			}
		}
		ch <- m.setMasked(req.Units, req.Cmd == "mask")
	case "status":
		if !need() {
			return
		}
		ch <- m.status(req)
	case "is-active", "is-failed":
		if !need() {
			return
		}
		want := Active
		if req.Cmd == "is-failed" {
			want = Failed
		}
		r := Response{Code: 0}
		for _, n := range req.Units {
			r.Out += string(m.units[n].state) + "\n"
			if m.units[n].state != want {
				r.Code = 3
			}
		}
		if req.Cmd == "is-failed" && r.Code == 3 {
			r.Code = 1
		}
		ch <- r
	case "list-units":
		ch <- m.listUnits(req)
	case "try-restart":
		if !need() {
			return
		}
		var active []string
		for _, n := range req.Units {
			if m.units[n].state == Active || m.units[n].state == Activating {
				active = append(active, n)
			}
		}
		m.jobRequest(req, jobRestart, active, ch)
	case "reload":
		if !need() {
			return
		}
		m.reloadUnits(req.Units, ch)
	case "list-dependencies":
		if !need() {
			return
		}
		ch <- Response{Out: m.listDependencies(req.Units[0])}
	case "cat":
		if !need() {
			return
		}
		ch <- m.cat(req.Units)
	case "show":
		if !need() {
			return
		}
		ch <- m.show(req)
	case "is-enabled":
		if !need() {
			return
		}
		r := Response{}
		for _, n := range req.Units {
			st := m.enabledState(m.units[n])
			r.Out += st + "\n"
			if st != "enabled" && st != "static" {
				r.Code = 1
			}
		}
		ch <- r
	case "enable", "disable":
		if !need() {
			return
		}
		ch <- m.setEnabled(req.Units, req.Cmd == "enable")
	case "daemon-reexec":
		if m.shuttingDown {
			ch <- Response{Code: 1, Err: "system is shutting down"}
			return
		}
		ch <- Response{Out: "re-executing the manager\n"}
		m.reexec, m.finished = true, true
	case "reexec-init":
		// Init re-executes its binary on SIGHUP; in user mode init is
		// our parent (init --user).
		target := 1
		if m.cfg.User {
			target = os.Getppid()
		}
		if err := unix.Kill(target, unix.SIGHUP); err != nil {
			ch <- Response{Code: 1, Err: fmt.Sprintf("signal init (pid %d): %v", target, err)}
			return
		}
		ch <- Response{Out: "init is re-executing\n"}
	case "daemon-reload":
		if err := m.reload(); err != nil {
			ch <- Response{Code: 1, Err: err.Error()}
			return
		}
		ch <- Response{}
	case "log":
		if !need() {
			return
		}
		ch <- m.unitLog(req.Units[0], req.Lines)
	case "poweroff", "reboot", "halt":
		ch <- Response{Out: req.Cmd + " scheduled\n"}
		m.shutdown(req.Cmd)
	case "switch-root":
		ch <- m.switchRoot(req.Root, req.Init)
	default:
		ch <- Response{Code: 1, Err: fmt.Sprintf("unknown command %q", req.Cmd)}
	}
}

// jobRequest queues one transaction of jobs of type t for names and
// answers once every job asked for has finished (at once with NoBlock),
// with the result of each.
func (m *Manager) jobRequest(req Request, t jobType, names []string, ch chan<- Response) {
	mode, err := parseJobMode(req.JobMode)
	if err != nil {
		ch <- Response{Code: 1, Err: err.Error()}
		return
	}
	if m.shuttingDown && t != jobStop {
		ch <- Response{Code: 1, Err: "system is shutting down"}
		return
	}
	var whenDone func([]*job)
	if !req.NoBlock {
		whenDone = func(jobs []*job) { ch <- m.jobsAnswer(jobs) }
	}
	jobs, err := m.enqueue(t, names, mode, whenDone)
	switch {
	case err != nil:
		ch <- Response{Code: 1, Err: err.Error()}
	case req.NoBlock:
		ch <- m.jobsAnswer(jobs)
	}
}

// jobsAnswer reports jobs: code 1 and each failure when one did not
// succeed.
func (m *Manager) jobsAnswer(jobs []*job) Response {
	var r Response
	var errs []string
	for _, j := range jobs {
		jr := m.jobReport(j)
		r.Jobs = append(r.Jobs, jr)
		if jr.Err != "" {
			r.Code = 1
			errs = append(errs, jr.Err)
		}
	}
	r.Err = strings.Join(errs, "\n")
	return r
}

func (m *Manager) unitStatus(u *unit) UnitStatus {
	s := UnitStatus{Name: u.name, Description: u.description(), Load: "loaded", Active: u.state, Sub: u.sub.String(),
		Result: u.result.String(), Restarts: u.restarts}
	u.k.describe(m, &s)
	switch {
	case u.cfg != nil:
		s.Path = u.cfg.Path
	case errors.Is(u.loadErr, errMasked):
		s.Load = "masked"
	default:
		s.Load, s.Error = "bad-setting", u.loadErr.Error()
	}
	if !u.since.IsZero() {
		s.Since = u.since.Format(time.RFC3339)
	}
	s.Enabled = m.enabledState(u)
	return s
}

// status answers the status of units, with their processes and last
// lines of output; the client renders it.
func (m *Manager) status(req Request) Response {
	r := Response{}
	for _, n := range req.Units {
		u := m.units[n]
		st := m.unitStatus(u)
		if d, ok := u.k.(detailer); ok {
			d.detail(m, &st)
		}
		r.Units = append(r.Units, st)
		if st.Active != Active {
			r.Code = 3
		}
	}
	return r
}

// listUnits answers every unit (of a kind, in a state, when asked).
func (m *Manager) listUnits(req Request) Response {
	r := Response{Units: []UnitStatus{}}
	for _, n := range sortedNames(m.units) {
		u := m.units[n]
		if req.Type != "" && u.kind() != req.Type {
			continue
		}
		if req.State != "" && string(u.state) != req.State && u.sub.String() != req.State {
			continue
		}
		r.Units = append(r.Units, m.unitStatus(u))
	}
	return r
}

// detailer is a kind with more to say in a status answer than in a
// list: what costs a walk of /proc or a read of the log.
type detailer interface {
	detail(m *Manager, st *UnitStatus)
}

func (u *service) detail(m *Manager, st *UnitStatus) {
	for _, pid := range m.processes(u) {
		st.Processes = append(st.Processes, proto.Process{PID: pid, Cmdline: cmdline(pid)})
	}
	if u.log != nil {
		for _, l := range u.log.Lines(10) {
			st.Log = append(st.Log, l.Time.Format("15:04:05")+" "+l.Text)
		}
	}
}

// processes lists the pids of u: its cgroup's, or the session of its main
// process.
func (m *Manager) processes(u *service) []int {
	if m.cg != nil && u.cgroup != "" {
		if procs, err := m.cg.Procs(u.cgroup); err == nil {
			return procs
		}
	}
	if u.mainPID <= 0 && u.ctrlPID <= 0 {
		return nil
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if sid, err := unix.Getsid(pid); err == nil && sid > 0 && (sid == u.mainPID || sid == u.ctrlPID) {
			out = append(out, pid)
		}
	}
	return out
}

func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
