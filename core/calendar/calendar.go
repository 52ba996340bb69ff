// Package calendar evaluates systemd OnCalendar= expressions: the
// shorthands (daily, weekly, …) and the "[DOW] [DATE] [TIME] [UTC]" form
// with wildcards, lists, ranges and repetitions.
package calendar

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Years outside this window are rejected, as systemd does; the bound also
// guarantees that Next terminates.
const (
	MinYear = 1970
	MaxYear = 2199
)

// Spec is a parsed calendar expression bound to a time zone.
type Spec struct {
	weekdays uint8 // bit n set: time.Weekday(n) matches
	year     field
	month    field
	day      field
	hour     field
	minute   field
	second   field
	utc      bool
	loc      *time.Location
}

// shorthand expands the named expressions systemd accepts.
func shorthand(name string) (string, bool) {
	switch name {
	case "minutely":
		return "*-*-* *:*:00", true
	case "hourly":
		return "*-*-* *:00:00", true
	case "daily":
		return "*-*-* 00:00:00", true
	case "weekly":
		return "Mon *-*-* 00:00:00", true
	case "monthly":
		return "*-*-01 00:00:00", true
	case "yearly", "annually":
		return "*-01-01 00:00:00", true
	case "quarterly":
		return "*-01,04,07,10-01 00:00:00", true
	case "semiannually":
		return "*-01,07-01 00:00:00", true
	}
	return "", false
}

// Parse parses s in the local time zone; see ParseIn.
func Parse(s string) (*Spec, error) {
	return ParseIn(s, time.Local)
}

// ParseIn parses s with times meant in loc (time.Local when nil). A
// trailing "UTC" in s overrides loc.
func ParseIn(s string, loc *time.Location) (*Spec, error) {
	spec, err := parse(s, loc)
	if err != nil {
		return nil, fmt.Errorf("calendar %q: %w", s, err)
	}
	return spec, nil
}

func parse(s string, loc *time.Location) (*Spec, error) {
	if loc == nil {
		loc = time.Local
	}
	toks := strings.Fields(s)
	spec := &Spec{loc: loc}
	if n := len(toks); n > 0 && toks[n-1] == "UTC" {
		spec.utc, spec.loc = true, time.UTC
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	if len(toks) == 1 {
		if exp, ok := shorthand(toks[0]); ok {
			toks = strings.Fields(exp)
		}
	}

	spec.weekdays = allWeekdays
	date, clock := "*-*-*", "00:00:00"
	i := 0
	if c := toks[i][0]; c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
		w, err := parseWeekdays(toks[i])
		if err != nil {
			return nil, err
		}
		spec.weekdays = w
		i++
	}
	if i < len(toks) && strings.Contains(toks[i], "-") && !strings.Contains(toks[i], ":") {
		date = toks[i]
		i++
	}
	if i < len(toks) && strings.Contains(toks[i], ":") {
		clock = toks[i]
		i++
	}
	if i < len(toks) {
		return nil, fmt.Errorf("unexpected %q: want [weekday] [date] [time] [UTC]", toks[i])
	}
	if err := spec.parseDate(date); err != nil {
		return nil, err
	}
	if err := spec.parseTime(clock); err != nil {
		return nil, err
	}
	return spec, nil
}

func (s *Spec) parseDate(tok string) error {
	parts := strings.Split(tok, "-")
	switch len(parts) {
	case 2: // MM-DD: any year
		parts = append([]string{"*"}, parts...)
	case 3:
	default:
		return fmt.Errorf("bad date %q: want [YYYY-]MM-DD", tok)
	}
	var err error
	if s.year, err = parseField(parts[0], "year", MinYear, MaxYear); err != nil {
		return err
	}
	if s.month, err = parseField(parts[1], "month", 1, 12); err != nil {
		return err
	}
	s.day, err = parseField(parts[2], "day", 1, 31)
	return err
}

func (s *Spec) parseTime(tok string) error {
	parts := strings.Split(tok, ":")
	switch len(parts) {
	case 2: // HH:MM: on the minute
		parts = append(parts, "00")
	case 3:
	default:
		return fmt.Errorf("bad time %q: want HH:MM[:SS]", tok)
	}
	var err error
	if s.hour, err = parseField(parts[0], "hour", 0, 23); err != nil {
		return err
	}
	if s.minute, err = parseField(parts[1], "minute", 0, 59); err != nil {
		return err
	}
	s.second, err = parseField(parts[2], "second", 0, 59)
	return err
}

// Location is the time zone the expression is evaluated in.
func (s *Spec) Location() *time.Location { return s.loc }

// String is the normalized expression, as systemd-analyze calendar prints
// it: every field present and zero-padded.
func (s *Spec) String() string {
	var b strings.Builder
	if s.weekdays != allWeekdays {
		b.WriteString(formatWeekdays(s.weekdays))
		b.WriteByte(' ')
	}
	b.WriteString(s.year.format(4))
	b.WriteByte('-')
	b.WriteString(s.month.format(2))
	b.WriteByte('-')
	b.WriteString(s.day.format(2))
	b.WriteByte(' ')
	b.WriteString(s.hour.format(2))
	b.WriteByte(':')
	b.WriteString(s.minute.format(2))
	b.WriteByte(':')
	b.WriteString(s.second.format(2))
	if s.utc {
		b.WriteString(" UTC")
	}
	return b.String()
}

// Next returns the first time strictly after after that matches, or false
// when there is none before the end of MaxYear.
//
// Matching is on wall-clock time in the Spec's zone: a time that a DST
// change skips never matches, and one it repeats matches once.
func (s *Spec) Next(after time.Time) (time.Time, bool) {
	a := after.In(s.loc)
	w := wallOf(a).Add(time.Second)
	for {
		c, ok := s.nextWall(w)
		if !ok {
			return time.Time{}, false
		}
		t := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), 0, s.loc)
		if wallOf(t).Equal(c) {
			if t.After(after) {
				return t, true
			}
			w = c.Add(time.Second)
			continue
		}
		// c fell into a gap that a zone change skips: resume at the wall
		// time where the change lands, the nearest zone edge after c.
		w = c.Add(time.Second)
		start, end := t.ZoneBounds()
		var land time.Time
		for _, edge := range []time.Time{start, end} {
			if edge.IsZero() {
				continue
			}
			if e := wallOf(edge.In(s.loc)); e.After(w) && (land.IsZero() || e.Before(land)) {
				land = e
			}
		}
		if !land.IsZero() {
			w = land
		}
	}
}

// wallOf holds t's wall-clock reading as a UTC time, so that arithmetic on
// it is free of zone changes.
func wallOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// nextWall finds the first wall-clock time at or after w that matches
// every field. Each step either matches or advances a larger field, so it
// stops within a few iterations per candidate month.
func (s *Spec) nextWall(w time.Time) (time.Time, bool) {
	y, mo0, d := w.Date()
	mo := int(mo0)
	h, mi, se := w.Clock()
	for {
		ny := s.year.next(y)
		if ny < 0 {
			return time.Time{}, false
		}
		if ny != y {
			y, mo, d, h, mi, se = ny, 1, 1, 0, 0, 0
		}
		nm := s.month.next(mo)
		if nm < 0 {
			y, mo, d, h, mi, se = y+1, 1, 1, 0, 0, 0
			continue
		}
		if nm != mo {
			mo, d, h, mi, se = nm, 1, 0, 0, 0
		}
		nd := s.nextDay(y, mo, d)
		if nd < 0 {
			mo, d, h, mi, se = mo+1, 1, 0, 0, 0
			continue
		}
		if nd != d {
			d, h, mi, se = nd, 0, 0, 0
		}
		nh := s.hour.next(h)
		if nh < 0 {
			d, h, mi, se = d+1, 0, 0, 0
			continue
		}
		if nh != h {
			h, mi, se = nh, 0, 0
		}
		nmi := s.minute.next(mi)
		if nmi < 0 {
			h, mi, se = h+1, 0, 0
			continue
		}
		if nmi != mi {
			mi, se = nmi, 0
		}
		nse := s.second.next(se)
		if nse < 0 {
			mi, se = mi+1, 0
			continue
		}
		return time.Date(y, time.Month(mo), d, h, mi, nse, 0, time.UTC), true
	}
}

// nextDay is the first day from d on in month mo of year y that matches
// both the day-of-month and the weekday set, or -1.
func (s *Spec) nextDay(y, mo, d int) int {
	last := daysIn(y, mo)
	for {
		d = s.day.next(d)
		if d < 0 || d > last {
			return -1
		}
		wd := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Weekday()
		if s.weekdays&(1<<wd) != 0 {
			return d
		}
		d++
	}
}

func daysIn(y, mo int) int {
	return time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// field is one component: the items as written (for String) and the set
// of values they cover (for matching). No items means "*".
type field struct {
	items    []item
	min, max int
	set      [4]uint64 // bit v-min; every range fits in 256 values
}

type item struct {
	start, end, step int // step 0: no repetition
}

func parseField(tok, name string, min, max int) (field, error) {
	f := field{min: min, max: max}
	if tok == "" {
		return f, fmt.Errorf("empty %s", name)
	}
	for _, part := range strings.Split(tok, ",") {
		if part == "*" {
			f.items = nil
			f.fill(item{min, max, 0})
			return f, nil // "*" swallows the rest of the list
		}
		it, err := parseItem(part, min, max)
		if err != nil {
			return f, fmt.Errorf("bad %s %q: %w", name, part, err)
		}
		f.items = append(f.items, it)
	}
	sort.Slice(f.items, func(i, j int) bool {
		a, b := f.items[i], f.items[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.step < b.step
	})
	out := f.items[:0]
	for i, it := range f.items {
		if i == 0 || it != f.items[i-1] {
			out = append(out, it)
		}
	}
	f.items = out
	for _, it := range f.items {
		f.fill(it)
	}
	return f, nil
}

func parseItem(s string, min, max int) (item, error) {
	rng, stepStr, hasStep := strings.Cut(s, "/")
	lo, hi, hasRange := strings.Cut(rng, "..")
	it := item{}
	var err error
	if lo == "*" && hasStep && !hasRange {
		it.start = min
	} else if it.start, err = number(lo, min, max); err != nil {
		return it, err
	}
	it.end = it.start
	if hasRange {
		if it.end, err = number(hi, min, max); err != nil {
			return it, err
		}
		if it.end < it.start {
			return it, fmt.Errorf("range %d..%d runs backwards", it.start, it.end)
		}
	}
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || n <= 0 || !digits(stepStr) {
			return it, fmt.Errorf("repetition %q is not a positive integer", stepStr)
		}
		it.step = n
		if !hasRange {
			it.end = max
		}
	}
	return it, nil
}

func number(s string, min, max int) (int, error) {
	if !digits(s) || len(s) > 4 {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, _ := strconv.Atoi(s)
	if n < min || n > max {
		return 0, fmt.Errorf("%d is out of range %d..%d", n, min, max)
	}
	return n, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (f *field) fill(it item) {
	step := it.step
	if step == 0 {
		step = 1
	}
	for v := it.start; v <= it.end; v += step {
		i := v - f.min
		f.set[i/64] |= 1 << (i % 64)
	}
}

// next is the smallest value >= v in the set, or -1.
func (f *field) next(v int) int {
	if v < f.min {
		v = f.min
	}
	if v > f.max {
		return -1
	}
	i := v - f.min
	for w := i / 64; w < len(f.set); w++ {
		word := f.set[w]
		if w == i/64 {
			word &^= (1 << (i % 64)) - 1
		}
		if word != 0 {
			return f.min + w*64 + bits.TrailingZeros64(word)
		}
	}
	return -1
}

func (f *field) format(width int) string {
	if f.items == nil {
		return "*"
	}
	parts := make([]string, len(f.items))
	for i, it := range f.items {
		p := fmt.Sprintf("%0*d", width, it.start)
		if it.end != it.start && !(it.step > 0 && it.end == f.max) {
			p += fmt.Sprintf("..%0*d", width, it.end)
		}
		if it.step > 0 {
			p += "/" + strconv.Itoa(it.step)
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

const allWeekdays = 0x7f

// weekdayNames is in systemd's order, Monday first.
var weekdayNames = [7]struct {
	short, long string
	day         time.Weekday
}{
	{"Mon", "Monday", time.Monday},
	{"Tue", "Tuesday", time.Tuesday},
	{"Wed", "Wednesday", time.Wednesday},
	{"Thu", "Thursday", time.Thursday},
	{"Fri", "Friday", time.Friday},
	{"Sat", "Saturday", time.Saturday},
	{"Sun", "Sunday", time.Sunday},
}

// weekdayIndex is the Monday-first position of a day name, or -1.
func weekdayIndex(s string) int {
	for i, n := range weekdayNames {
		if strings.EqualFold(s, n.short) || strings.EqualFold(s, n.long) {
			return i
		}
	}
	return -1
}

func parseWeekdays(tok string) (uint8, error) {
	var mask uint8
	for _, part := range strings.Split(tok, ",") {
		lo, hi, isRange := strings.Cut(part, "..")
		a := weekdayIndex(lo)
		if a < 0 {
			return 0, fmt.Errorf("bad weekday %q", lo)
		}
		b := a
		if isRange {
			if b = weekdayIndex(hi); b < 0 {
				return 0, fmt.Errorf("bad weekday %q", hi)
			}
			if b < a {
				return 0, fmt.Errorf("bad weekday range %q: runs backwards (weeks start on Monday)", part)
			}
		}
		for i := a; i <= b; i++ {
			mask |= 1 << weekdayNames[i].day
		}
	}
	return mask, nil
}

// formatWeekdays writes runs of three or more days as ranges, like
// systemd.
func formatWeekdays(mask uint8) string {
	var parts []string
	for i := 0; i < 7; {
		if mask&(1<<weekdayNames[i].day) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 7 && mask&(1<<weekdayNames[j+1].day) != 0 {
			j++
		}
		switch j - i {
		case 0:
			parts = append(parts, weekdayNames[i].short)
		case 1:
			parts = append(parts, weekdayNames[i].short, weekdayNames[j].short)
		default:
			parts = append(parts, weekdayNames[i].short+".."+weekdayNames[j].short)
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
