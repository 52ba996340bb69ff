package dhcp6

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/ipsock"
)

// State is where the client is.
type State string

// The client's states.
const (
	StateSolicit   State = "soliciting" // looking for a server
	StateRequest   State = "requesting"
	StateConfirm   State = "confirming" // asking whether a known lease still fits the link
	StateBound     State = "bound"
	StateRenewing  State = "renewing"  // T1 passed: asking the server that gave it
	StateRebinding State = "rebinding" // T2 passed: asking any server
	StateInform    State = "informed"  // stateless: other configuration only
	StateStopped   State = "stopped"
)

const (
	clientPort = 546
	serverPort = 547
)

// allServers is All_DHCP_Relay_Agents_and_Servers: every message goes
// there, on the link only.
var allServers = netip.MustParseAddr("ff02::1:2")

// Status is what the client tells its owner at each change.
type Status struct {
	State State
	// Attempts counts the unanswered SOLICITs since the last lease.
	Attempts int
	// Note says what went wrong last, or is "".
	Note string
}

// Client obtains and keeps a lease on one link. Set the fields, then call
// Run.
type Client struct {
	Index int    // the link's index
	Name  string // the link's name
	// DUID identifies the client; it must stay the same across restarts.
	DUID DUID
	// IAID names the IA_NA; it too must stay the same.
	IAID uint32
	// RapidCommit asks for a lease in two messages (Solicit, Reply).
	RapidCommit bool

	// Retry is the first retransmission timeout of Solicit, Request and
	// Confirm (1 s by the RFC); Solicits double up to MaxRetry (120 s
	// here; the RFC's 3600 s is long for a board without a network).
	Retry, MaxRetry time.Duration
	// RenewRetry is the first retransmission timeout of Renew and Rebind
	// (10 s by the RFC).
	RenewRetry time.Duration

	// Bound applies a new, renewed or confirmed lease; an error ends
	// nothing but is reported.
	Bound func(*Lease) error
	// Lost removes a lease that expired or that a server refused.
	Lost func(*Lease)
	// Stateless, when set, says whether the link's routers advertise
	// other configuration by DHCPv6 but not addresses (O without M):
	// while it holds and the client has no lease, it asks for that with
	// INFORMATION-REQUEST instead of soliciting. It is asked before each
	// SOLICIT and every MaxRetry while informed.
	Stateless func() bool
	// Informed applies what an INFORMATION-REQUEST got; nil takes it back.
	Informed func(*Info)
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

// Prepare makes Renew usable before Run starts.
func (c *Client) Prepare() { c.defaults() }

func (c *Client) defaults() {
	if c.Retry == 0 {
		c.Retry = time.Second
	}
	if c.MaxRetry == 0 {
		c.MaxRetry = 120 * time.Second
	}
	if c.RenewRetry == 0 {
		c.RenewRetry = 10 * time.Second
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
	if c.Stateless == nil {
		c.Stateless = func() bool { return false }
	}
	if c.Informed == nil {
		c.Informed = func(*Info) {}
	}
	if c.renew == nil {
		c.renew = make(chan struct{}, 1)
	}
}

func (c *Client) set(s State, note string) {
	c.status.State, c.status.Note = s, note
	c.Changed(c.status)
}

// Run keeps a lease until ctx ends; it returns ctx's error. prev is a
// lease from before (a restart, a link that went down and up): when
// adopted is true its address is still on the link and the client goes on
// from where the lease's times say; otherwise it confirms it first.
// Addresses are left in place when Run returns.
func (c *Client) Run(ctx context.Context, prev *Lease, adopted bool) error {
	c.defaults()
	defer c.set(StateStopped, "")
	lease := prev
	if lease != nil && !time.Now().Before(lease.Expiry()) {
		lease = nil
	}
	state := StateSolicit
	switch {
	case lease != nil && adopted:
		state = StateBound
	case lease != nil:
		state = StateConfirm
	}
	var conn *net.UDPConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for ctx.Err() == nil {
		if conn == nil {
			var err error
			if conn, err = listen(c.Name); err != nil {
				c.failed(ctx, err)
				continue
			}
		}
		var err error
		switch state {
		case StateSolicit:
			var nl *Lease
			nl, err = c.acquire(ctx, conn)
			switch {
			case errors.Is(err, errStateless):
				state, err = StateInform, nil
			case err == nil:
				lease, state = nl, c.bind(nl)
			}
		case StateInform:
			state, err = c.informed(ctx, conn)
		case StateConfirm:
			var ok bool
			ok, err = c.confirm(ctx, conn, lease)
			switch {
			case err != nil:
			case ok:
				state = c.bind(lease)
			default:
				c.Lost(lease)
				lease, state = nil, StateSolicit
			}
		case StateBound:
			c.set(StateBound, "")
			state, err = c.waitUntil(ctx, lease.Acquired.Add(lease.T1), StateRenewing)
		case StateRenewing, StateRebinding:
			var nl *Lease
			nl, state, err = c.extend(ctx, conn, lease, state)
			if nl != nil {
				if nl.Addr != lease.Addr {
					c.Lost(lease)
				}
				lease, state = nl, c.bind(nl)
			} else if state == StateSolicit {
				c.Lost(lease)
				lease = nil
			}
		}
		if err != nil && ctx.Err() == nil {
			// A send that fails (no link-local address yet, the link
			// went down): try again later, not in a tight loop.
			conn.Close()
			conn = nil
			c.failed(ctx, err)
		}
	}
	return ctx.Err()
}

// failed reports err (once while it lasts) and pauses.
func (c *Client) failed(ctx context.Context, err error) {
	if c.status.Note != err.Error() {
		c.Logf("%v", err)
		c.status.Note = err.Error()
		c.Changed(c.status)
	}
	pause(ctx, c.Retry)
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Client) bind(l *Lease) State {
	c.status.Attempts = 0
	c.status.Note = ""
	c.Logf("lease %s from %s (server %s) valid for %s (renew in %s)", l.Addr, l.Server, l.ServerID, l.Valid, l.T1)
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

func listen(ifname string) (*net.UDPConn, error) {
	c, err := ipsock.ListenUDP(netip.AddrPortFrom(netip.IPv6Unspecified(), clientPort), func(fd int) error {
		return errors.Join(
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1),
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
			unix.BindToDevice(fd, ifname))
	})
	if err != nil {
		return nil, fmt.Errorf("udp socket on %s: %w", ifname, err)
	}
	return c, nil
}

// exchange is one transaction (RFC 8415 section 15): it sends what build
// makes, with an elapsed time, and retransmits with randomized doubling
// timeouts from irt up to mrt, mrc times at most (0: without end), until
// ctx ends (a deadline is the transaction's maximum duration) or handle
// says it is done. handle sees every well-formed reply of the
// transaction, and nil when a timeout ends (for a Solicit's first wait).
func (c *Client) exchange(ctx context.Context, conn *net.UDPConn, interrupt <-chan struct{}, build func(elapsed uint16) *Message, irt, mrt time.Duration, mrc int, handle func(r *Message, from netip.Addr) bool) error {
	var txid [3]byte
	n := mrand.Uint32() // math/rand/v2, seeded from the kernel: crypto would grow smbox
	txid[0], txid[1], txid[2] = byte(n>>16), byte(n>>8), byte(n)
	start := time.Now()
	dst := netip.AddrPortFrom(allServers.WithZone(strconv.Itoa(c.Index)), serverPort)
	buf := make([]byte, 1<<16)
	rt := irt + rnd(irt)
	for try := 0; mrc == 0 || try < mrc; try++ {
		// The context's own timer may lag behind its deadline: no
		// sending past it.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
		m := build(uint16(min(time.Since(start)/(10*time.Millisecond), 0xffff)))
		m.TxID = txid
		if _, err := conn.WriteToUDPAddrPort(m.Encode(), dst); err != nil {
			if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENETUNREACH) {
				// The kernel's duplicate address detection is not done.
				return fmt.Errorf("sending %s: no usable link-local address on %s yet", m.Type, c.Name)
			}
			return fmt.Errorf("sending %s: %w", m.Type, err)
		}
		deadline := time.Now().Add(rt)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			select {
			case <-interrupt:
				return errRenew
			default:
			}
			// Wake up now and then to notice ctx ending.
			_ = conn.SetReadDeadline(minTime(deadline, time.Now().Add(250*time.Millisecond)))
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if time.Now().Before(deadline) {
					continue
				}
				break
			}
			if err != nil {
				return fmt.Errorf("receiving: %w", err)
			}
			src := from.Addr().WithZone("")
			r, err := Decode(buf[:n])
			if err != nil {
				c.Logf("ignoring a reply from %s: %v", src, err)
				continue
			}
			if r.TxID != txid {
				continue // another transaction's
			}
			if handle(r, src) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if handle(nil, netip.Addr{}) {
			return nil
		}
		rt = 2*rt + rnd(rt)
		if mrt > 0 && rt > mrt {
			rt = mrt + rnd(mrt)
		}
	}
	return errTimeout
}

// rnd is RAND times d: -0.1 d to +0.1 d.
func rnd(d time.Duration) time.Duration {
	j := int64(d) / 10
	if j <= 0 {
		return 0
	}
	return time.Duration(mrand.Int64N(2*j+1) - j)
}

var (
	errTimeout = errors.New("no answer")
	errRenew   = errors.New("renewal asked for")
)

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// message starts a client message with what every one carries.
func (c *Client) message(t MessageType, elapsed uint16) *Message {
	m := &Message{Type: t}
	m.Add(OptClientID, c.DUID)
	m.Add(OptElapsedTime, binary.BigEndian.AppendUint16(nil, elapsed))
	if t != Confirm {
		m.Add(OptORO, []byte{0, OptDNS, 0, OptDomainList})
	}
	return m
}

// iana is the IA_NA option for l's address, or an empty one.
func (c *Client) iana(l *Lease) []byte {
	if l == nil {
		return IANA(c.IAID, 0, 0)
	}
	return IANA(c.IAID, 0, 0, Option{OptIAAddr, IAAddr(l.Addr, 0, 0)})
}

var errStateless = errors.New("stateless configuration advertised")

// acquire runs Solicit, Advertise, Request, Reply (or Solicit and a
// rapid-commit Reply) until it has a lease.
func (c *Client) acquire(ctx context.Context, conn *net.UDPConn) (*Lease, error) {
	for ctx.Err() == nil {
		if c.Stateless() {
			return nil, errStateless
		}
		c.set(StateSolicit, c.status.Note)
		var (
			best     *Lease
			bestPref = -1
			got      *Lease // from a rapid commit
			start    = time.Now()
			sent     = 0
		)
		err := c.exchange(ctx, conn, c.renew, func(elapsed uint16) *Message {
			sent++
			if sent > 1 {
				c.status.Attempts++
				c.status.Note = fmt.Sprintf("no DHCPv6 server answered (%d SOLICITs sent)", c.status.Attempts)
				if c.status.Attempts <= 3 || c.status.Attempts%10 == 0 {
					c.Logf("%s", c.status.Note)
				}
				c.Changed(c.status)
			}
			m := c.message(Solicit, elapsed)
			m.Add(OptIANA, c.iana(nil))
			if c.RapidCommit {
				m.Add(OptRapidCommit, nil)
			}
			return m
		}, c.Retry, c.MaxRetry, 0, func(r *Message, from netip.Addr) bool {
			if r == nil {
				// The first wait over: the best offer; or a router has
				// said meanwhile that there are no addresses to ask for.
				return best != nil || c.Stateless()
			}
			switch r.Type {
			case Advertise:
				l, err := ParseLease(r, c.DUID, c.IAID, start)
				if err != nil {
					c.Logf("ignoring an ADVERTISE from %s: %v", from, err)
					return false
				}
				l.Server = from
				pref := 0
				if v, ok := r.Get(OptPreference); ok && len(v) == 1 {
					pref = int(v[0])
				}
				if pref > bestPref {
					best, bestPref = l, pref
				}
				return pref == 255 // "take this one at once"
			case Reply:
				if _, ok := r.Get(OptRapidCommit); !ok || !c.RapidCommit {
					c.Logf("ignoring a REPLY to a SOLICIT from %s: no rapid commit", from)
					return false
				}
				l, err := ParseLease(r, c.DUID, c.IAID, start)
				if err != nil {
					c.Logf("ignoring a REPLY from %s: %v", from, err)
					return false
				}
				l.Server, got = from, l
				return true
			}
			return false
		})
		if errors.Is(err, errRenew) {
			c.Logf("looking for a server again, as asked")
			continue
		}
		if err != nil {
			return nil, err
		}
		if got != nil {
			return got, nil
		}
		if best == nil {
			return nil, errStateless
		}
		l, err := c.request(ctx, conn, best)
		if err == nil || ctx.Err() != nil {
			return l, err
		}
		c.status.Note = err.Error()
		c.Logf("%s", c.status.Note)
		pause(ctx, c.Retry)
	}
	return nil, ctx.Err()
}

// request asks for what offer advertised.
func (c *Client) request(ctx context.Context, conn *net.UDPConn, offer *Lease) (*Lease, error) {
	c.set(StateRequest, "")
	start := time.Now()
	var got *Lease
	var refused error
	err := c.exchange(ctx, conn, nil, func(elapsed uint16) *Message {
		m := c.message(Request, elapsed)
		m.Add(OptServerID, offer.ServerID)
		m.Add(OptIANA, c.iana(offer))
		return m
	}, c.Retry, 30*time.Second, 10, func(r *Message, from netip.Addr) bool {
		if r == nil || r.Type != Reply {
			return false
		}
		l, err := ParseLease(r, c.DUID, c.IAID, start)
		var se *StatusError
		switch {
		case errors.As(err, &se):
			refused = fmt.Errorf("%s refused the REQUEST for %s: %w", from, offer.Addr, err)
			return true
		case err != nil:
			c.Logf("ignoring a REPLY from %s: %v", from, err)
			return false
		}
		l.Server, got = from, l
		return true
	})
	switch {
	case refused != nil:
		return nil, refused
	case errors.Is(err, errTimeout):
		return nil, fmt.Errorf("%s advertised %s but did not answer the REQUEST", offer.Server, offer.Addr)
	case err != nil:
		return nil, err
	}
	return got, nil
}

// confirm asks whether l's address still fits the link (section 18.2.3).
// No answer counts as yes: the lease is used for what is left of it.
func (c *Client) confirm(ctx context.Context, conn *net.UDPConn, l *Lease) (bool, error) {
	c.set(StateConfirm, "")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second) // CNF_MAX_RD
	defer cancel()
	var answer *StatusCode
	err := c.exchange(cctx, conn, nil, func(elapsed uint16) *Message {
		m := c.message(Confirm, elapsed)
		m.Add(OptIANA, c.iana(l))
		return m
	}, c.Retry, 4*time.Second, 0, func(r *Message, from netip.Addr) bool {
		if r == nil || r.Type != Reply {
			return false
		}
		st, err := ReplyStatus(r, c.DUID)
		if err != nil {
			c.Logf("ignoring a REPLY from %s: %v", from, err)
			return false
		}
		answer = &st
		return true
	})
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errTimeout):
		return false, err
	case answer == nil:
		c.Logf("no answer to CONFIRM; keeping %s until %s", l.Addr, l.Expiry().Format(time.RFC3339))
		return true, nil
	case answer.Code == StatusSuccess:
		c.Logf("%s confirmed", l.Addr)
		return true, nil
	}
	c.Logf("%s is no longer ours: %s", l.Addr, answer)
	c.status.Note = "server said " + answer.String()
	return false, nil
}

// extend renews (with the lease's server) or rebinds (with any) until it
// gets an answer, the next phase begins, or the lease expires. It returns
// a new lease, or the next state.
func (c *Client) extend(ctx context.Context, conn *net.UDPConn, l *Lease, state State) (*Lease, State, error) {
	c.set(state, "")
	end, next, typ := l.Acquired.Add(l.T2), StateRebinding, Renew
	if state == StateRebinding {
		end, next, typ = l.Expiry(), StateSolicit, Rebind
	}
	if !time.Now().Before(end) {
		return nil, c.phaseOver(l, next), nil
	}
	ectx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	start := time.Now()
	var got *Lease
	var gone error
	err := c.exchange(ectx, conn, nil, func(elapsed uint16) *Message {
		m := c.message(typ, elapsed)
		if typ == Renew {
			m.Add(OptServerID, l.ServerID)
		}
		m.Add(OptIANA, c.iana(l))
		return m
	}, c.RenewRetry, 600*time.Second, 0, func(r *Message, from netip.Addr) bool {
		if r == nil || r.Type != Reply {
			return false
		}
		nl, err := ParseLease(r, c.DUID, c.IAID, start)
		var se *StatusError
		switch {
		case errors.As(err, &se) && (se.Status.Code == StatusNoBinding || se.Status.Code == StatusNotOnLink):
			gone = fmt.Errorf("%s refused to extend %s: %w", from, l.Addr, err)
			return true
		case err != nil:
			c.Logf("ignoring a REPLY to %s from %s: %v", typ, from, err)
			return false
		}
		nl.Server, got = from, nl
		return true
	})
	switch {
	case ctx.Err() != nil:
		return nil, state, ctx.Err()
	case gone != nil:
		c.Logf("%v", gone)
		c.status.Note = gone.Error()
		return nil, StateSolicit, nil
	case got != nil:
		return got, StateBound, nil
	case errors.Is(err, context.DeadlineExceeded):
		return nil, c.phaseOver(l, next), nil
	}
	return nil, state, err
}

func (c *Client) phaseOver(l *Lease, next State) State {
	if next == StateSolicit {
		c.Logf("lease of %s expired", l.Addr)
		c.status.Note = "lease expired"
	}
	return next
}

// Info is what an INFORMATION-REQUEST gets: configuration without an
// address (RFC 8415 section 18.2.6).
type Info struct {
	Server   netip.Addr
	DNS      []netip.Addr
	Domains  []string
	Refresh  time.Duration // when to ask again (option 32)
	Acquired time.Time
}

// OptInfoRefresh is the information refresh time option.
const OptInfoRefresh = 32

// ParseInfo reads the Reply to an INFORMATION-REQUEST.
func ParseInfo(m *Message, clientID DUID, acquired time.Time) (*Info, error) {
	if err := checkIDs(m, clientID); err != nil {
		return nil, err
	}
	st, err := status(m.Options)
	if err != nil {
		return nil, err
	}
	if st.Code != StatusSuccess {
		return nil, &StatusError{st}
	}
	in := &Info{Refresh: 24 * time.Hour, Acquired: acquired}
	if v, ok := m.Get(OptInfoRefresh); ok {
		if len(v) != 4 {
			return nil, malformed("option 32 (information refresh time) is %d bytes, not 4", len(v))
		}
		// No less than IRT_MINIMUM, 600 s.
		in.Refresh = max(seconds(binary.BigEndian.Uint32(v)), 600*time.Second)
	}
	if in.DNS, err = dnsServers(m); err != nil {
		return nil, err
	}
	if in.Domains, err = domainList(m); err != nil {
		return nil, err
	}
	return in, nil
}

// informed asks for the link's configuration and keeps it fresh while
// the routers advertise no addresses.
func (c *Client) informed(ctx context.Context, conn *net.UDPConn) (State, error) {
	c.set(StateInform, "")
	start := time.Now()
	var got *Info
	err := c.exchange(ctx, conn, c.renew, func(elapsed uint16) *Message {
		m := c.message(InfoRequest, elapsed)
		for i := range m.Options {
			if m.Options[i].Code == OptORO {
				m.Options[i].Data = append(m.Options[i].Data, 0, OptInfoRefresh)
			}
		}
		return m
	}, c.Retry, c.MaxRetry, 0, func(r *Message, from netip.Addr) bool {
		if r == nil {
			return !c.Stateless()
		}
		if r.Type != Reply {
			return false
		}
		in, err := ParseInfo(r, c.DUID, start)
		if err != nil {
			c.Logf("ignoring a REPLY to an INFORMATION-REQUEST from %s: %v", from, err)
			return false
		}
		in.Server, got = from, in
		return true
	})
	switch {
	case errors.Is(err, errRenew):
		return StateInform, nil
	case err != nil:
		return StateInform, err
	case got == nil:
		return StateSolicit, nil // addresses advertised now
	}
	c.Logf("configuration from %s: DNS %v, domains %v (refresh in %s)", got.Server, got.DNS, got.Domains, got.Refresh)
	c.Informed(got)
	c.set(StateInform, "")
	refresh := got.Acquired.Add(got.Refresh)
	for {
		timer := time.NewTimer(time.Until(minTime(refresh, time.Now().Add(c.MaxRetry))))
		select {
		case <-ctx.Done():
			timer.Stop()
			return StateInform, ctx.Err()
		case <-c.renew:
			timer.Stop()
			c.Logf("renewal asked for")
			return StateInform, nil
		case <-timer.C:
		}
		if !time.Now().Before(refresh) {
			return StateInform, nil
		}
		if !c.Stateless() {
			c.Informed(nil)
			return StateSolicit, nil
		}
	}
}
