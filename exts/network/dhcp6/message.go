// Package dhcp6 is a DHCPv6 client (RFC 8415) for addresses (IA_NA): the
// message format, and a client that obtains a lease by Solicit,
// Advertise, Request and Reply (or a rapid commit), renews it at T1,
// rebinds at T2, confirms it after the link comes back, and reports its
// expiry. It configures nothing itself: the caller applies each lease.
package dhcp6

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// MessageType is a message's first byte.
type MessageType uint8

// The message types of RFC 8415 section 7.3.
const (
	Solicit     MessageType = 1
	Advertise   MessageType = 2
	Request     MessageType = 3
	Confirm     MessageType = 4
	Renew       MessageType = 5
	Rebind      MessageType = 6
	Reply       MessageType = 7
	Release     MessageType = 8
	Decline     MessageType = 9
	Reconfigure MessageType = 10
	InfoRequest MessageType = 11
)

func (t MessageType) String() string {
	names := [...]string{"", "SOLICIT", "ADVERTISE", "REQUEST", "CONFIRM", "RENEW", "REBIND", "REPLY", "RELEASE", "DECLINE", "RECONFIGURE", "INFORMATION-REQUEST"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Option codes used here (RFC 8415 section 21, RFC 3646).
const (
	OptClientID    = 1
	OptServerID    = 2
	OptIANA        = 3
	OptIAAddr      = 5
	OptORO         = 6
	OptPreference  = 7
	OptElapsedTime = 8
	OptStatusCode  = 13
	OptRapidCommit = 14
	OptDNS         = 23
	OptDomainList  = 24
)

// Status codes (RFC 8415 section 21.13).
const (
	StatusSuccess      = 0
	StatusUnspecFail   = 1
	StatusNoAddrsAvail = 2
	StatusNoBinding    = 3
	StatusNotOnLink    = 4
	StatusUseMulticast = 5
)

// Option is one option, its value undecoded.
type Option struct {
	Code uint16
	Data []byte
}

// Message is a client/server message (RFC 8415 section 8).
type Message struct {
	Type    MessageType
	TxID    [3]byte
	Options []Option
}

// Add appends an option.
func (m *Message) Add(code uint16, data []byte) {
	m.Options = append(m.Options, Option{code, data})
}

// Get returns the first option of that code.
func (m *Message) Get(code uint16) ([]byte, bool) {
	return get(m.Options, code)
}

func get(opts []Option, code uint16) ([]byte, bool) {
	for _, o := range opts {
		if o.Code == code {
			return o.Data, true
		}
	}
	return nil, false
}

// Encode writes m in wire format.
func (m *Message) Encode() []byte {
	b := []byte{byte(m.Type), m.TxID[0], m.TxID[1], m.TxID[2]}
	return appendOptions(b, m.Options)
}

func appendOptions(b []byte, opts []Option) []byte {
	for _, o := range opts {
		b = binary.BigEndian.AppendUint16(b, o.Code)
		b = binary.BigEndian.AppendUint16(b, uint16(len(o.Data)))
		b = append(b, o.Data...)
	}
	return b
}

// EncodeOptions writes options in wire format, as the value of an
// option that holds others (IA_NA, IA Address).
func EncodeOptions(opts ...Option) []byte { return appendOptions(nil, opts) }

// ErrMalformed wraps every reason a message is refused.
var ErrMalformed = errors.New("malformed DHCPv6 message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Decode parses a message. It checks the framing only (options nested in
// IA_NA included): what a reply must carry is the lease's business.
func Decode(b []byte) (*Message, error) {
	if len(b) < 4 {
		return nil, malformed("%d bytes, shorter than a header", len(b))
	}
	m := &Message{Type: MessageType(b[0]), TxID: [3]byte(b[1:4])}
	opts, err := parseOptions(b[4:], "options")
	if err != nil {
		return nil, err
	}
	m.Options = opts
	return m, nil
}

func parseOptions(b []byte, where string) ([]Option, error) {
	var out []Option
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, malformed("%s: %d bytes left, too few for an option header", where, len(b))
		}
		code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			return nil, malformed("%s: option %d is %d bytes long but only %d remain", where, code, n, len(b)-4)
		}
		out = append(out, Option{code, b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

// StatusCode is a status code option: its code and message.
type StatusCode struct {
	Code    uint16
	Message string
}

func (s StatusCode) String() string {
	names := [...]string{"Success", "UnspecFail", "NoAddrsAvail", "NoBinding", "NotOnLink", "UseMulticast"}
	name := fmt.Sprintf("status %d", s.Code)
	if int(s.Code) < len(names) {
		name = names[s.Code]
	}
	if s.Message != "" {
		return name + " (" + s.Message + ")"
	}
	return name
}

// status reads the status code among opts; none means success.
func status(opts []Option) (StatusCode, error) {
	v, ok := get(opts, OptStatusCode)
	if !ok {
		return StatusCode{}, nil
	}
	if len(v) < 2 {
		return StatusCode{}, malformed("option 13 (status code) is %d bytes, fewer than 2", len(v))
	}
	return StatusCode{binary.BigEndian.Uint16(v), string(v[2:])}, nil
}

// DUID is a DHCP unique identifier (RFC 8415 section 11).
type DUID []byte

func (d DUID) String() string {
	parts := make([]string, len(d))
	for i, c := range d {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

// DUIDLL is a DUID from an Ethernet address (type 3).
func DUIDLL(mac []byte) DUID {
	return append(DUID{0, 3, 0, 1}, mac...)
}

// DUIDUUID is a DUID from a 128-bit UUID (type 4, RFC 6355), such as
// /etc/machine-id.
func DUIDUUID(uuid [16]byte) DUID {
	return append(DUID{0, 4}, uuid[:]...)
}

// Lease is the address a Reply gives in an IA_NA, with what else the
// server said.
type Lease struct {
	IAID      uint32
	Addr      netip.Addr
	Preferred time.Duration // the address's lifetimes
	Valid     time.Duration
	T1, T2    time.Duration // renewal and rebinding times
	ServerID  DUID
	Server    netip.Addr // where the reply came from
	DNS       []netip.Addr
	Domains   []string
	// Acquired is when the exchange that got the lease began: its times
	// count from then.
	Acquired time.Time
}

// Expiry is when the address's valid lifetime ends.
func (l *Lease) Expiry() time.Time { return l.Acquired.Add(l.Valid) }

// infinite is a lifetime or time of 0xffffffff seconds.
const infinite = 0xffffffff

// forever stands for "infinite": a hundred years, which no board
// outlives.
const forever = 100 * 365 * 24 * time.Hour

func seconds(s uint32) time.Duration {
	if s == infinite {
		return forever
	}
	return min(time.Duration(s)*time.Second, forever)
}

// ParseLease reads the lease an Advertise or Reply carries for iaid and
// checks what RFC 8415 requires of it (sections 16.3, 16.10, 18.2.10):
// the client's own identifier, a server identifier, an IA_NA with an
// address whose lifetimes hold together. acquired is when the exchange
// began. An error says what is wrong; one wrapping a *StatusError carries
// the server's refusal.
func ParseLease(m *Message, clientID DUID, iaid uint32, acquired time.Time) (*Lease, error) {
	if err := checkIDs(m, clientID); err != nil {
		return nil, err
	}
	sid, _ := m.Get(OptServerID)
	l := &Lease{IAID: iaid, ServerID: DUID(append([]byte(nil), sid...)), Acquired: acquired}
	st, err := status(m.Options)
	if err != nil {
		return nil, err
	}
	if st.Code != StatusSuccess {
		return nil, &StatusError{st}
	}
	var ia []byte
	for _, o := range m.Options {
		if o.Code == OptIANA && len(o.Data) >= 4 && binary.BigEndian.Uint32(o.Data) == iaid {
			ia = o.Data
			break
		}
	}
	if ia == nil {
		return nil, malformed("no IA_NA (option 3) for IAID %#x", iaid)
	}
	if len(ia) < 12 {
		return nil, malformed("IA_NA (option 3) is %d bytes, fewer than 12", len(ia))
	}
	t1, t2 := binary.BigEndian.Uint32(ia[4:]), binary.BigEndian.Uint32(ia[8:])
	if t1 != 0 && t2 != 0 && t1 > t2 {
		return nil, malformed("IA_NA has T1 %d s after T2 %d s", t1, t2)
	}
	inner, err := parseOptions(ia[12:], "IA_NA")
	if err != nil {
		return nil, err
	}
	st, err = status(inner)
	if err != nil {
		return nil, err
	}
	if st.Code != StatusSuccess {
		return nil, &StatusError{st}
	}
	for _, o := range inner {
		if o.Code != OptIAAddr {
			continue
		}
		if len(o.Data) < 24 {
			return nil, malformed("IA Address (option 5) is %d bytes, fewer than 24", len(o.Data))
		}
		a := netip.AddrFrom16([16]byte(o.Data[:16]))
		pref, valid := binary.BigEndian.Uint32(o.Data[16:]), binary.BigEndian.Uint32(o.Data[20:])
		if pref > valid {
			return nil, malformed("IA Address %s: preferred lifetime %d s beyond its valid lifetime %d s", a, pref, valid)
		}
		if valid == 0 {
			continue // the server takes it back
		}
		if !a.IsGlobalUnicast() && !a.IsPrivate() || a.Is4In6() {
			return nil, malformed("IA Address %s is not a unicast address", a)
		}
		aopts, err := parseOptions(o.Data[24:], "IA Address")
		if err != nil {
			return nil, err
		}
		if st, err := status(aopts); err != nil {
			return nil, err
		} else if st.Code != StatusSuccess {
			continue
		}
		l.Addr, l.Preferred, l.Valid = a, seconds(pref), seconds(valid)
		break
	}
	if !l.Addr.IsValid() {
		return nil, malformed("IA_NA has no usable address")
	}
	// T1 and T2 of 0 leave the times to the client: 0.5 and 0.8 of the
	// preferred lifetime (section 21.4); none goes past the valid one.
	l.T1, l.T2 = seconds(t1), seconds(t2)
	if t1 == 0 || t2 == 0 {
		l.T1, l.T2 = l.Preferred/2, l.Preferred/10*8
	}
	l.T2 = min(l.T2, l.Valid)
	l.T1 = min(l.T1, l.T2)
	if l.T1 <= 0 {
		// A preferred lifetime of 0: renew halfway through the valid one.
		l.T1, l.T2 = l.Valid/2, l.Valid/10*8
	}
	if l.DNS, err = dnsServers(m); err != nil {
		return nil, err
	}
	if l.Domains, err = domainList(m); err != nil {
		return nil, err
	}
	return l, nil
}

// checkIDs checks what every Advertise and Reply to this client carries.
func checkIDs(m *Message, clientID DUID) error {
	cid, ok := m.Get(OptClientID)
	if !ok {
		return malformed("no client identifier (option 1)")
	}
	if string(cid) != string(clientID) {
		return malformed("client identifier %s is not ours", DUID(cid))
	}
	sid, ok := m.Get(OptServerID)
	if !ok || len(sid) < 2 {
		return malformed("no server identifier (option 2)")
	}
	return nil
}

// StatusError is a server's refusal, by status code.
type StatusError struct{ Status StatusCode }

func (e *StatusError) Error() string { return "server said " + e.Status.String() }

// ReplyStatus reads the status of a Reply to a Confirm: the top-level
// status code, after the identifiers are checked.
func ReplyStatus(m *Message, clientID DUID) (StatusCode, error) {
	if err := checkIDs(m, clientID); err != nil {
		return StatusCode{}, err
	}
	return status(m.Options)
}

func dnsServers(m *Message) ([]netip.Addr, error) {
	v, ok := m.Get(OptDNS)
	if !ok {
		return nil, nil
	}
	if len(v) == 0 || len(v)%16 != 0 {
		return nil, malformed("option 23 (DNS servers) is %d bytes, not a list of addresses", len(v))
	}
	var out []netip.Addr
	for i := 0; i < len(v); i += 16 {
		a := netip.AddrFrom16([16]byte(v[i : i+16]))
		if a.IsUnspecified() || a.IsMulticast() {
			return nil, malformed("option 23 (DNS servers) lists %s", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// domainList decodes option 24: names in DNS wire format, uncompressed
// (RFC 8415 section 10).
func domainList(m *Message) ([]string, error) {
	v, ok := m.Get(OptDomainList)
	if !ok {
		return nil, nil
	}
	var out []string
	for len(v) > 0 {
		var labels []string
		for {
			if len(v) == 0 {
				return nil, malformed("option 24 (domain list): a name runs past the end")
			}
			n := int(v[0])
			v = v[1:]
			if n == 0 {
				break
			}
			if n > 63 || n > len(v) {
				return nil, malformed("option 24 (domain list): a label of %d bytes", n)
			}
			labels = append(labels, string(v[:n]))
			v = v[n:]
		}
		name := strings.Join(labels, ".")
		if !validDomain(name) {
			return nil, malformed("option 24 (domain list): %q is not a domain name", name)
		}
		out = append(out, name)
	}
	return out, nil
}

// EncodeDomains writes names as option 24 carries them.
func EncodeDomains(names ...string) []byte {
	var b []byte
	for _, n := range names {
		for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		b = append(b, 0)
	}
	return b
}

// validDomain accepts what may go on a resolv.conf search line.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// IAAddr is the value of an IA Address option.
func IAAddr(a netip.Addr, preferred, valid uint32, opts ...Option) []byte {
	v := a.As16()
	b := append([]byte(nil), v[:]...)
	b = binary.BigEndian.AppendUint32(b, preferred)
	b = binary.BigEndian.AppendUint32(b, valid)
	return appendOptions(b, opts)
}

// IANA is the value of an IA_NA option.
func IANA(iaid, t1, t2 uint32, opts ...Option) []byte {
	b := binary.BigEndian.AppendUint32(nil, iaid)
	b = binary.BigEndian.AppendUint32(b, t1)
	b = binary.BigEndian.AppendUint32(b, t2)
	return appendOptions(b, opts)
}
