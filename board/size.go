package board

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a number of bytes, written in a board file as an integer or a
// string with a binary unit: "512K", "8M", "1G", "8MiB".
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
}

// ParseSize reads a size as a board file writes it.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || t == "" || strings.ContainsAny(t, "eE+-") {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with K, M or G)", s)
	}
	v := n * float64(mult)
	if v > 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(v), nil
}

// UnmarshalTOML takes an integer or a string.
func (z *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("%d is not a size", v)
		}
		*z = Size(v)
		return nil
	case string:
		s, err := ParseSize(v)
		if err != nil {
			return err
		}
		*z = s
		return nil
	}
	return fmt.Errorf("%v is not a size (an integer, or a string such as \"8M\")", v)
}

// String writes the size in the largest unit that divides it.
func (z Size) String() string {
	for _, u := range []struct {
		s string
		m int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if int64(z) >= u.m && int64(z)%u.m == 0 {
			return fmt.Sprintf("%d%s", int64(z)/u.m, u.s)
		}
	}
	return strconv.FormatInt(int64(z), 10)
}
