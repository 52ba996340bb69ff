package analyze

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// chromium finds a headless browser, or skips: Debian's chromium is large,
// so scripts/setup installs it only with SYSMASTER_CHROMIUM=1, and then
// this test must run.
func chromium(t *testing.T) string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("SYSMASTER_CHROMIUM") == "1" {
		t.Fatal("SYSMASTER_CHROMIUM=1 but no chromium found (scripts/setup installs Debian's chromium then)")
	}
	t.Skip("no chromium: the rendering of the boot chart is not checked (SYSMASTER_CHROMIUM=1 scripts/setup installs it)")
	return ""
}

// The chart, as a browser draws it: the screenshot is not blank, each
// bar is painted in its colour where the SVG puts it, and each label has
// ink.
func TestPlotRendersInChromium(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	var svg bytes.Buffer
	if err := Plot(&svg, sample()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Width  int `xml:"width,attr"`
		Height int `xml:"height,attr"`
		Rects  []struct {
			Unit string  `xml:"data-unit,attr"`
			X    float64 `xml:"x,attr"`
			Y    float64 `xml:"y,attr"`
			W    float64 `xml:"width,attr"`
			H    float64 `xml:"height,attr"`
			Fill string  `xml:"fill,attr"`
		} `xml:"rect"`
		Texts []struct {
			X    float64 `xml:"x,attr"`
			Y    float64 `xml:"y,attr"`
			Text string  `xml:",chardata"`
		} `xml:"text"`
	}
	if err := xml.Unmarshal(svg.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, browser, dir, "boot", svg.Bytes(), doc.Width, doc.Height)
	// The labels lie over the bars; the bars are judged without them.
	root := bytes.Index(svg.Bytes(), []byte("<svg "))
	open := root + bytes.Index(svg.Bytes()[root:], []byte(">\n")) + 2
	bare := append(append(append([]byte(nil), svg.Bytes()[:open]...), "<style>text { visibility: hidden }</style>\n"...), svg.Bytes()[open:]...)
	barsImg := screenshot(t, browser, dir, "bars", bare, doc.Width, doc.Height)
	ink := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if !near(img.At(x, y), color.RGBA{255, 255, 255, 255}, 16) {
				ink++
			}
		}
	}
	if ink < bounds.Dx()*bounds.Dy()/100 {
		t.Fatalf("screenshot %v nearly blank: %d pixels not white", bounds, ink)
	}
	bars := 0
	for _, r := range doc.Rects {
		if r.Unit == "" || r.W < 4 {
			continue // the background, the legend; a sliver has too few pixels to judge
		}
		bars++
		want := hexColour(t, r.Fill)
		inside, painted := 0, 0
		// The inner part: edges are antialiased.
		for y := int(r.Y) + 2; y < int(r.Y+r.H)-2; y++ {
			for x := int(r.X) + 2; x < int(r.X+r.W)-2; x++ {
				inside++
				if near(barsImg.At(x, y), want, 24) {
					painted++
				}
			}
		}
		if inside == 0 || painted*10 < inside*9 {
			t.Errorf("bar of %s (%s at %.0f,%.0f): %d of %d pixels in its colour", r.Unit, r.Fill, r.X, r.Y, painted, inside)
		}
	}
	if bars < 5 {
		t.Errorf("only %d bars checked", bars)
	}
	for _, tx := range doc.Texts {
		dark := 0
		for y := int(tx.Y) - 10; y <= int(tx.Y); y++ {
			for x := int(tx.X); x < int(tx.X)+6*len(tx.Text) && x < bounds.Max.X; x++ {
				if c := color.GrayModel.Convert(img.At(x, y)).(color.Gray); c.Y < 128 {
					dark++
				}
			}
		}
		if dark < 3*len(tx.Text) {
			t.Errorf("label %q at %.0f,%.0f: %d dark pixels, want text", tx.Text, tx.X, tx.Y, dark)
		}
	}
}

// screenshot renders svg in the browser at w×h pixels.
func screenshot(t *testing.T, browser, dir, name string, svg []byte, w, h int) image.Image {
	t.Helper()
	src, shot := filepath.Join(dir, name+".svg"), filepath.Join(dir, name+".png")
	if err := os.WriteFile(src, svg, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--force-device-scale-factor=1", "--user-data-dir="+filepath.Join(dir, "profile-"+name),
		fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+shot, "file://"+src)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	return img
}

func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool { v := int(a>>8) - int(w); return v <= tol && v >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func hexColour(t *testing.T, s string) color.RGBA {
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil || len(s) != 7 {
		t.Fatalf("fill %q is not #rrggbb", s)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}
