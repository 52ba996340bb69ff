package calendar

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // DST cases must not depend on the host's zoneinfo
)

func TestParseString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"minutely", "*-*-* *:*:00"},
		{"hourly", "*-*-* *:00:00"},
		{"daily", "*-*-* 00:00:00"},
		{"weekly", "Mon *-*-* 00:00:00"},
		{"monthly", "*-*-01 00:00:00"},
		{"yearly", "*-01-01 00:00:00"},
		{"annually", "*-01-01 00:00:00"},
		{"quarterly", "*-01,04,07,10-01 00:00:00"},
		{"semiannually", "*-01,07-01 00:00:00"},
		{"daily UTC", "*-*-* 00:00:00 UTC"},
		{"*:0/15", "*-*-* *:00/15:00"},
		{"*-*-* 02:30:00", "*-*-* 02:30:00"},
		{"Mon..Fri 09:00", "Mon..Fri *-*-* 09:00:00"},
		{"Sat,Sun *-*-* 10:00", "Sat,Sun *-*-* 10:00:00"},
		{"*-*-01 00:00:00", "*-*-01 00:00:00"},
		{"2026-12-24 18:00", "2026-12-24 18:00:00"},
		{"2026-12-24", "2026-12-24 00:00:00"},
		{"12-25", "*-12-25 00:00:00"},
		{"Mon,Tue,Wed", "Mon..Wed *-*-* 00:00:00"},
		{"monday", "Mon *-*-* 00:00:00"},
		{"Saturday,SUNDAY 7:5", "Sat,Sun *-*-* 07:05:00"},
		{"Wed..Sat,Tue", "Tue..Sat *-*-* 00:00:00"},
		{"Mon..Sun", "*-*-* 00:00:00"},
		{"Mon,Wed,Fri,Sun 1:2", "Mon,Wed,Fri,Sun *-*-* 01:02:00"},
		{"*-*-* 8..18/2:00", "*-*-* 08..18/2:00:00"},
		{"*-*-5,1 3:4:5", "*-*-01,05 03:04:05"},
		{"*-*-1,1,1 0:0", "*-*-01 00:00:00"},
		{"*:*:*", "*-*-* *:*:*"},
		{"*:*/20", "*-*-* *:00/20:00"},
		{"*:5,*", "*-*-* *:*:00"},
		{"2026/2-1..3-1", "2026/2-01..03-01 00:00:00"},
		{"  *-*-*   10:00   UTC ", "*-*-* 10:00:00 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseIn(tt.in, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			again, err := ParseIn(s.String(), time.UTC)
			if err != nil {
				t.Fatalf("normalized form does not parse: %v", err)
			}
			if again.String() != s.String() {
				t.Errorf("round trip %q -> %q", s.String(), again.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"UTC", "empty"},
		{"Mon..Fry 09:00", `"Fry"`},
		{"Funday", `"Funday"`},
		{"Fri..Mon", "backwards"},
		{"25:00", "hour"},
		{"*:60", "minute"},
		{"*:*:60", "second"},
		{"*-13-01", "month"},
		{"*-00-01", "month"},
		{"*-*-32", "day"},
		{"*-*-0", "day"},
		{"1969-01-01", "year"},
		{"2200-01-01", "year"},
		{"*:0/0", "repetition"},
		{"*:0/x", "repetition"},
		{"*:5..3", "backwards"},
		{"*:a", "minute"},
		{"*:-1", `bad minute "-1"`},
		{"*-*-~1", "day"},
		{"10:00 Mon", `unexpected "Mon"`},
		{"daily extra", `bad weekday "daily"`},
		{"*-*-*-*", "date"},
		{"1:2:3:4", "time"},
		{"12:00:00.5", "second"},
		{"*-*-* 10:00 Europe/Berlin", `unexpected "Europe/Berlin"`},
		{"*-,-*", `bad month ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseIn(tt.in, time.UTC)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseIn(%q) error = %v, want one containing %s", tt.in, err, tt.want)
			}
		})
	}
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextUTC(t *testing.T) {
	tests := []struct {
		spec, after, want string // want "" means never
	}{
		{"*:0/15", "2026-03-10 10:07:30", "2026-03-10 10:15:00"},
		{"*:0/15", "2026-03-10 10:15:00", "2026-03-10 10:30:00"},
		{"*:0/15", "2026-03-10 10:14:59.999", "2026-03-10 10:15:00"},
		{"*:0/15", "2026-03-10 23:45:00", "2026-03-11 00:00:00"},
		{"*-*-* 02:30:00", "2026-03-10 02:30:00", "2026-03-11 02:30:00"},
		{"*-*-* 02:30:00", "2026-03-10 02:29:59", "2026-03-10 02:30:00"},
		{"Mon..Fri 09:00", "2026-03-13 09:00:00", "2026-03-16 09:00:00"},
		{"Mon..Fri 09:00", "2026-03-16 08:00:00", "2026-03-16 09:00:00"},
		{"Sat,Sun *-*-* 10:00", "2026-03-16 00:00:00", "2026-03-21 10:00:00"},
		{"Sat,Sun *-*-* 10:00", "2026-03-21 10:00:00", "2026-03-22 10:00:00"},
		{"*-*-01 00:00:00", "2026-01-31 12:00:00", "2026-02-01 00:00:00"},
		{"*-*-31", "2026-01-31 00:00:00", "2026-03-31 00:00:00"},
		{"*-*-31", "2026-04-01 00:00:00", "2026-05-31 00:00:00"},
		{"*-*-30", "2026-01-30 00:00:00", "2026-03-30 00:00:00"},
		{"*-02-29", "2026-01-01 00:00:00", "2028-02-29 00:00:00"},
		{"*-02-29", "2028-02-29 00:00:00", "2032-02-29 00:00:00"},
		{"*-02-29 12:00", "2100-01-01 00:00:00", "2104-02-29 12:00:00"},
		{"*-02-30", "2026-01-01 00:00:00", ""},
		{"Mon *-02-30", "2026-01-01 00:00:00", ""},
		{"2026-12-24 18:00", "2020-05-05 05:05:05", "2026-12-24 18:00:00"},
		{"2026-12-24 18:00", "2026-12-24 18:00:00", ""},
		{"Fri *-*-13", "2026-01-01 00:00:00", "2026-02-13 00:00:00"},
		{"Fri *-*-13", "2026-02-13 00:00:00", "2026-03-13 00:00:00"},
		{"yearly", "2199-06-01 00:00:00", ""},
		{"yearly", "1900-06-01 00:00:00", "1970-01-01 00:00:00"},
		{"quarterly", "2026-04-01 00:00:00", "2026-07-01 00:00:00"},
		{"semiannually", "2026-07-01 00:00:00", "2027-01-01 00:00:00"},
		{"weekly", "2026-03-16 00:00:00", "2026-03-23 00:00:00"},
		{"monthly", "2026-12-15 00:00:00", "2027-01-01 00:00:00"},
		{"minutely", "2026-03-10 10:07:30.5", "2026-03-10 10:08:00"},
		{"hourly", "2026-12-31 23:30:00", "2027-01-01 00:00:00"},
		{"daily", "2026-12-31 23:59:59.999", "2027-01-01 00:00:00"},
		{"*:*:*", "2026-03-10 10:00:00.5", "2026-03-10 10:00:01"},
		{"*:*:*", "2026-03-10 10:00:01", "2026-03-10 10:00:02"},
		{"*-*-* 8..18/2:00", "2026-03-10 18:00:00", "2026-03-11 08:00:00"},
		{"*-*-* 8..18/2:00", "2026-03-10 09:00:00", "2026-03-10 10:00:00"},
		{"2026/2-*-* 00:00", "2026-12-31 00:00:00", "2028-01-01 00:00:00"},
		{"2199-12-31 23:59:59", "2199-12-31 23:59:58", "2199-12-31 23:59:59"},
		{"2199-12-31 23:59:59", "2199-12-31 23:59:59", ""},
		{"*-*-* 10:00 UTC", "2026-03-10 10:00:00", "2026-03-11 10:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.after, func(t *testing.T) {
			s, err := ParseIn(tt.spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Next(utc(tt.after))
			if tt.want == "" {
				if ok {
					t.Fatalf("Next = %v, want never", got)
				}
				return
			}
			if !ok {
				t.Fatalf("Next = never, want %s", tt.want)
			}
			if want := utc(tt.want); !got.Equal(want) {
				t.Fatalf("Next = %v, want %v", got, want)
			}
			if again, ok := s.Next(got); ok && !again.After(got) {
				t.Errorf("Next after a match = %v, not later than %v", again, got)
			}
		})
	}
}

// TestNextUTCOverridesLocation checks that a trailing UTC wins over the
// zone passed to ParseIn.
func TestNextUTCOverridesLocation(t *testing.T) {
	plus5 := time.FixedZone("P5", 5*3600)
	tests := []struct {
		spec string
		want time.Time
	}{
		{"*-*-* 10:00", time.Date(2026, 3, 11, 10, 0, 0, 0, plus5)},
		{"*-*-* 10:00 UTC", time.Date(2026, 3, 11, 10, 0, 0, 0, time.UTC)},
	}
	after := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC) // 05:00 in P5
	for _, tt := range tests {
		s, err := ParseIn(tt.spec, plus5)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := s.Next(after)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%s: Next = %v %v, want %v", tt.spec, got, ok, tt.want)
		}
		if got.Location() != s.Location() {
			t.Errorf("%s: result in %v, want %v", tt.spec, got.Location(), s.Location())
		}
	}
}

func TestNextDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, mo time.Month, d, h, mi int, zone string) time.Time {
		t.Helper()
		for _, off := range []int{-4, -5} { // EDT, EST
			c := time.Date(y, mo, d, h, mi, 0, 0, time.UTC).Add(-time.Duration(off) * time.Hour).In(ny)
			if name, _ := c.Zone(); name == zone && c.Hour() == h && c.Minute() == mi {
				return c
			}
		}
		t.Fatalf("%d-%d-%d %d:%d %s does not exist", y, mo, d, h, mi, zone)
		return time.Time{}
	}
	tests := []struct {
		name        string
		spec        string
		after, want time.Time
	}{
		// 2026-03-08 02:00 EST jumps to 03:00 EDT.
		{"skipped time is skipped", "*-*-* 02:30", at(2026, 3, 8, 0, 0, "EST"), at(2026, 3, 9, 2, 30, "EDT")},
		{"minutely across the gap", "minutely", at(2026, 3, 8, 1, 59, "EST"), at(2026, 3, 8, 3, 0, "EDT")},
		{"every second across the gap", "*:*:*", at(2026, 3, 8, 1, 59, "EST").Add(59 * time.Second), at(2026, 3, 8, 3, 0, "EDT")},
		{"hourly across the gap", "hourly", at(2026, 3, 8, 1, 0, "EST"), at(2026, 3, 8, 3, 0, "EDT")},
		// 2026-11-01 02:00 EDT falls back to 01:00 EST.
		{"repeated time fires once", "*-*-* 01:30", at(2026, 11, 1, 0, 0, "EDT"), at(2026, 11, 1, 1, 30, "EDT")},
		{"repeated time not again", "*-*-* 01:30", at(2026, 11, 1, 1, 30, "EDT"), at(2026, 11, 2, 1, 30, "EST")},
		{"inside the repeat", "*:0/15", at(2026, 11, 1, 1, 10, "EST"), at(2026, 11, 1, 2, 0, "EST")},
		{"daily keeps wall clock", "daily", at(2026, 11, 1, 0, 0, "EDT"), at(2026, 11, 2, 0, 0, "EST")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseIn(tt.spec, ny)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Next(tt.after)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("Next(%v) = %v %v, want %v", tt.after, got, ok, tt.want)
			}
		})
	}
}

// matches checks t against the spec's fields directly, independent of the
// search in Next.
func matches(s *Spec, t time.Time) bool {
	w := t.In(s.loc)
	has := func(f field, v int) bool { return f.next(v) == v }
	return s.weekdays&(1<<w.Weekday()) != 0 &&
		has(s.year, w.Year()) && has(s.month, int(w.Month())) && has(s.day, w.Day()) &&
		has(s.hour, w.Hour()) && has(s.minute, w.Minute()) && has(s.second, w.Second())
}

// TestNextBruteForce compares Next with a scan minute by minute.
func TestNextBruteForce(t *testing.T) {
	specs := []string{
		"*:0/7", "Mon..Wed,Fri *-*-* 8..17/3:05", "*-*-28..31 23:59", "Sun *-*-1..7 04:00",
		"*-02,03-* 00/5:30", "hourly", "Thu 12:00",
	}
	start := utc("2027-02-20 00:00:00")
	end := start.Add(40 * 24 * time.Hour)
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			s, err := ParseIn(spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			var want []time.Time
			for m := start.Add(time.Minute); m.Before(end); m = m.Add(time.Minute) {
				if matches(s, m) {
					want = append(want, m)
				}
			}
			var got []time.Time
			for cur := start; ; {
				n, ok := s.Next(cur)
				if !ok || !n.Before(end) {
					break
				}
				got = append(got, n)
				cur = n
			}
			if len(got) != len(want) {
				t.Fatalf("Next found %d matches, brute force %d", len(got), len(want))
			}
			for i := range got {
				if !got[i].Equal(want[i]) {
					t.Fatalf("match %d: Next %v, brute force %v", i, got[i], want[i])
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"daily", "*:0/15", "Mon..Fri 09:00", "Sat,Sun *-*-* 10:00", "*-02-29", "2026-12-24 18:00 UTC",
		"*-*-31 23:59:59", "Fri *-*-13", "2199-12-31", "*:*:*", "1970/7-1/5-1/9 1/5:2/7:3/11",
	} {
		f.Add(s)
	}
	afters := []time.Time{utc("1960-01-01 00:00:00"), utc("2026-03-10 10:07:30.5"), utc("2199-12-31 23:59:59")}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseIn(in, time.UTC)
		if err != nil {
			return
		}
		again, err := ParseIn(s.String(), time.UTC)
		if err != nil || again.String() != s.String() {
			t.Fatalf("%q normalizes to %q, which reparses as %v, %v", in, s.String(), again, err)
		}
		for _, a := range afters {
			n, ok := s.Next(a)
			if !ok {
				continue
			}
			if !n.After(a) || !matches(s, n) || n.Year() > MaxYear {
				t.Fatalf("%q: Next(%v) = %v", in, a, n)
			}
		}
	})
}

func BenchmarkNext(b *testing.B) {
	tests := []string{"*:0/15", "Fri *-*-13", "*-02-29", "2199-12-31 23:59:59", "Mon *-02-30"}
	after := utc("2026-03-10 10:07:30")
	for _, spec := range tests {
		s, err := ParseIn(spec, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.Next(after)
			}
		})
	}
}
