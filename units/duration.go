package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a systemd time span: "90s", "5min", "1h 30min", "500ms",
// "infinity", or a bare number of seconds (TOML integer or string).
type Duration time.Duration

// Infinity is the value of "infinity": no timeout.
const Infinity = Duration(1<<63 - 1)

// UnmarshalTOML accepts a string or an integer number of seconds.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative duration %d", v)
		}
		*d = Duration(time.Duration(v) * time.Second)
		return nil
	case string:
		p, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*d = p
		return nil
	}
	return fmt.Errorf("want a duration string like \"5s\" or an integer of seconds, got %T", v)
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

var durationUnits = []struct {
	names []string
	d     time.Duration
}{
	{[]string{"us", "usec"}, time.Microsecond},
	{[]string{"ms", "msec"}, time.Millisecond},
	{[]string{"s", "sec", "second", "seconds"}, time.Second},
	{[]string{"m", "min", "minute", "minutes"}, time.Minute},
	{[]string{"h", "hr", "hour", "hours"}, time.Hour},
	{[]string{"d", "day", "days"}, 24 * time.Hour},
	{[]string{"w", "week", "weeks"}, 7 * 24 * time.Hour},
}

// ParseDuration parses a systemd time span.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "infinity" {
		return Infinity, nil
	}
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		mult := time.Duration(0)
		if unit == "" {
			mult = time.Second
		}
		for _, u := range durationUnits {
			for _, name := range u.names {
				if name == unit {
					mult = u.d
				}
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("bad duration %q: unknown unit %q", s, unit)
		}
		total += time.Duration(n * float64(mult))
	}
	return Duration(total), nil
}
