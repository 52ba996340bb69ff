package core

import "github.com/sysmaster-go/sysmaster/core/proto"

// The control protocol's types live in package proto, which clients
// import; the manager speaks of them by these names.
type (
	Request     = proto.Request
	Response    = proto.Response
	JobResult   = proto.JobResult
	UnitStatus  = proto.UnitStatus
	JobInfo     = proto.JobInfo
	TimerInfo   = proto.TimerInfo
	DeviceEvent = proto.DeviceEvent
	State       = proto.State
)

// Unit active states.
const (
	Inactive     = proto.Inactive
	Activating   = proto.Activating
	Active       = proto.Active
	Deactivating = proto.Deactivating
	Failed       = proto.Failed
)

// MaxRequest bounds a request line; longer requests are refused.
const MaxRequest = proto.MaxRequest

// DecodeRequest parses and checks one request line.
func DecodeRequest(line []byte) (Request, error) { return proto.DecodeRequest(line) }
