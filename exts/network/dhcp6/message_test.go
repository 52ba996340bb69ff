package dhcp6

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	testDUID   = DUIDLL([]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
	serverDUID = DUID{0, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	testAddr   = netip.MustParseAddr("2001:db8::100")
)

const testIAID = 0x12345678

// reply is a valid Reply for testDUID; edit changes it before it is
// encoded.
func reply(edit func(m *Message)) []byte {
	m := &Message{Type: Reply, TxID: [3]byte{1, 2, 3}}
	m.Add(OptServerID, serverDUID)
	m.Add(OptClientID, testDUID)
	m.Add(OptIANA, IANA(testIAID, 1800, 2880, Option{OptIAAddr, IAAddr(testAddr, 3600, 7200)}))
	m.Add(OptDNS, netip.MustParseAddr("2001:db8::53").AsSlice())
	m.Add(OptDomainList, EncodeDomains("lab.example", "example.org."))
	if edit != nil {
		edit(m)
	}
	return m.Encode()
}

func replace(m *Message, code uint16, data []byte) {
	for i := range m.Options {
		if m.Options[i].Code == code {
			m.Options[i].Data = data
		}
	}
}

func TestParseLease(t *testing.T) {
	m, err := Decode(reply(nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l, err := ParseLease(m, testDUID, testIAID, now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr != testAddr || l.Preferred != time.Hour || l.Valid != 2*time.Hour || l.T1 != 30*time.Minute || l.T2 != 48*time.Minute {
		t.Errorf("lease %+v", l)
	}
	if !slices.Equal(l.DNS, []netip.Addr{netip.MustParseAddr("2001:db8::53")}) || !slices.Equal(l.Domains, []string{"lab.example", "example.org"}) {
		t.Errorf("dns %v domains %v", l.DNS, l.Domains)
	}
	if string(l.ServerID) != string(serverDUID) || l.Expiry() != now.Add(2*time.Hour) {
		t.Errorf("server %s expiry %v", l.ServerID, l.Expiry())
	}
	// T1 and T2 left to the client: from the preferred lifetime.
	m, _ = Decode(reply(func(m *Message) {
		replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptIAAddr, IAAddr(testAddr, 1000, 2000)}))
	}))
	if l, err = ParseLease(m, testDUID, testIAID, now); err != nil || l.T1 != 500*time.Second || l.T2 != 800*time.Second {
		t.Errorf("default times: %+v %v", l, err)
	}
	// Infinite lifetimes.
	m, _ = Decode(reply(func(m *Message) {
		replace(m, OptIANA, IANA(testIAID, infinite, infinite, Option{OptIAAddr, IAAddr(testAddr, infinite, infinite)}))
	}))
	if l, err = ParseLease(m, testDUID, testIAID, now); err != nil || l.Valid != forever || l.T1 != forever {
		t.Errorf("infinite: %+v %v", l, err)
	}
}

func TestEncodeDecode(t *testing.T) {
	m := &Message{Type: Solicit, TxID: [3]byte{9, 8, 7}}
	m.Add(OptClientID, testDUID)
	m.Add(OptRapidCommit, nil)
	m.Add(OptIANA, IANA(1, 0, 0))
	got, err := Decode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != Solicit || got.TxID != m.TxID || len(got.Options) != 3 {
		t.Fatalf("decoded %+v", got)
	}
	if v, ok := got.Get(OptRapidCommit); !ok || len(v) != 0 {
		t.Errorf("rapid commit %v %v", v, ok)
	}
	if v, _ := got.Get(OptIANA); binary.BigEndian.Uint32(v) != 1 || len(v) != 12 {
		t.Errorf("IA_NA %v", v)
	}
}

func TestMalformed(t *testing.T) {
	otherClient := DUIDLL([]byte{2, 0, 0, 0, 0, 1})
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{7, 1}, "2 bytes, shorter than a header"},
		{"truncated option", append(reply(nil), 0, 23, 0, 16, 1, 2), "options: option 23 is 16 bytes long but only 2 remain"},
		{"half an option header", append(reply(nil), 0, 23), "2 bytes left, too few for an option header"},
		{"no client id", reply(func(m *Message) { replace(m, OptClientID, nil); m.Options = m.Options[:1] }), "no client identifier"},
		{"another client", reply(func(m *Message) { replace(m, OptClientID, otherClient) }), "client identifier 00:03:00:01:02:00:00:00:00:01 is not ours"},
		{"no server id", reply(func(m *Message) { replace(m, OptServerID, nil) }), "no server identifier"},
		{"no IA_NA", reply(func(m *Message) { replace(m, OptIANA, IANA(1, 0, 0)) }), "no IA_NA (option 3) for IAID 0x12345678"},
		{"T1 after T2", reply(func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 100, 50, Option{OptIAAddr, IAAddr(testAddr, 3600, 7200)}))
		}), "T1 100 s after T2 50 s"},
		{"preferred beyond valid", reply(func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptIAAddr, IAAddr(testAddr, 7200, 3600)}))
		}), "preferred lifetime 7200 s beyond its valid lifetime 3600 s"},
		{"short IA Address", reply(func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptIAAddr, []byte{1, 2, 3}}))
		}), "IA Address (option 5) is 3 bytes"},
		{"nested overrun", reply(func(m *Message) {
			replace(m, OptIANA, append(IANA(testIAID, 0, 0), 0, 5, 0, 99))
		}), "IA_NA: option 5 is 99 bytes long but only 0 remain"},
		{"multicast address", reply(func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptIAAddr, IAAddr(netip.MustParseAddr("ff02::1"), 1, 2)}))
		}), "IA Address ff02::1 is not a unicast address"},
		{"only a withdrawn address", reply(func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptIAAddr, IAAddr(testAddr, 0, 0)}))
		}), "IA_NA has no usable address"},
		{"dns length", reply(func(m *Message) { replace(m, OptDNS, []byte{1, 2, 3}) }), "option 23 (DNS servers) is 3 bytes"},
		{"domain overrun", reply(func(m *Message) { replace(m, OptDomainList, []byte{3, 'l', 'a'}) }), "option 24 (domain list): a label of 3 bytes"},
		{"domain unterminated", reply(func(m *Message) { replace(m, OptDomainList, []byte{2, 'l', 'a'}) }), "a name runs past the end"},
		{"domain characters", reply(func(m *Message) { replace(m, OptDomainList, EncodeDomains("a b")) }), `"a b" is not a domain name`},
		{"short status", reply(func(m *Message) { m.Add(OptStatusCode, []byte{0}) }), "option 13 (status code) is 1 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.b)
			if err == nil {
				_, err = ParseLease(m, testDUID, testIAID, time.Now())
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m *Message)
		code uint16
	}{
		{"top level", func(m *Message) { m.Add(OptStatusCode, append([]byte{0, StatusUnspecFail}, "busy"...)) }, StatusUnspecFail},
		{"in the IA_NA", func(m *Message) {
			replace(m, OptIANA, IANA(testIAID, 0, 0, Option{OptStatusCode, []byte{0, StatusNoAddrsAvail}}))
		}, StatusNoAddrsAvail},
	} {
		m, _ := Decode(reply(tc.edit))
		_, err := ParseLease(m, testDUID, testIAID, time.Now())
		var se *StatusError
		if !errors.As(err, &se) || se.Status.Code != tc.code {
			t.Errorf("%s: %v, want status %d", tc.name, err, tc.code)
		}
	}
	m, _ := Decode(reply(func(m *Message) { m.Add(OptStatusCode, append([]byte{0, StatusNotOnLink}, "moved"...)) }))
	if st, err := ReplyStatus(m, testDUID); err != nil || st.String() != "NotOnLink (moved)" {
		t.Errorf("ReplyStatus: %v %v", st, err)
	}
}

func TestParseInfo(t *testing.T) {
	b := reply(func(m *Message) {
		m.Options = append(m.Options[:2], m.Options[3:]...)
		m.Add(OptInfoRefresh, []byte{0, 0, 0, 10})
	})
	m, _ := Decode(b)
	in, err := ParseInfo(m, testDUID, time.Now())
	if err != nil || len(in.DNS) != 1 || len(in.Domains) != 2 || in.Refresh != 600*time.Second {
		t.Errorf("info %+v %v (a refresh of 10 s is raised to 600 s)", in, err)
	}
	m, _ = Decode(reply(func(m *Message) { m.Add(OptInfoRefresh, []byte{1}) }))
	if _, err := ParseInfo(m, testDUID, time.Now()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "option 32 (information refresh time) is 1 bytes") {
		t.Errorf("bad refresh time: %v", err)
	}
}

func TestDUID(t *testing.T) {
	if got := DUIDLL([]byte{0x52, 0x54, 0, 1, 2, 3}).String(); got != "00:03:00:01:52:54:00:01:02:03" {
		t.Errorf("DUID-LL %s", got)
	}
	if got := DUIDUUID([16]byte{15: 1}); len(got) != 18 || got[1] != 4 || got[17] != 1 {
		t.Errorf("DUID-UUID %s", got)
	}
}

// FuzzDecode6: no input may panic; what decodes and gives a lease gives
// one that holds together.
func FuzzDecode6(f *testing.F) {
	f.Add(reply(nil))
	f.Add(reply(func(m *Message) { m.Add(OptStatusCode, []byte{0, 2}) }))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if _, err := ReplyStatus(m, testDUID); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ReplyStatus error %v is not ErrMalformed", err)
		}
		if in, err := ParseInfo(m, testDUID, time.Now()); err == nil && in.Refresh < 600*time.Second {
			t.Fatalf("refresh time %s under the minimum", in.Refresh)
		}
		l, err := ParseLease(m, testDUID, testIAID, time.Now())
		if err != nil {
			var se *StatusError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &se) {
				t.Fatalf("error %v is neither ErrMalformed nor a refusal", err)
			}
			return
		}
		if !l.Addr.IsValid() || l.Valid <= 0 || l.Preferred > l.Valid || l.T1 <= 0 || l.T1 > l.T2 || l.T2 > l.Valid {
			t.Fatalf("incoherent lease %+v", l)
		}
	})
}
