package units

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Unlimited is the value "infinity" takes in Rlimit, Bytes and Count.
const Unlimited = 1<<64 - 1

// Rlimit is a resource limit: an integer (soft = hard), "infinity", or
// "SOFT:HARD". Numbers may carry a K/M/G/T/P/E suffix (powers of 1024).
type Rlimit struct{ Soft, Hard uint64 }

// UnmarshalTOML accepts an integer or a string.
func (r *Rlimit) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative limit %d", v)
		}
		*r = Rlimit{uint64(v), uint64(v)}
		return nil
	case string:
		soft, hard, pair := strings.Cut(v, ":")
		s, err := parseSize(soft)
		if err != nil {
			return err
		}
		h := s
		if pair {
			if h, err = parseSize(hard); err != nil {
				return err
			}
		}
		if s > h {
			return fmt.Errorf("%q: soft limit above hard limit", v)
		}
		*r = Rlimit{s, h}
		return nil
	}
	return fmt.Errorf("want an integer, \"infinity\" or \"SOFT:HARD\", got %T", v)
}

// Bytes is a size in bytes: an integer, "64M", "1G" (powers of 1024) or
// "infinity" (Unlimited).
type Bytes uint64

// UnmarshalTOML accepts an integer or a string.
func (b *Bytes) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative size %d", v)
		}
		*b = Bytes(v)
		return nil
	case string:
		if pct, ok, err := percent(v); ok {
			if err != nil {
				return err
			}
			var si unix.Sysinfo_t
			if err := unix.Sysinfo(&si); err != nil {
				return fmt.Errorf("%q: physical memory: %w", v, err)
			}
			*b = Bytes(pct * float64(uint64(si.Totalram)*uint64(si.Unit)) / 100)
			return nil
		}
		n, err := parseSize(v)
		*b = Bytes(n)
		return err
	}
	return fmt.Errorf("want an integer or a size like \"64M\", \"50%%\" or \"infinity\", got %T", v)
}

// Count is a number or "infinity" (Unlimited).
type Count uint64

// UnmarshalTOML accepts an integer or "infinity".
func (c *Count) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative count %d", v)
		}
		*c = Count(v)
		return nil
	case string:
		if v == "infinity" {
			*c = Unlimited
			return nil
		}
		if pct, ok, err := percent(v); ok {
			if err != nil {
				return err
			}
			*c = Count(pct * float64(maxTasks()) / 100)
			return nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number or \"infinity\"", v)
		}
		*c = Count(n)
		return nil
	}
	return fmt.Errorf("want an integer or \"infinity\", got %T", v)
}

// percent reads "N%" (ok reports the form); systemd resolves such limits
// against the machine the unit runs on, and so does Parse.
func percent(s string) (float64, bool, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, false, nil
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p < 0 || p > 100 {
		return 0, true, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
	}
	return p, true, nil
}

// maxTasks is the kernel's limit on tasks: the smaller of pid_max and
// threads-max, as systemd takes it.
func maxTasks() uint64 {
	limit := uint64(4194304)
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < limit {
			limit = n
		}
	}
	return limit
}

const sizeSuffixes = "KMGTPE"

func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return Unlimited, nil
	}
	mult := uint64(1)
	num := s
	if s != "" {
		if i := strings.IndexByte(sizeSuffixes, s[len(s)-1]); i >= 0 {
			num = s[:len(s)-1]
			mult = 1 << (10 * (i + 1))
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number with an optional K, M, G, T suffix, or \"infinity\"", s)
	}
	if n > (Unlimited-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// FileMode is an octal permission value written as a string ("0022").
type FileMode uint32

// UnmarshalTOML accepts a string of octal digits. TOML integers are refused:
// 22 and 0o22 would both arrive as numbers and be easy to get wrong.
func (m *FileMode) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want an octal string like \"0022\", got %T", v)
	}
	n, err := ParseFileMode(s)
	*m = n
	return err
}

// ParseFileMode parses an octal mode of up to four digits.
func ParseFileMode(s string) (FileMode, error) {
	if s == "" || len(s) > 4 {
		return 0, fmt.Errorf("%q is not an octal mode like \"0022\"", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal mode like \"0022\"", s)
	}
	return FileMode(n), nil
}

func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// ExitStatusSet is a set of exit codes and signal names, as in
// RestartPreventExitStatus: "1 2 SIGTERM", [1, "SIGKILL"] or 3.
type ExitStatusSet struct {
	Codes   []int
	Signals []string // names like "SIGTERM"
}

// UnmarshalTOML accepts an integer, a string of words, or an array of both.
func (e *ExitStatusSet) UnmarshalTOML(v any) error {
	var out ExitStatusSet
	add := func(x any) error {
		switch x := x.(type) {
		case int64:
			if x < 0 || x > 255 {
				return fmt.Errorf("exit code %d is not in 0..255", x)
			}
			out.Codes = append(out.Codes, int(x))
		case string:
			for _, w := range strings.Fields(x) {
				if n, err := strconv.Atoi(w); err == nil {
					if n < 0 || n > 255 {
						return fmt.Errorf("exit code %d is not in 0..255", n)
					}
					out.Codes = append(out.Codes, n)
					continue
				}
				sig := w
				if !strings.HasPrefix(sig, "SIG") {
					sig = "SIG" + sig
				}
				if unix.SignalNum(sig) == 0 {
					return fmt.Errorf("%q is neither an exit code nor a signal name", w)
				}
				out.Signals = append(out.Signals, sig)
			}
		default:
			return fmt.Errorf("want exit codes and signal names, got %T", x)
		}
		return nil
	}
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if err := add(x); err != nil {
				return err
			}
		}
	} else if err := add(v); err != nil {
		return err
	}
	*e = out
	return nil
}

// Prevents reports whether an exit with code (or by signal, when sig is
// non-empty) is in the set.
func (e ExitStatusSet) Prevents(code int, sig string) bool {
	if sig != "" {
		return oneOf(sig, e.Signals...)
	}
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}
