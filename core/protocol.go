package core

// Request is one control request, sent as a single JSON line.
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
}

// Response answers a Request. Code follows systemctl's exit codes.
type Response struct {
	Code int    `json:"code"`
	Out  string `json:"out,omitempty"`
	Err  string `json:"err,omitempty"`
	// Jobs are the results of the jobs a start, stop or restart asked for.
	Jobs []JobResult `json:"jobs,omitempty"`
}

// MaxRequest bounds a request line; longer requests are refused.
const MaxRequest = 64 << 10
