// Package chart draws the dashboard's charts as SVG on the server: bars,
// stacked columns by day, sparklines, an hour-of-week heatmap and a query's
// timeline. Charts need no script: each mark carries an SVG <title> that
// browsers show on hover, and every chart scales to its container through
// its viewBox. Every string drawn is escaped here, since the output is
// trusted HTML to the templates that embed it.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Palette is a colour-blind-safe set of series colours (Okabe and Ito),
// ordered so that neighbours contrast; Other is the colour of the rest.
var Palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288"}

// Other is the colour of the series that gathers the smaller ones.
const Other = "#9AA3AD"

// Color is the colour of series i.
func Color(i int) string {
	if i < 0 {
		return Other
	}
	return Palette[i%len(Palette)]
}

// Format renders a value for a person (axis labels, hover titles).
type Format func(float64) string

func esc(s string) string { return template.HTMLEscapeString(s) }

// num writes a coordinate with at most two decimals, so goldens are stable.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// clean turns NaN, infinities and negatives into 0: a chart draws amounts.
func clean(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// Bar is a horizontal bar filling fraction (0..1) of its cell, for tables
// and top-N lists whose label and value are HTML around it.
func Bar(fraction float64, title string, color string) template.HTML {
	w := clean(fraction) * 100
	if w > 100 {
		w = 100
	}
	if w > 0 && w < 0.5 {
		w = 0.5 // a visible sliver for a tiny non-zero share
	}
	return template.HTML(`<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="` + esc(title) + `">` +
		`<rect class="bar-track" width="100" height="10"/>` +
		`<rect width="` + num(w) + `" height="10" fill="` + esc(color) + `"><title>` + esc(title) + `</title></rect></svg>`)
}

// Sparkline is a small line of values (oldest first), for a table cell.
func Sparkline(values []float64, title string) template.HTML {
	const w, h = 120.0, 28.0
	var b strings.Builder
	b.WriteString(`<svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" role="img" aria-label="` + esc(title) + `"><title>` + esc(title) + `</title>`)
	max := 0.0
	for _, v := range values {
		max = math.Max(max, clean(v))
	}
	if len(values) > 0 {
		pts := make([]string, len(values))
		for i, v := range values {
			x := w / 2
			if len(values) > 1 {
				x = float64(i) * w / float64(len(values)-1)
			}
			y := h - 2
			if max > 0 {
				y = h - 2 - clean(v)/max*(h-4)
			}
			pts[i] = num(x) + "," + num(y)
		}
		b.WriteString(`<polyline points="` + strings.Join(pts, " ") + `" fill="none" stroke="` + Palette[0] + `" stroke-width="1.5" vector-effect="non-scaling-stroke"/>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Series is one named set of values, one per column of a chart.
type Series struct {
	Name   string
	Color  string // empty: by position in the palette
	Values []float64
}

// Columns is a column chart: one column per label (a day), each stacked
// from its series' values.
type Columns struct {
	Labels []string
	Series []Series
	Format Format
	// Axis labels the value axis given its step (enough decimals that no
	// two labels read the same); Format when nil.
	Axis func(v, step float64) string
	// Whole says values are counts: the axis steps by whole numbers.
	Whole bool
	// Title names the chart for screen readers.
	Title string
}

// niceStep is a round step (1, 2 or 5 × 10^k) that divides max into at
// most n intervals.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// SVG renders the chart with its legend.
func (c Columns) SVG() template.HTML {
	const (
		width, height     = 720.0, 260.0
		left, right       = 64.0, 8.0
		top, bottom       = 10.0, 28.0
		plotW, plotH      = width - left - right, height - top - bottom
		gridLines     int = 4
	)
	format := c.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	}
	totals := make([]float64, len(c.Labels))
	for _, s := range c.Series {
		for i := range totals {
			if i < len(s.Values) {
				totals[i] += clean(s.Values[i])
			}
		}
	}
	max := 0.0
	for _, t := range totals {
		max = math.Max(max, t)
	}
	step := niceStep(max, gridLines)
	if c.Whole && step < 1 {
		step = 1
	}
	axis := c.Axis
	if axis == nil {
		axis = func(v, _ float64) string { return format(v) }
	}
	top_ := step * math.Ceil(max/step)
	if top_ <= 0 {
		top_ = step
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %s %s" role="img" aria-label="%s">`, num(width), num(height), esc(c.Title))
	for v := 0.0; v <= top_+step/2; v += step {
		y := top + plotH - v/top_*plotH
		fmt.Fprintf(&b, `<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(left), num(width-right), num(y), num(y))
		fmt.Fprintf(&b, `<text class="axis" x="%s" y="%s" text-anchor="end">%s</text>`, num(left-6), num(y+4), esc(axis(v, step)))
	}
	n := len(c.Labels)
	if n > 0 {
		slot := plotW / float64(n)
		gap := math.Min(slot*0.2, 6)
		every := int(math.Ceil(float64(n) / 8))
		for i, label := range c.Labels {
			x := left + float64(i)*slot + gap/2
			y := top + plotH
			for si, s := range c.Series {
				if i >= len(s.Values) || clean(s.Values[i]) == 0 {
					continue
				}
				h := clean(s.Values[i]) / top_ * plotH
				y -= h
				color := s.Color
				if color == "" {
					color = Color(si)
				}
				fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s · %s: %s</title></rect>`,
					num(x), num(y), num(slot-gap), num(h), esc(color), esc(label), esc(s.Name), esc(format(s.Values[i])))
			}
			// A column-wide target gives the day's total on hover.
			fmt.Fprintf(&b, `<rect class="hover" x="%s" y="%s" width="%s" height="%s"><title>%s: %s in all</title></rect>`,
				num(x), num(top), num(slot-gap), num(plotH), esc(label), esc(format(totals[i])))
			if i%every == 0 {
				fmt.Fprintf(&b, `<text class="axis" x="%s" y="%s" text-anchor="middle">%s</text>`, num(x+(slot-gap)/2), num(height-8), esc(shortLabel(label)))
			}
		}
	}
	b.WriteString(`</svg>`)
	if len(c.Series) > 1 {
		b.WriteString(`<ul class="legend">`)
		for si, s := range c.Series {
			color := s.Color
			if color == "" {
				color = Color(si)
			}
			fmt.Fprintf(&b, `<li><svg class="swatch" viewBox="0 0 10 10"><rect width="10" height="10" rx="2" fill="%s"/></svg>%s</li>`, esc(color), esc(s.Name))
		}
		b.WriteString(`</ul>`)
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

// shortLabel shortens a date label (2026-11-05 → 11-05) for the axis.
func shortLabel(s string) string {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		return s[5:]
	}
	return s
}

// Heatmap is a grid of values, such as queries by weekday and hour.
type Heatmap struct {
	Rows, Cols []string
	// Values[r][c] is the value of row r and column c.
	Values [][]float64
	Format Format
	Title  string
	// ColEvery labels every ColEvery-th column (0: every one).
	ColEvery int
}

// SVG renders the heatmap: darker is more.
func (h Heatmap) SVG() template.HTML {
	const cell, gap, left, top = 24.0, 2.0, 40.0, 18.0
	format := h.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	}
	max := 0.0
	for _, r := range h.Values {
		for _, v := range r {
			max = math.Max(max, clean(v))
		}
	}
	width := left + float64(len(h.Cols))*cell
	height := top + float64(len(h.Rows))*cell
	var b strings.Builder
	// A fixed size (scaled down in narrow windows) keeps cells square and
	// labels legible whatever the container's width.
	fmt.Fprintf(&b, `<figure class="chart heatmap"><svg viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">`,
		num(width), num(height), num(width*1.2), num(height*1.2), esc(h.Title))
	every := h.ColEvery
	if every <= 0 {
		every = 1
	}
	for c, name := range h.Cols {
		if c%every == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%s" y="12" text-anchor="middle">%s</text>`, num(left+float64(c)*cell+cell/2), esc(name))
		}
	}
	for r, name := range h.Rows {
		y := top + float64(r)*cell
		fmt.Fprintf(&b, `<text class="axis" x="%s" y="%s" text-anchor="end">%s</text>`, num(left-6), num(y+cell/2+4), esc(name))
		for c := range h.Cols {
			v := 0.0
			if r < len(h.Values) && c < len(h.Values[r]) {
				v = clean(h.Values[r][c])
			}
			opacity := 0.0
			if max > 0 && v > 0 {
				opacity = 0.12 + 0.88*math.Sqrt(v/max) // sqrt: heavy tails still show their shape
			}
			fmt.Fprintf(&b, `<rect class="cell" x="%s" y="%s" width="%s" height="%s" rx="3"/>`, num(left+float64(c)*cell), num(y), num(cell-gap), num(cell-gap))
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s" fill-opacity="%s"><title>%s %s: %s</title></rect>`,
				num(left+float64(c)*cell), num(y), num(cell-gap), num(cell-gap), Palette[0], num(opacity), esc(name), esc(h.Cols[c]), esc(format(v)))
		}
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// Segment is one phase of a query's life.
type Segment struct {
	Name string
	Ms   int64
}

// Timeline draws the phases of a query end to end, each as long as it
// took, with a legend giving each duration.
func Timeline(segments []Segment, format func(ms int64) string) template.HTML {
	total := int64(0)
	for _, s := range segments {
		if s.Ms > 0 {
			total += s.Ms
		}
	}
	var b strings.Builder
	b.WriteString(`<figure class="chart timeline"><svg viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="timeline">`)
	b.WriteString(`<rect class="bar-track" width="100" height="8"/>`)
	x := 0.0
	for i, s := range segments {
		if s.Ms <= 0 || total == 0 {
			continue
		}
		w := float64(s.Ms) / float64(total) * 100
		fmt.Fprintf(&b, `<rect x="%s" width="%s" height="8" fill="%s"><title>%s: %s</title></rect>`, num(x), num(w), Color(i), esc(s.Name), esc(format(s.Ms)))
		x += w
	}
	b.WriteString(`</svg><ul class="legend">`)
	for i, s := range segments {
		fmt.Fprintf(&b, `<li><svg class="swatch" viewBox="0 0 10 10"><rect width="10" height="10" rx="2" fill="%s"/></svg>%s <b>%s</b></li>`, Color(i), esc(s.Name), esc(format(s.Ms)))
	}
	b.WriteString(`</ul></figure>`)
	return template.HTML(b.String())
}
