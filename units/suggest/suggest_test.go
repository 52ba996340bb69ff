package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"ExecStart", "ExecStrat", 2}, {"same", "same", 0},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNearest(t *testing.T) {
	keys := []string{"ExecStart", "ExecStop", "Restart", "Type"}
	for _, tt := range []struct{ in, want string }{
		{"ExecStrat", "ExecStart"},
		{"execstop", "ExecStop"},
		{"Restrat", "Restart"},
		{"Completely", ""},
	} {
		if got := Nearest(tt.in, keys); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"virtio_net", "virtio_blk", "virtio_rng", "e1000"}
	if got := Closest("virtio_nett", names, 4, 2); !slices.Equal(got, []string{"virtio_net", "virtio_blk"}) {
		t.Errorf("Closest = %q", got)
	}
	if got := Closest("zzz", names, 1, 3); got != nil {
		t.Errorf("Closest far = %q, want none", got)
	}
}
