package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testSummary() *Summary {
	return &Summary{
		Run:     "2026-11-24 00:00 UTC",
		Command: "bench/run-all.sh",
		Machine: "2 vCPU test machine",
		Entries: []Entry{
			{Group: "kernel", Workload: "ten", Vs: "Perl", Kind: "perl", Ratio: 10},
			{Group: "kernel", Workload: "hundred", Vs: "Perl", Kind: "perl", Ratio: 100, Target: 200},
			{Group: "echo", Workload: "tenth", Vs: "gnet", Kind: "peer", Ratio: 0.1, Target: 0.8},
			{Group: "echo", Workload: "thirty", Vs: "gnet", Kind: "peer", Ratio: 30},
		},
	}
}

func same(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// span returns the first and last x of the run of colour c on line y that
// is the longest, or -1, -1.
func span(img image.Image, y int, c color.Color) (first, last int) {
	first, last = -1, -1
	b := img.Bounds()
	for x := b.Min.X; x < b.Max.X; x++ {
		if !same(img.At(x, y), c) {
			continue
		}
		start := x
		for x < b.Max.X && same(img.At(x, y), c) {
			x++
		}
		if x-1-start > last-first {
			first, last = start, x-1
		}
	}
	return first, last
}

func renderPNG(t *testing.T, s *Summary) image.Image {
	t.Helper()
	img, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func TestRenderSizeAndBars(t *testing.T) {
	s := testSummary()
	img := renderPNG(t, s)

	// 2 group titles + 4 bars, one footer line each for the run and the
	// machine.
	wantH := top + 6*rowH + axisH + 2*lineH + bottom
	if b := img.Bounds(); b.Dx() != width || b.Dy() != wantH {
		t.Fatalf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), width, wantH)
	}

	// Rows: 0 kernel, 1 ten, 2 hundred, 3 echo, 4 tenth, 5 thirty. Measure
	// the bars on their middle line.
	type bar struct{ first, last int }
	measure := func(i int, c color.Color) bar {
		f, l := span(img, RowY(i), c)
		if f < 0 {
			t.Fatalf("row %d: no bar of colour %v", i, c)
		}
		return bar{f, l}
	}
	ten, hundred := measure(1, PerlColor), measure(2, PerlColor)
	tenth, thirty := measure(4, PeerColor), measure(5, PeerColor)

	// Every bar starts (or, below 1×, ends) at the 1× line.
	one := ten.first
	if hundred.first != one || thirty.first != one || abs(tenth.last+1-one) > 1 {
		t.Errorf("bars do not share the 1× line: ten %v, hundred %v, tenth %v, thirty %v", ten, hundred, tenth, thirty)
	}
	// Lengths on a log scale: 100× is twice 10×, 0.1× as long as 10× but
	// to the left, 30× log(30) / log(10) of 10×.
	l := func(b bar) int { return b.last - b.first + 1 }
	if l(ten) < 20 {
		t.Fatalf("10× bar only %d px long", l(ten))
	}
	if d := l(hundred) - 2*l(ten); abs(d) > 2 {
		t.Errorf("100× bar %d px, 10× bar %d px: want twice as long", l(hundred), l(ten))
	}
	if d := l(tenth) - l(ten); abs(d) > 2 {
		t.Errorf("0.1× bar %d px, 10× bar %d px: want as long", l(tenth), l(ten))
	}
	if tenth.last >= one || ten.last <= one {
		t.Errorf("0.1× bar (%v) should be left of 1× (x %d), 10× (%v) right of it", tenth, one, ten)
	}
	want30 := float64(l(ten)) * math.Log10(30)
	if math.Abs(float64(l(thirty))-want30) > 2 {
		t.Errorf("30× bar %d px, want %.1f", l(thirty), want30)
	}
	if !(l(thirty) > l(ten) && l(thirty) < l(hundred)) {
		t.Errorf("bar lengths out of order: 10× %d, 30× %d, 100× %d", l(ten), l(thirty), l(hundred))
	}

	// The target marks: 200× past the end of the 100× bar, 0.8× between
	// the 0.1× bar's end and 1×; none on rows without a target.
	for _, c := range []struct {
		row    int
		target float64
	}{{2, 200}, {4, 0.8}} {
		y := RowY(c.row) - rowH/2 + 2 // above the bar, inside the row
		f, last := span(img, y, TargetColor)
		if f < 0 {
			t.Fatalf("row %d: no target mark", c.row)
		}
		// Where the mark should be, from the 10× bar: one decade is l(ten).
		want := float64(one) + math.Log10(c.target)*float64(l(ten))
		if mid := float64(f+last) / 2; math.Abs(mid-want) > 3 {
			t.Errorf("row %d: target mark at x %.1f, want %.1f", c.row, mid, want)
		}
	}
	for _, r := range []int{1, 5} {
		y := RowY(r) - rowH/2 + 2
		if f, _ := span(img, y, TargetColor); f >= 0 {
			t.Errorf("row %d has a target mark at x %d but no target", r, f)
		}
	}

	// The labels are drawn: ink in the label column of every bar row.
	for _, r := range []int{1, 2, 4, 5} {
		if f, _ := span(img.(interface {
			image.Image
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(0, 0, plotX0, img.Bounds().Dy())), RowY(r)-2, ink); f < 0 {
			t.Errorf("row %d: no label", r)
		}
	}
}

func TestRenderRejectsBadRatios(t *testing.T) {
	for _, r := range []float64{0, -1, math.Inf(1), math.NaN()} {
		s := testSummary()
		s.Entries[0].Ratio = r
		if _, err := Render(s); err == nil {
			t.Errorf("ratio %v: no error", r)
		}
	}
	if _, err := Render(&Summary{}); err == nil {
		t.Error("no entries: no error")
	}
}

func TestFont(t *testing.T) {
	for r, g := range glyphs {
		for i, line := range g {
			if len(line) != glyphW || strings.Trim(line, "#.") != "" {
				t.Errorf("glyph %q line %d: %q", r, i, line)
			}
		}
	}
	// Every character of the labels bench/run-all.sh writes has a glyph.
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;/-_+=()[]<>≥≤×µ%'\"!?*#&@" {
		if glyph(r) == boxGlyph {
			t.Errorf("no glyph for %q", r)
		}
	}
	if got := textWidth("ab", 2); got != (2*6-1)*2 {
		t.Errorf("textWidth(ab, 2) = %d", got)
	}
	if got := wrap("aaa bbb ccc", 7); len(got) != 2 || got[0] != "aaa bbb" || got[1] != "ccc" {
		t.Errorf("wrap: %q", got)
	}
}

// TestMain writes a PNG from a ratios.json file, as bench/run-all.sh does.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "ratios.json")
	if err := os.WriteFile(in, []byte(`{"run": "r", "machine": "m", "command": "c", "entries": [
		{"group": "kernel", "workload": "yield", "vs": "Perl POE", "kind": "perl", "go": 2.4e7, "other": 1.2e5,
		 "unit": "events/s", "better": "higher", "ratio": 200, "target": 200}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ratios.png")
	cmd := exec.Command("go", "run", ".", "-in", in, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != top+2*rowH+axisH+2*lineH+bottom {
		t.Errorf("PNG is %v", b)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
