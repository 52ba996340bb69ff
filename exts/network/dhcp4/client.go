package dhcp4

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"
)

// State is where the client is in RFC 2131's state diagram.
type State string

// The client's states.
const (
	StateInit      State = "init" // looking for a server
	StateRequest   State = "requesting"
	StateProbe     State = "probing"     // checking that nobody uses the address
	StateReboot    State = "init-reboot" // asking to keep a known lease
	StateBound     State = "bound"
	StateRenewing  State = "renewing"  // T1 passed: asking the server that gave it
	StateRebinding State = "rebinding" // T2 passed: asking any server
	StateStopped   State = "stopped"
)

// Status is what the client tells its owner at each change.
type Status struct {
	State State
	// Attempts counts the unanswered DISCOVERs since the last lease.
	Attempts int
	// Note says what went wrong last, or is "".
	Note string
}

// Client obtains and keeps a lease on one link. Set the fields, then call
// Run.
type Client struct {
	Index int    // the link's index
	Name  string // the link's name
	MAC   net.HardwareAddr
	// Hostname, when set, is sent in option 12.
	Hostname string

	// Retry is the first retransmission timeout (4 s by the RFC); it
	// doubles up to MaxRetry (64 s).
	Retry, MaxRetry time.Duration
	// MinRenewRetry is the shortest wait between renewal requests (60 s
	// by the RFC).
	MinRenewRetry time.Duration
	// ProbeInterval paces the check that nobody else uses a new lease's
	// address (RFC 5227's PROBE_MIN, 1 s); a conflict is declined, and
	// the search starts again ten intervals later. Negative: no check.
	ProbeInterval time.Duration

	// Bound applies a new or renewed lease; an error ends nothing but is
	// reported.
	Bound func(*Lease) error
	// Lost removes a lease that expired or that a server refused.
	Lost func(*Lease)
	// Changed reports each change of state.
	Changed func(Status)
	// Logf reports what happens, malformed replies included.
	Logf func(format string, args ...any)

	renew  chan struct{}
	status Status
}

// Renew asks a running client to renew its lease now, or to look for a
// server at once when it has none.
func (c *Client) Renew() {
	select {
	case c.renew <- struct{}{}:
	default:
	}
}

func (c *Client) defaults() {
	if c.Retry == 0 {
		c.Retry = 4 * time.Second
	}
	if c.MaxRetry == 0 {
		c.MaxRetry = 64 * time.Second
	}
	if c.MinRenewRetry == 0 {
		c.MinRenewRetry = 60 * time.Second
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Bound == nil {
		c.Bound = func(*Lease) error { return nil }
	}
	if c.Lost == nil {
		c.Lost = func(*Lease) {}
	}
	if c.Changed == nil {
		c.Changed = func(Status) {}
	}
	if c.renew == nil {
		c.renew = make(chan struct{}, 1)
	}
}

// Prepare makes Renew usable before Run starts.
func (c *Client) Prepare() { c.defaults() }

func (c *Client) set(s State, note string) {
	c.status.State, c.status.Note = s, note
	c.Changed(c.status)
}

// Run keeps a lease until ctx ends; it returns ctx's error. prev is a
// lease from before (a restart, a link that went down and up): when
// adopted is true its address is still on the link and the client goes on
// from where the lease's times say; otherwise it asks to keep it
// (INIT-REBOOT). Addresses are left in place when Run returns.
func (c *Client) Run(ctx context.Context, prev *Lease, adopted bool) error {
	c.defaults()
	defer c.set(StateStopped, "")
	lease := prev
	if lease != nil && !time.Now().Before(lease.Expiry()) {
		lease = nil
	}
	state := StateInit
	switch {
	case lease != nil && adopted:
		state = StateBound
	case lease != nil:
		state = StateReboot
	}
	for ctx.Err() == nil {
		var err error
		switch state {
		case StateInit:
			lease, err = c.acquire(ctx)
			if err == nil {
				state = c.bind(lease)
			}
		case StateReboot:
			var nl *Lease
			nl, err = c.reboot(ctx, lease)
			switch {
			case err == nil:
				c.replaced(lease, nl)
				lease, state = nl, c.bind(nl)
			case errors.Is(err, errNak):
				c.Lost(lease)
				lease, state = nil, StateInit
			case ctx.Err() == nil:
				// No answer: the lease may be used for what is left of it
				// (RFC 2131 section 3.2).
				c.Logf("no answer to INIT-REBOOT; keeping %s until %s", lease.Addr, lease.Expiry().Format(time.RFC3339))
				state, err = StateBound, nil
				if berr := c.Bound(lease); berr != nil {
					c.Logf("%v", berr)
				}
			}
		case StateBound:
			c.set(StateBound, "")
			state, err = c.waitUntil(ctx, lease.Acquired.Add(lease.T1), StateRenewing)
		case StateRenewing, StateRebinding:
			var nl *Lease
			nl, state, err = c.extend(ctx, lease, state)
			if nl != nil {
				c.replaced(lease, nl)
				lease, state = nl, c.bind(nl)
			} else if state == StateInit {
				c.Lost(lease)
				lease = nil
			}
		}
		if err != nil && ctx.Err() == nil {
			// A socket that cannot be opened or a send that fails (the
			// link went down): try again later, not in a tight loop.
			c.Logf("%v", err)
			c.status.Note = err.Error()
			pause(ctx, c.Retry)
		}
	}
	return ctx.Err()
}

// pause sleeps for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// replaced removes the old lease's address when the new one differs.
func (c *Client) replaced(old, nl *Lease) {
	if old != nil && old.Addr != nl.Addr {
		c.Lost(old)
	}
}

func (c *Client) bind(l *Lease) State {
	c.status.Attempts = 0
	c.Logf("lease %s from %s for %s (renew in %s)", l.Addr, l.Server, l.Duration, l.T1)
	if err := c.Bound(l); err != nil {
		c.Logf("applying the lease: %v", err)
	}
	return StateBound
}

// waitUntil sleeps until t (then returns next) or a renewal request.
func (c *Client) waitUntil(ctx context.Context, t time.Time, next State) (State, error) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return next, ctx.Err()
	case <-timer.C:
	case <-c.renew:
		c.Logf("renewal asked for")
	}
	return next, nil
}

var errNak = errors.New("server refused (NAK)")

func newXID() uint32 {
	// Unpredictable enough to tell transactions apart (math/rand/v2 is
	// seeded from the kernel), without linking crypto into smbox.
	return mrand.Uint32()
}

func (c *Client) message(t MessageType, xid uint32, start time.Time) *Message {
	m := &Message{Op: opRequest, XID: xid, CHAddr: c.MAC}
	m.Secs = uint16(min(time.Since(start)/time.Second, 0xffff))
	m.Set(optMessageType, []byte{byte(t)})
	m.Set(optClientID, append([]byte{1}, c.MAC...))
	m.Set(optMaxSize, []byte{0x05, 0xdc}) // 1500
	if c.Hostname != "" {
		m.Set(optHostname, []byte(c.Hostname))
	}
	m.Set(optParamList, []byte{optSubnetMask, optRouter, optDNS, optDomainName, optBroadcast, optLeaseTime, optRenewalT1, optRebindingT2})
	return m
}

// jitter spreads retransmissions (±1 s in the RFC, less for short ones).
func jitter(d time.Duration) time.Duration {
	j := min(time.Second, d/4)
	if j <= 0 {
		return d
	}
	return d - j + time.Duration(mrand.Int64N(int64(2*j)))
}

// exchange sends m through t until a reply of a wanted type with m's xid
// comes, at most tries times: it waits first (randomized), doubling up to
// MaxRetry after each try. What is malformed or not for us is logged and
// ignored.
func (c *Client) exchange(ctx context.Context, t transport, m *Message, dst netip.Addr, tries int, first time.Duration, want ...MessageType) (*Message, time.Time, error) {
	return c.exchangeOr(ctx, nil, t, m, dst, tries, first, want...)
}

// errRenew is a wait cut short by Renew.
var errRenew = errors.New("renewal asked for")

// exchangeOr is exchange that also gives up when interrupt fires.
func (c *Client) exchangeOr(ctx context.Context, interrupt <-chan struct{}, t transport, m *Message, dst netip.Addr, tries int, first time.Duration, want ...MessageType) (*Message, time.Time, error) {
	wait := first
	for try := 0; try < tries; try++ {
		sent := time.Now()
		if err := t.send(m.Encode(), dst); err != nil {
			return nil, sent, fmt.Errorf("sending %s: %w", m.Type(), err)
		}
		deadline := sent.Add(jitter(wait))
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		for {
			if ctx.Err() != nil {
				return nil, sent, ctx.Err()
			}
			select {
			case <-interrupt:
				return nil, sent, errRenew
			default:
			}
			// Wake up now and then to notice ctx ending.
			b, from, err := t.receive(minTime(deadline, time.Now().Add(250*time.Millisecond)))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if time.Now().Before(deadline) {
					continue
				}
				break
			}
			if err != nil {
				return nil, sent, fmt.Errorf("receiving: %w", err)
			}
			r, err := Decode(b)
			if err != nil {
				c.Logf("ignoring a reply from %s: %v", from, err)
				continue
			}
			if r.Op != opReply || r.XID != m.XID || !bytesEqual(r.CHAddr, c.MAC) {
				continue // another client's
			}
			for _, w := range want {
				if r.Type() == w {
					return r, sent, nil
				}
			}
			if r.Type() == 0 {
				c.Logf("ignoring a reply from %s: %v: no message type (option 53)", from, ErrMalformed)
			}
		}
		wait = min(2*wait, c.MaxRetry)
	}
	return nil, time.Time{}, errTimeout
}

var errTimeout = errors.New("no answer")

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// acquire runs DISCOVER, OFFER, REQUEST, ACK until it has a lease.
func (c *Client) acquire(ctx context.Context) (*Lease, error) {
	t, err := newRawTransport(c.Index)
	if err != nil {
		return nil, err
	}
	defer t.close()
	start := time.Now()
	wait := c.Retry
	conflicts := 0
	for ctx.Err() == nil {
		c.set(StateInit, c.status.Note)
		xid := newXID()
		disc := c.message(Discover, xid, start)
		r, _, err := c.exchangeOr(ctx, c.renew, t, disc, broadcastAddr, 1, wait, Offer)
		if errors.Is(err, errRenew) {
			// Asked to try now: start again from the shortest wait.
			c.Logf("looking for a server again, as asked")
			wait = c.Retry
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.status.Attempts++
			c.set(StateInit, fmt.Sprintf("no DHCP server answered (%d DISCOVERs sent); next in about %s", c.status.Attempts, min(2*wait, c.MaxRetry)))
			wait = min(2*wait, c.MaxRetry)
			if c.status.Attempts <= 3 || c.status.Attempts%10 == 0 {
				c.Logf("%s", c.status.Note)
			}
			continue
		}
		offer, err := parseLease(r, time.Now())
		if err != nil {
			// Waited for like no answer: a broken server must not make
			// the client flood the link.
			c.Logf("ignoring an OFFER: %v", err)
			pause(ctx, jitter(wait))
			wait = min(2*wait, c.MaxRetry)
			continue
		}
		c.set(StateRequest, "")
		req := c.message(Request, xid, start)
		req.Set(optRequestedIP, offer.Addr.Addr().AsSlice())
		req.Set(optServerID, offer.Server.AsSlice())
		r, sent, err := c.exchange(ctx, t, req, broadcastAddr, 4, c.Retry, Ack, Nak)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.status.Note = fmt.Sprintf("%s offered %s but did not answer the REQUEST", offer.Server, offer.Addr)
			c.Logf("%s", c.status.Note)
			continue
		}
		if r.Type() == Nak {
			c.status.Note = fmt.Sprintf("%s refused its own offer: %s", offer.Server, r.Options[optMessage])
			c.Logf("%s", c.status.Note)
			pause(ctx, jitter(c.Retry))
			continue
		}
		l, err := parseLease(r, sent)
		if err != nil {
			c.Logf("ignoring an ACK: %v", err)
			pause(ctx, jitter(wait))
			wait = min(2*wait, c.MaxRetry)
			continue
		}
		if c.ProbeInterval > 0 {
			c.set(StateProbe, "")
			err := probe(ctx, c.Index, c.MAC, l.Addr.Addr(), c.ProbeInterval)
			var conflict *errConflict
			switch {
			case errors.As(err, &conflict):
				conflicts++
				c.status.Note = fmt.Sprintf("%s gave %s, but %v; declined", l.Server, l.Addr, err)
				c.Logf("%s", c.status.Note)
				c.decline(t, xid, l, err)
				// RFC 2131 section 3.1.5 waits ten seconds; after ten
				// conflicts, RFC 5227 section 2.1.1 waits a minute.
				d := 10 * c.ProbeInterval
				if conflicts >= 10 {
					d = 60 * c.ProbeInterval
				}
				pause(ctx, jitter(d))
				continue
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				c.Logf("%s not checked for conflicts: %v", l.Addr, err)
			}
		}
		c.status.Note = ""
		return l, nil
	}
	return nil, ctx.Err()
}

// decline tells l's server that l's address is in use (DHCPDECLINE).
func (c *Client) decline(t transport, xid uint32, l *Lease, why error) {
	m := &Message{Op: opRequest, XID: xid, CHAddr: c.MAC}
	m.Set(optMessageType, []byte{byte(Decline)})
	m.Set(optClientID, append([]byte{1}, c.MAC...))
	m.Set(optRequestedIP, l.Addr.Addr().AsSlice())
	m.Set(optServerID, l.Server.AsSlice())
	m.Set(optMessage, []byte(why.Error()))
	if err := t.send(m.Encode(), broadcastAddr); err != nil {
		c.Logf("sending DECLINE: %v", err)
	}
}

// reboot asks to keep a known lease (INIT-REBOOT, RFC 2131 section 3.2).
func (c *Client) reboot(ctx context.Context, l *Lease) (*Lease, error) {
	c.set(StateReboot, "")
	t, err := newRawTransport(c.Index)
	if err != nil {
		return nil, err
	}
	defer t.close()
	req := c.message(Request, newXID(), time.Now())
	req.Set(optRequestedIP, l.Addr.Addr().AsSlice())
	r, sent, err := c.exchange(ctx, t, req, broadcastAddr, 3, c.Retry, Ack, Nak)
	if err != nil {
		return nil, err
	}
	if r.Type() == Nak {
		c.Logf("%s is no longer ours: %s", l.Addr, r.Options[optMessage])
		return nil, errNak
	}
	return parseLease(r, sent)
}

// extend renews (unicast to the lease's server) or rebinds (broadcast)
// until it gets an answer, the next phase begins, or the lease expires.
// It returns a new lease, or the next state.
func (c *Client) extend(ctx context.Context, l *Lease, state State) (*Lease, State, error) {
	c.set(state, "")
	t, err := newUDPTransport(c.Name)
	if err != nil {
		// Without a socket, the lease is kept until it expires.
		c.Logf("%v", err)
		next, werr := c.waitUntil(ctx, l.Expiry(), StateInit)
		return nil, next, werr
	}
	defer t.close()
	end, next, dst := l.Acquired.Add(l.T2), StateRebinding, l.Server
	if state == StateRebinding {
		end, next, dst = l.Expiry(), StateInit, broadcastAddr
	}
	for ctx.Err() == nil {
		left := time.Until(end)
		if left <= 0 {
			if next == StateInit {
				c.Logf("lease of %s expired", l.Addr)
				c.status.Note = "lease expired"
			}
			return nil, next, nil
		}
		// Half of what is left, but not more often than MinRenewRetry
		// (RFC 2131 section 4.4.5).
		wait := min(max(left/2, c.MinRenewRetry), left)
		req := c.message(Request, newXID(), time.Now())
		req.CIAddr = l.Addr.Addr()
		// No wait goes past the end of the phase.
		ectx, cancel := context.WithDeadline(ctx, end)
		r, sent, err := c.exchange(ectx, t, req, dst, 1, wait, Ack, Nak)
		cancel()
		switch {
		case errors.Is(err, errTimeout), ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			return nil, state, err
		case r.Type() == Nak:
			c.Logf("%s refused to extend %s: %s", dst, l.Addr, r.Options[optMessage])
			c.status.Note = "server refused the renewal"
			return nil, StateInit, nil
		}
		nl, err := parseLease(r, sent)
		if err != nil {
			c.Logf("ignoring an ACK: %v", err)
			pause(ctx, min(c.MinRenewRetry, time.Until(end)))
			continue
		}
		return nl, StateBound, nil
	}
	return nil, state, ctx.Err()
}
