package sctl

import (
	"fmt"
	"strings"

	"github.com/sysmaster-go/sysmaster/core"
)

// Client speaks to the manager at Socket on behalf of another daemon, such
// as the device manager reporting devices.
type Client struct {
	Socket string
}

// DeviceChanged reports that a device appeared, changed or went away, so
// that units ordered after it can start.
func (c Client) DeviceChanged(action, syspath, devnode string, links []string) error {
	return c.call(core.Request{Cmd: "device", Device: &core.DeviceEvent{
		Action: action, SysPath: syspath, DevNode: devnode, Links: links,
	}})
}

// StartUnit queues the start of a unit and returns without waiting for it.
func (c Client) StartUnit(name string) error {
	return c.call(core.Request{Cmd: "start", Units: []string{name}, NoBlock: true})
}

func (c Client) call(req core.Request) error {
	resp, err := Call(c.Socket, req)
	if err != nil {
		return err
	}
	if resp.Code != 0 {
		return fmt.Errorf("%s: %s", req.Cmd, strings.TrimSpace(resp.Err))
	}
	return nil
}
