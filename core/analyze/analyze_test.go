package analyze

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

const ms = time.Millisecond

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{345 * ms, "345ms"},
		{1234 * ms, "1.234s"},
		{62500 * ms, "1min 2.500s"},
	} {
		if got := Format(tt.d); got != tt.want {
			t.Errorf("Format(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// sample is a boot: pid 1 at 1 s, the manager at 1.1 s, the target at 3 s.
func sample() *proto.Boot {
	return &proto.Boot{Kernel: 1000 * ms, Manager: 1100 * ms, Finished: 3000 * ms, Target: "default.target", Now: 5000 * ms,
		Units: []proto.UnitTimes{
			{Name: "setup.service", Queued: 1150 * ms, Activating: 1200 * ms, Inactive: 2000 * ms, Ran: 800 * ms},
			{Name: "web.service", Queued: 1150 * ms, Activating: 2000 * ms, Active: 2500 * ms, After: []string{"setup.service"}},
			{Name: "log.service", Queued: 1150 * ms, Activating: 1200 * ms, Active: 1300 * ms},
			{Name: "bad.service", Queued: 1150 * ms, Activating: 1200 * ms, Failed: 1250 * ms},
			{Name: "default.target", Queued: 1150 * ms, Activating: 3000 * ms, Active: 3000 * ms,
				After: []string{"bad.service", "log.service", "setup.service", "web.service"}},
		}}
}

func TestTime(t *testing.T) {
	got := BootTimes(sample()).String()
	want := "Startup finished in 1.000s (kernel) + 2.000s (userspace) = 3.000s\ndefault.target reached after 2.000s in userspace.\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b := sample()
	b.Finished = 0
	if got := BootTimes(b).String(); !strings.Contains(got, "not yet finished") {
		t.Errorf("unfinished boot: %q", got)
	}
	b = sample()
	b.Kernel = 0 // a user-mode manager: userspace from the manager's start
	if got := BootTimes(b); got.Userspace != 1900*ms || got.Total != 1900*ms {
		t.Errorf("without the kernel's part: %+v", got)
	}
}

func TestBlame(t *testing.T) {
	var got []string
	for _, e := range Blame(sample()) {
		got = append(got, e.Unit+" "+Format(e.Took))
	}
	want := "setup.service 800ms, web.service 500ms, log.service 100ms, bad.service 50ms"
	if strings.Join(got, ", ") != want {
		t.Errorf("blame %q, want %q", strings.Join(got, ", "), want)
	}
}

func TestCriticalChain(t *testing.T) {
	tests := []struct {
		unit, want string
		err        bool
	}{
		{"", "default.target@2s+0s web.service@1.5s+500ms setup.service@1s+800ms", false},
		{"web.service", "web.service@1.5s+500ms setup.service@1s+800ms", false},
		{"none.service", "", true},
	}
	for _, tt := range tests {
		chain, err := CriticalChain(sample(), tt.unit)
		if (err != nil) != tt.err {
			t.Fatalf("%q: error %v", tt.unit, err)
		}
		var got []string
		for _, l := range chain {
			got = append(got, l.Unit+"@"+l.At.String()+"+"+l.Took.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q: %q, want %q", tt.unit, strings.Join(got, " "), tt.want)
		}
	}
	if out := FormatChain([]Link{{"a.target", 2 * time.Second, 0}, {"b.service", time.Second, 500 * ms}}); !strings.Contains(out, "a.target @2.000s\n  └─b.service @1.000s +500ms\n") {
		t.Errorf("FormatChain:\n%s", out)
	}
}

// The chart is well-formed SVG with a kernel bar and a bar per unit, the
// spans where the record puts them.
func TestPlot(t *testing.T) {
	var buf bytes.Buffer
	if err := Plot(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	type rect struct {
		Class string  `xml:"class,attr"`
		Unit  string  `xml:"data-unit,attr"`
		X     float64 `xml:"x,attr"`
		W     float64 `xml:"width,attr"`
		Fill  string  `xml:"fill,attr"`
	}
	var doc struct {
		Rects []rect   `xml:"rect"`
		Texts []string `xml:"text"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	spans := map[string]rect{}
	for _, r := range doc.Rects {
		if r.Unit != "" {
			spans[r.Unit+" "+r.Class] = r
		}
	}
	px := func(d time.Duration) float64 { return left + d.Seconds()*pxPerSecond }
	for _, tt := range []struct {
		key      string
		from, to time.Duration
		fill     string
	}{
		{"kernel kernel", 0, 1000 * ms, ColourKernel},
		{"setup.service activating", 1200 * ms, 2000 * ms, ColourActivating},
		{"web.service activating", 2000 * ms, 2500 * ms, ColourActivating},
		{"bad.service activating", 1200 * ms, 1250 * ms, ColourFailed},
	} {
		r, ok := spans[tt.key]
		if !ok {
			t.Errorf("no bar %s in %v", tt.key, spans)
			continue
		}
		if r.X != px(tt.from) || r.X+r.W != px(tt.to) || r.Fill != tt.fill {
			t.Errorf("%s: x %.1f..%.1f %s, want %.1f..%.1f %s", tt.key, r.X, r.X+r.W, r.Fill, px(tt.from), px(tt.to), tt.fill)
		}
	}
	// An active service's bar runs to the chart's end.
	if r := spans["web.service active"]; r.X != px(2500*ms) || r.X+r.W <= px(3000*ms) {
		t.Errorf("web.service active span %+v", r)
	}
	labels := strings.Join(doc.Texts, "|")
	for _, want := range []string{"setup.service", "web.service (500ms)", "bad.service (50ms) failed", "setup.service (800ms)", "kernel (1.000s)", "Startup finished in 3.000s"} {
		if !strings.Contains(labels, want) {
			t.Errorf("no label %q in %s", want, labels)
		}
	}
}
