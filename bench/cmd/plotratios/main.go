// Command plotratios draws the ratios of a benchmark summary
// (bench/run-all.sh writes it as ratios.json) as a PNG: one horizontal bar
// per ratio on a log scale, starting at 1× (right: Go better, left: Go
// worse), blue against Perl and orange against a peer (gnet, evio, net, a
// Go baseline), with the target of the issues marked in red.
//
//	go run ./bench/cmd/plotratios -in bench/results/published/ratios.json -out docs/bench-ratios.png
//
// It uses the standard library only and draws its text with a built-in
// 5×7 bitmap font.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// Summary is ratios.json.
type Summary struct {
	Run     string  `json:"run"`
	Machine string  `json:"machine"`
	Command string  `json:"command"`
	Entries []Entry `json:"entries"`
}

// Entry is one ratio: Go against Perl (Kind "perl") or against a peer
// (Kind "peer") on one workload. Ratio is above 1 when Go is better:
// Go/Other for rates (Better "higher"), Other/Go for times and memory
// (Better "lower"). Target is the ratio the issues ask for, 0 if none.
type Entry struct {
	Group    string  `json:"group"`
	Workload string  `json:"workload"`
	Vs       string  `json:"vs"`
	Kind     string  `json:"kind"`
	Go       float64 `json:"go"`
	Other    float64 `json:"other"`
	Unit     string  `json:"unit"`
	Better   string  `json:"better"`
	Ratio    float64 `json:"ratio"`
	Target   float64 `json:"target"`
}

func main() {
	in := flag.String("in", "bench/results/published/ratios.json", "summary to read")
	out := flag.String("out", "docs/bench-ratios.png", "PNG to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	img, err := Render(&s)
	if err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// Layout, in pixels. Text is drawn at scale 2 (12 px per character).
const (
	width     = 1280
	scale     = 2
	charW     = (glyphW + 1) * scale
	margin    = 16
	labelCols = 46                             // characters of a row's label
	plotX0    = margin + labelCols*charW + 12  // left end of the axis
	plotX1    = width - margin - 13*charW - 36 // right end of the axis
	top       = 112                            // y of the first row
	rowH      = 24                             // one row: a group title or a bar
	barH      = 12                             // bar thickness
	axisH     = 24                             // decade labels under the rows
	lineH     = 20                             // one footer line
	bottom    = 12                             // below the footer
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	ink       = color.RGBA{25, 25, 25, 255}
	grey      = color.RGBA{110, 110, 110, 255}
	gridColor = color.RGBA{222, 222, 222, 255}
	oneColor  = color.RGBA{60, 60, 60, 255}
	// PerlColor and PeerColor fill the bars; TargetColor marks targets.
	PerlColor   = color.RGBA{52, 101, 164, 255}
	PeerColor   = color.RGBA{230, 135, 30, 255}
	TargetColor = color.RGBA{204, 0, 0, 255}
	metColor    = color.RGBA{0, 130, 50, 255}
)

// row is one line of the plot: a group title (entry nil) or a bar.
type row struct {
	title string
	entry *Entry
}

// rows lists the entries under a title line per group, groups in their
// order of first appearance.
func rows(s *Summary) []row {
	var order []string
	byGroup := map[string][]*Entry{}
	for i := range s.Entries {
		e := &s.Entries[i]
		if _, ok := byGroup[e.Group]; !ok {
			order = append(order, e.Group)
		}
		byGroup[e.Group] = append(byGroup[e.Group], e)
	}
	var rs []row
	for _, g := range order {
		rs = append(rs, row{title: g})
		for _, e := range byGroup[g] {
			rs = append(rs, row{entry: e})
		}
	}
	return rs
}

func footer(s *Summary) []string {
	n := (width - 2*margin) / charW
	var lines []string
	run := "Run " + s.Run
	if s.Command != "" {
		run += ": " + s.Command
	}
	lines = append(lines, wrap(run, n)...)
	lines = append(lines, wrap(s.Machine, n)...)
	return lines
}

// Height is the height of the image Render draws for s.
func Height(s *Summary) int {
	return top + len(rows(s))*rowH + axisH + len(footer(s))*lineH + bottom
}

// RowY is the y of the middle of row i (group titles count as rows).
func RowY(i int) int { return top + i*rowH + rowH/2 }

// scaleOf returns the decades the axis spans: 1× and every ratio and
// target are inside.
func scaleOf(s *Summary) (lo, hi int) {
	min, max := 1.0, 1.0
	for _, e := range s.Entries {
		for _, v := range []float64{e.Ratio, e.Target} {
			if v > 0 {
				min, max = math.Min(min, v), math.Max(max, v)
			}
		}
	}
	lo, hi = int(math.Floor(math.Log10(min)+1e-9)), int(math.Ceil(math.Log10(max)-1e-9))
	if hi == lo {
		hi++
	}
	return lo, hi
}

// xOf maps a ratio to its x on a log axis spanning decades lo to hi.
func xOf(r float64, lo, hi int) int {
	f := (math.Log10(r) - float64(lo)) / float64(hi-lo)
	return plotX0 + int(math.Round(f*float64(plotX1-plotX0)))
}

// ratioText prints a ratio with two or three significant figures.
func ratioText(r float64) string {
	switch {
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 0, 64) + "×"
	case r >= 1:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	default:
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	}
}

func decadeText(d int) string {
	if d >= 0 {
		return strconv.FormatFloat(math.Pow(10, float64(d)), 'f', 0, 64) + "×"
	}
	return strconv.FormatFloat(math.Pow(10, float64(d)), 'f', -d, 64) + "×"
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

// Render draws the summary.
func Render(s *Summary) (*image.RGBA, error) {
	if len(s.Entries) == 0 {
		return nil, errors.New("no entries")
	}
	for _, e := range s.Entries {
		if !(e.Ratio > 0) || math.IsInf(e.Ratio, 0) {
			return nil, fmt.Errorf("%s %s vs %s: ratio %v", e.Group, e.Workload, e.Vs, e.Ratio)
		}
		if e.Target < 0 || math.IsNaN(e.Target) || math.IsInf(e.Target, 0) {
			return nil, fmt.Errorf("%s %s vs %s: target %v", e.Group, e.Workload, e.Vs, e.Target)
		}
	}
	rs := rows(s)
	h := Height(s)
	img := image.NewRGBA(image.Rect(0, 0, width, h))
	fill(img, img.Bounds(), white)

	// Title and legend.
	drawText(img, margin, 14, "Go against Perl POE and peers: ratios, log scale (right of 1×: Go better)", scale, ink)
	x := margin
	y := 46
	fill(img, image.Rect(x, y, x+24, y+barH), PerlColor)
	x = drawText(img, x+32, y, "vs Perl", scale, ink) + 28
	fill(img, image.Rect(x, y, x+24, y+barH), PeerColor)
	x = drawText(img, x+32, y, "vs peer (gnet, evio, net, Go baseline)", scale, ink) + 28
	fill(img, image.Rect(x+10, y-3, x+13, y+barH+3), TargetColor)
	drawText(img, x+32, y, "target", scale, ink)

	// Axis: a grid line per decade and at 2× and 5×, labels above and below.
	lo, hi := scaleOf(s)
	y0, y1 := top, top+len(rs)*rowH
	for d := lo; d < hi; d++ {
		for _, m := range []float64{2, 5} {
			gx := xOf(m*math.Pow(10, float64(d)), lo, hi)
			fill(img, image.Rect(gx, y0, gx+1, y1), color.RGBA{240, 240, 240, 255})
		}
	}
	for d := lo; d <= hi; d++ {
		gx := xOf(math.Pow(10, float64(d)), lo, hi)
		c := gridColor
		if d == 0 {
			c = oneColor
		}
		fill(img, image.Rect(gx, y0-4, gx+1, y1+4), c)
		t := decadeText(d)
		tx := gx - textWidth(t, scale)/2
		drawText(img, tx, y0-4-glyphH*scale-6, t, scale, grey)
		drawText(img, tx, y1+8, t, scale, grey)
	}
	drawText(img, plotX1+36, y0-4-glyphH*scale-6, "ratio", scale, grey)
	drawText(img, plotX1+36+7*charW, y0-4-glyphH*scale-6, "target", scale, grey)

	// Rows.
	x1 := xOf(1, lo, hi)
	for i, r := range rs {
		cy := RowY(i)
		ty := cy - glyphH*scale/2
		if r.entry == nil {
			drawText(img, margin, ty, fit(strings.ToUpper(r.title), labelCols), scale, ink)
			continue
		}
		e := r.entry
		drawText(img, margin+2*charW, ty, fit(e.Workload+" vs "+e.Vs, labelCols-2), scale, ink)
		c := PerlColor
		if e.Kind != "perl" {
			c = PeerColor
		}
		bx := xOf(e.Ratio, lo, hi)
		a, b := x1, bx
		if b < a {
			a, b = b, a
		}
		if b == a {
			b = a + 1
		}
		tc := ink
		if e.Target > 0 {
			// Under the bar: a target the bar passes shows above and below it.
			tx := xOf(e.Target, lo, hi)
			fill(img, image.Rect(tx-1, cy-rowH/2+1, tx+2, cy+rowH/2-1), TargetColor)
			tc = TargetColor
			if e.Ratio >= e.Target {
				tc = metColor
			}
			drawText(img, plotX1+36+7*charW, ty, "≥"+ratioText(e.Target), scale, tc)
		}
		fill(img, image.Rect(a, cy-barH/2, b, cy+barH/2), c)
		drawText(img, plotX1+36, ty, ratioText(e.Ratio), scale, tc)
	}

	// Footer.
	for i, l := range footer(s) {
		drawText(img, margin, y1+axisH+8+i*lineH, l, scale, grey)
	}
	return img, nil
}

// A 5×7 bitmap font: capitals, digits and the symbols the benchmark
// labels use. Lower case is drawn in capitals; a rune without a glyph is
// drawn as a hollow box.

const (
	glyphW = 5
	glyphH = 7
)

var glyphs = map[rune][glyphH]string{
	'A':  {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B':  {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C':  {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D':  {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E':  {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F':  {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G':  {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H':  {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I':  {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J':  {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K':  {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L':  {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M':  {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N':  {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O':  {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P':  {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q':  {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R':  {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S':  {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T':  {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U':  {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V':  {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W':  {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X':  {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y':  {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z':  {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0':  {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1':  {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2':  {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3':  {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4':  {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5':  {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6':  {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7':  {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8':  {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9':  {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	' ':  {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.':  {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',':  {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':':  {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	';':  {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."},
	'/':  {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'-':  {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'_':  {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	'+':  {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'=':  {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'(':  {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')':  {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'[':  {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."},
	']':  {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."},
	'<':  {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>':  {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'≥':  {".#...", "..#..", "...#.", "..#..", ".#...", ".....", "#####"},
	'≤':  {"...#.", "..#..", ".#...", "..#..", "...#.", ".....", "#####"},
	'×':  {".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "....."},
	'µ':  {".....", "#...#", "#...#", "#...#", "#..##", "###.#", "#...."},
	'%':  {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'\'': {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."},
	'"':  {".#.#.", ".#.#.", ".....", ".....", ".....", ".....", "....."},
	'!':  {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."},
	'?':  {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
	'*':  {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."},
	'#':  {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."},
	'&':  {".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"},
	'@':  {".###.", "#...#", "#.###", "#.#.#", "#.###", "#....", ".###."},
}

var boxGlyph = [glyphH]string{"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"}

func glyph(r rune) [glyphH]string {
	if g, ok := glyphs[r]; ok {
		return g
	}
	if g, ok := glyphs[unicode.ToUpper(r)]; ok {
		return g
	}
	return boxGlyph
}

// textWidth is the width in pixels of s drawn at scale: one glyph and one
// blank column per rune.
func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n*(glyphW+1) - 1) * scale
}

// drawText draws s with its top-left corner at (x, y), each font pixel a
// scale×scale square, and returns the x after the text.
func drawText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) int {
	for _, r := range s {
		g := glyph(r)
		for row := 0; row < glyphH; row++ {
			for col := 0; col < glyphW; col++ {
				if g[row][col] == '#' {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += (glyphW + 1) * scale
	}
	return x
}

// fit shortens s to at most n runes, ending it with ".." when cut.
func fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-2])) + ".."
}

// wrap breaks s into lines of at most n runes at spaces.
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= n:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	for i, l := range lines {
		lines[i] = fit(l, n)
	}
	return lines
}
