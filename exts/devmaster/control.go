package devmaster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The control protocol: a client connects to the unix stream socket, writes
// one JSON Request on a line, and reads one JSON Response line, with the
// convention of the service manager's control socket (core/proto).
const (
	// MaxRequest bounds a request line.
	MaxRequest = 16 << 10
	// DefaultSettleTimeout is how long settle waits when the request says
	// nothing.
	DefaultSettleTimeout = 120 * time.Second
	maxTimeout           = time.Hour
	// ioTimeout bounds reading a request and writing an answer, so a stuck
	// client cannot hold a connection.
	ioTimeout = 10 * time.Second
	// maxConns bounds the connections served at once.
	maxConns = 16
)

// Request is a control command.
type Request struct {
	// Cmd is "ping", "settle", "trigger" or "reload".
	Cmd string `json:"cmd"`
	// Timeout bounds waiting, as a Go duration ("30s"): for settle, and
	// for trigger when Settle is set.
	Timeout string `json:"timeout,omitempty"`
	// Action is the trigger's event ("add" when empty).
	Action string `json:"action,omitempty"`
	// Subsystems limits the trigger; empty means every device.
	Subsystems []string `json:"subsystems,omitempty"`
	// Settle makes trigger answer once the events were handled.
	Settle bool `json:"settle,omitempty"`
	// FromSysfs makes trigger make the events up from sysfs in
	// devmaster, unseen by other listeners (TriggerOptions.FromSysfs).
	FromSysfs bool `json:"from_sysfs,omitempty"`
}

// Response answers a Request, as the service manager's answers do (see
// package core/proto): Code 0 on success, 1 with Err on failure.
type Response struct {
	Code int    `json:"code"`
	Err  string `json:"err,omitempty"`
	// Devices is how many devices a trigger asked events for.
	Devices int `json:"devices,omitempty"`
}

type controlServer struct {
	d    *Daemon
	ln   *net.UnixListener
	path string
	sem  chan struct{}
}

// listenControl makes the socket, replacing a stale one; only root may use
// it.
func (d *Daemon) listenControl(path string) (*controlServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &controlServer{d: d, ln: ln, path: path, sem: make(chan struct{}, maxConns)}, nil
}

func (s *controlServer) close() { s.ln.Close() }

func (s *controlServer) serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.d.logf("control: %v", err)
			}
			return
		}
		select {
		case s.sem <- struct{}{}:
			go func() {
				defer func() { <-s.sem }()
				s.handle(ctx, c)
			}()
		default:
			answer(c, Response{Code: 1, Err: "busy: too many control connections"})
			c.Close()
		}
	}
}

func (s *controlServer) handle(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	req, err := readRequest(c)
	if err != nil {
		answer(c, Response{Code: 1, Err: err.Error()})
		return
	}
	answer(c, s.do(ctx, req))
}

// readRequest reads one line of at most MaxRequest bytes and decodes it
// strictly.
func readRequest(r io.Reader) (Request, error) {
	var req Request
	line, err := bufio.NewReaderSize(io.LimitReader(r, MaxRequest+1), MaxRequest+1).ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > MaxRequest {
		return req, fmt.Errorf("request longer than %d bytes", MaxRequest)
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return req, fmt.Errorf("reading request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("bad request: %w", err)
	}
	return req, nil
}

func answer(c net.Conn, resp Response) {
	b, _ := json.Marshal(resp)
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	c.Write(append(b, '\n'))
}

func (s *controlServer) do(ctx context.Context, req Request) Response {
	timeout := DefaultSettleTimeout
	if req.Timeout != "" {
		t, err := time.ParseDuration(req.Timeout)
		if err != nil || t <= 0 || t > maxTimeout {
			return Response{Code: 1, Err: fmt.Sprintf("bad timeout %q (want a duration up to %v)", req.Timeout, maxTimeout)}
		}
		timeout = t
	}
	switch req.Cmd {
	case "ping":
		return Response{}
	case "reload":
		if err := s.d.Reload(); err != nil {
			s.d.logf("reload: %v", err)
			return Response{Code: 1, Err: err.Error()}
		}
		s.d.logf("reload: rules read again")
		return Response{}
	case "settle":
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := s.d.Settle(ctx); err != nil {
			return Response{Code: 1, Err: fmt.Sprintf("settle: %v", err)}
		}
		return Response{}
	case "trigger":
		action := req.Action
		if action == "" {
			action = "add"
		}
		n, done, err := s.d.Trigger(ctx, TriggerOptions{Action: action, Subsystems: req.Subsystems, FromSysfs: req.FromSysfs})
		if err != nil {
			return Response{Code: 1, Err: err.Error()}
		}
		from := "from the kernel"
		if req.FromSysfs {
			from = "from sysfs"
		}
		s.d.logf("trigger: %s for %d devices, %s", action, n, from)
		if req.Settle {
			select {
			case <-done:
			case <-time.After(timeout):
				return Response{Code: 1, Devices: n, Err: fmt.Sprintf("trigger: events not handled within %v", timeout)}
			case <-ctx.Done():
				return Response{Code: 1, Devices: n, Err: ctx.Err().Error()}
			}
		}
		return Response{Devices: n}
	}
	return Response{Code: 1, Err: fmt.Sprintf("unknown command %q", req.Cmd)}
}

// Call sends req to the control socket at path and returns the answer;
// an answer with an error is returned as one.
func Call(ctx context.Context, path string, req Request) (*Response, error) {
	// DialUnix, not Dial: naming no host keeps net's resolver out.
	var dialer net.Dialer
	c, err := dialer.DialUnix(ctx, "unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("devmaster control: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("devmaster control: %w", err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("devmaster control: %w", err)
	}
	var resp Response
	line, err := bufio.NewReader(io.LimitReader(c, MaxRequest)).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, fmt.Errorf("devmaster control: reading the answer: %w", err)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("devmaster control: bad answer: %w", err)
	}
	if resp.Code != 0 {
		return &resp, fmt.Errorf("devmaster: %s", resp.Err)
	}
	return &resp, nil
}
