package proto

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// MaxRequest bounds a request line of the service manager; longer
// requests are refused.
const MaxRequest = 64 << 10

// Request is one request to the service manager.
type Request struct {
	Cmd   string   `json:"cmd"`
	Units []string `json:"units,omitempty"`
	JSON  bool     `json:"json,omitempty"`
	Lines int      `json:"lines,omitempty"` // for log: how many lines
	Type  string   `json:"type,omitempty"`  // list-units filter
	State string   `json:"state,omitempty"` // list-units filter
	// NoBlock answers start/stop once the jobs are queued, not done.
	NoBlock bool `json:"no_block,omitempty"`
	// JobMode is what a start, stop or restart does about queued jobs it
	// conflicts with: "replace" (the default), "fail" or "isolate".
	JobMode string `json:"job_mode,omitempty"`
	// Signal and Whom are kill's: the signal (name or number, default
	// TERM) and which processes get it (main, control, all).
	Signal string `json:"signal,omitempty"`
	Whom   string `json:"whom,omitempty"`
	// JobIDs are the jobs cancel ends (all when empty).
	JobIDs []int `json:"job_ids,omitempty"`
	// Devices are the reports of cmd "device", sent by the device manager,
	// in the order they happened.
	Devices []DeviceEvent `json:"devices,omitempty"`
	// Root and Init are switch-root's: the mounted new root and the init
	// to execute there (empty: the first of SwitchRootInits it has).
	Root string `json:"root,omitempty"`
	Init string `json:"init,omitempty"`
}

// Response answers a Request. Code follows systemctl's exit codes. Queries
// answer with data (Units, JobList, Timers) that the client renders.
type Response struct {
	Code int    `json:"code"`
	Out  string `json:"out,omitempty"`
	Err  string `json:"err,omitempty"`
	// Jobs are the results of the jobs a start, stop or restart asked for.
	Jobs    []JobResult  `json:"jobs,omitempty"`
	Units   []UnitStatus `json:"units,omitempty"`
	JobList []JobInfo    `json:"job_list,omitempty"`
	Timers  []TimerInfo  `json:"timers,omitempty"`
	Boot    *Boot        `json:"boot,omitempty"`
	// DeviceEpoch answers cmds "device" and "device-epoch": it stays the same while every
	// device report this manager took in still holds, and changes when
	// the manager started afresh or a device unit stopped being plugged
	// (removed, its link gone) or was stopped. A device manager may leave out
	// reports equal to ones acknowledged in the same epoch.
	DeviceEpoch string `json:"device_epoch,omitempty"`
}

// State is a unit's active state, as systemd names it.
type State string

// Unit active states.
const (
	Inactive     State = "inactive"
	Activating   State = "activating"
	Active       State = "active"
	Deactivating State = "deactivating"
	Failed       State = "failed"
)

// JobResult is the outcome of one job of a request.
type JobResult struct {
	ID     int    `json:"id"`
	Unit   string `json:"unit"`
	Type   string `json:"type"`
	Result string `json:"result"` // pending (with NoBlock), done, canceled, failed, dependency, timeout, skipped, assert
	Err    string `json:"err,omitempty"`
}

// UnitStatus is the status of one unit, as status and list-units answer.
type UnitStatus struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Load        string    `json:"load"`
	Active      State     `json:"active"`
	Sub         string    `json:"sub"`
	MainPID     int       `json:"main_pid,omitempty"`
	Result      string    `json:"result,omitempty"`
	Restarts    int       `json:"restarts"`
	Path        string    `json:"path,omitempty"`
	Error       string    `json:"error,omitempty"`
	Since       string    `json:"since,omitempty"`
	Status      string    `json:"status_text,omitempty"`
	Cgroup      string    `json:"cgroup,omitempty"`
	Processes   []Process `json:"processes,omitempty"`
	Enabled     string    `json:"enabled"`
	Log         []string  `json:"log,omitempty"`
}

// Process is one process of a unit.
type Process struct {
	PID     int    `json:"pid"`
	Cmdline string `json:"cmdline,omitempty"`
}

// JobInfo is one job in list-jobs.
type JobInfo struct {
	ID    int    `json:"id"`
	Unit  string `json:"unit"`
	Type  string `json:"type"`
	State string `json:"state"` // waiting or running
}

// TimerInfo is one timer in list-timers.
type TimerInfo struct {
	Unit      string `json:"unit"`
	Activates string `json:"activates"`
	Next      string `json:"next,omitempty"` // RFC 3339
	Last      string `json:"last,omitempty"`
}

// Bounds of a request to the service manager.
const (
	maxUnits = 1024
	maxLines = 100000
)

// DecodeRequest parses and checks one request line.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	if len(line) > MaxRequest {
		return req, fmt.Errorf("request longer than %d bytes", MaxRequest)
	}
	if err := json.Unmarshal(line, &req); err != nil {
		return req, errors.New("not a JSON object with cmd, units, json, lines, type, state")
	}
	if req.Cmd == "" {
		return req, errors.New("no cmd")
	}
	if len(req.Units) > maxUnits {
		return req, errors.New("too many units in one request")
	}
	for _, u := range req.Units {
		if len(u) > 256 || strings.ContainsAny(u, "/\x00\n") {
			return req, fmt.Errorf("bad unit name %.40q", u)
		}
	}
	for _, p := range []string{req.Root, req.Init} {
		if len(p) > 4096 || strings.ContainsAny(p, "\x00\n") {
			return req, fmt.Errorf("bad path %.40q", p)
		}
	}
	if req.Cmd == "device" {
		if len(req.Devices) == 0 {
			return req, errors.New("device: no device given")
		}
		if len(req.Devices) > MaxDeviceBatch {
			return req, fmt.Errorf("device: %d reports in one request, at most %d", len(req.Devices), MaxDeviceBatch)
		}
		for i := range req.Devices {
			if err := req.Devices[i].Check(); err != nil {
				return req, err
			}
		}
	}
	if req.Lines < 0 || req.Lines > maxLines {
		return req, fmt.Errorf("lines %d out of range", req.Lines)
	}
	return req, nil
}

// Ping is the liveness check init sends every few seconds, as
// json.Marshal writes Request{Cmd: "ping"}, and Pong the manager's answer,
// as it writes Response{Out: "pong\n"}; both with the line's end. The two
// sides read and write these lines as bytes: the JSON code and the type
// data it reads are most of the pages an idle manager would otherwise map
// again each time.
const (
	Ping = `{"cmd":"ping"}` + "\n"
	Pong = `{"code":0,"out":"pong\n"}` + "\n"
)

// ReadLine reads one line of at most max bytes.
func ReadLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("request longer than %d bytes", max)
		}
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// Call sends req as one line to the control socket at path and decodes
// the one-line answer into resp. timeout bounds the whole exchange (0:
// none once connected).
func Call(path string, req, resp any, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// DialUnix, not Dial: a Unix address needs no resolver, and naming
	// no host keeps net's DNS code out of smbox.
	c, err := new(net.Dialer).DialUnix(ctx, "unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("cannot reach the manager at %s: %w", path, err)
	}
	defer c.Close()
	if timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(timeout))
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send to %s: %w", path, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read from %s: %w", path, err)
	}
	if err := json.Unmarshal(line, resp); err != nil {
		return fmt.Errorf("bad answer from %s: %w", path, err)
	}
	return nil
}
