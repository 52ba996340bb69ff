package analyze

import (
	"fmt"
	"html"
	"io"
	"sort"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// Bar is one row of the chart: the unit was
// activating from Start to Up and active from Up to End (Up zero: it
// never became active; End: it went down, or the chart's end).
type Bar struct {
	Unit   string        `json:"unit"`
	Start  time.Duration `json:"start_ns"`
	Up     time.Duration `json:"up_ns,omitempty"`
	End    time.Duration `json:"end_ns"`
	Failed bool          `json:"failed,omitempty"`
}

// took is how long the unit took to start: to active, or to its end (a
// oneshot that finished, a failure).
func (b Bar) took() time.Duration {
	if b.Up > 0 {
		return b.Up - b.Start
	}
	return b.End - b.Start
}

// Chart is what plot draws. Its times count from the kernel's start, or
// from the manager's when the kernel's part is unknown (a user-mode
// manager).
type Chart struct {
	Kernel   time.Duration `json:"kernel_ns"`
	Finished time.Duration `json:"finished_ns,omitempty"`
	End      time.Duration `json:"end_ns"`
	Bars     []Bar         `json:"bars"`
}

// NewChart lays the units out in the order they began to start. The chart
// ends a little after the target was reached (or now, while booting).
func NewChart(b *proto.Boot) Chart {
	var shift time.Duration
	if b.Kernel == 0 {
		shift = b.Manager
	}
	at := func(d time.Duration) time.Duration {
		if d == 0 {
			return 0
		}
		return d - shift
	}
	c := Chart{Kernel: b.Kernel, Finished: at(b.Finished)}
	end := c.Finished
	if end == 0 {
		end = at(b.Now)
	}
	for _, u := range b.Units {
		if u.Activating == 0 {
			continue
		}
		u.Queued, u.Activating, u.Active, u.Failed, u.Inactive = at(u.Queued), at(u.Activating), at(u.Active), at(u.Failed), at(u.Inactive)
		bar := Bar{Unit: u.Name, Start: u.Activating}
		if u.Active >= u.Activating {
			bar.Up = u.Active
		}
		bar.Failed = u.Failed >= u.Activating && u.Failed > 0
		switch {
		case u.Inactive >= u.Activating && u.Inactive > 0:
			bar.End = u.Inactive
		case bar.Failed:
			bar.End = u.Failed
		}
		if bar.End > end {
			end = bar.End
		}
		if bar.Up > end {
			end = bar.Up
		}
		c.Bars = append(c.Bars, bar)
	}
	// Room after the last event, so active spans show past it.
	end += end / 20
	c.End = end
	for i := range c.Bars {
		if c.Bars[i].End == 0 {
			c.Bars[i].End = end
		}
	}
	sort.SliceStable(c.Bars, func(i, j int) bool {
		if c.Bars[i].Start != c.Bars[j].Start {
			return c.Bars[i].Start < c.Bars[j].Start
		}
		return c.Bars[i].Unit < c.Bars[j].Unit
	})
	return c
}

// Colours of the chart, also what a test looks for in a rendering.
const (
	ColourKernel     = "#7f9fbf"
	ColourActivating = "#f0a050"
	ColourActive     = "#c04040"
	ColourFailed     = "#606060"
)

// Layout of the chart, in pixels.
const (
	rowHeight = 20
	barHeight = 14
	top       = 60
	left      = 10
	// pxPerSecond scales time; a long boot is squeezed to maxWidth.
	pxPerSecond = 200
	maxWidth    = 4000
)

// Plot writes the chart as SVG: a bar for the kernel, then one row per
// unit with its activating and active spans and its name, and a grid of
// seconds.
func Plot(w io.Writer, b *proto.Boot) error {
	c := NewChart(b)
	secs := c.End.Seconds()
	if secs <= 0 {
		secs = 1
	}
	scale := float64(pxPerSecond)
	if secs*scale > maxWidth {
		scale = maxWidth / secs
	}
	x := func(d time.Duration) float64 { return left + d.Seconds()*scale }
	width := int(x(c.End)) + 360 // labels run past the last bar
	height := top + (len(c.Bars)+2)*rowHeight + 20
	p := &printer{w: w}
	p.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	t := BootTimes(b)
	title := "Boot not finished"
	if t.Finished {
		title = "Startup finished in " + Format(t.Total) + " (" + html.EscapeString(t.Target) + ")"
	}
	p.printf(`<text x="%d" y="20" font-size="16">%s</text>`+"\n", left, title)
	// Seconds grid.
	for s := 0; float64(s) <= secs; s++ {
		gx := x(time.Duration(s) * time.Second)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>`+"\n", gx, top-10, gx, height-20)
		p.printf(`<text x="%.1f" y="%d" fill="#666666">%ds</text>`+"\n", gx+2, top-14, s)
	}
	row := 0
	bar := func(class, unit string, from, to time.Duration, colour string) {
		if to < from {
			to = from
		}
		wpx := x(to) - x(from)
		if wpx < 1 {
			wpx = 1
		}
		p.printf(`<rect class="%s" data-unit="%s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
			class, html.EscapeString(unit), x(from), top+row*rowHeight, wpx, barHeight, colour)
	}
	label := func(at time.Duration, text string) {
		p.printf(`<text x="%.1f" y="%d">%s</text>`+"\n", x(at)+4, top+row*rowHeight+barHeight-3, html.EscapeString(text))
	}
	if c.Kernel > 0 {
		bar("kernel", "kernel", 0, c.Kernel, ColourKernel)
		label(c.Kernel, "kernel ("+Format(c.Kernel)+")")
		row++
	}
	for _, br := range c.Bars {
		if br.Up > 0 {
			if br.Up > br.Start {
				bar("activating", br.Unit, br.Start, br.Up, ColourActivating)
			}
			bar("active", br.Unit, br.Up, br.End, ColourActive)
		} else {
			colour := ColourActivating
			if br.Failed {
				colour = ColourFailed
			}
			bar("activating", br.Unit, br.Start, br.End, colour)
		}
		text := br.Unit
		if took := br.took(); took > 0 {
			text += " (" + Format(took) + ")"
		}
		if br.Failed {
			text += " failed"
		}
		label(br.Start, text)
		row++
	}
	if c.Finished > 0 {
		fx := x(c.Finished)
		p.printf(`<line class="finished" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#2060c0" stroke-dasharray="4 3"/>`+"\n", fx, top-10, fx, height-20)
	}
	ly := height - 6
	for i, l := range []struct{ colour, text string }{{ColourKernel, "kernel"}, {ColourActivating, "activating"}, {ColourActive, "active"}, {ColourFailed, "failed"}} {
		lx := left + i*110
		p.printf(`<rect x="%d" y="%d" width="12" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, ly-10, l.colour, lx+16, ly, l.text)
	}
	p.printf("</svg>\n")
	return p.err
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
