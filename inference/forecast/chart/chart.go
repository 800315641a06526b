// Package chart renders a queue's history and forecast, with its 80 % and
// 95 % prediction intervals, as a self-contained SVG image: pure Go, no
// dependencies, no scripts, safe to embed in the console or save to a file.
package chart

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// ErrNothingToDraw is returned when neither history nor forecast has an open
// interval in the window.
var ErrNothingToDraw = errors.New("chart: nothing to draw")

// Options control the picture.
type Options struct {
	Title  string
	Target forecast.Target // volume (default) or aht
	Width  int             // pixels, default 1000
	Height int             // pixels, default 420
	// HistoryDays is how much history before the forecast origin is shown
	// (default 14).
	HistoryDays int
	// Hours, when set, hides history outside opening hours (e.g. a partial
	// interval at closing time); use the fitted model's Hours.
	Hours forecast.Hours
	// Compact lays the drawn intervals side by side, leaving out the time in
	// between (nights, weekends), with a tick at each new day.
	Compact bool
}

type pt struct {
	t                     time.Time
	v, l80, h80, l95, h95 float64
}

// SVG writes the chart of hist (may be nil) and f (may be nil) to w.
// Closed intervals and gaps break the curves instead of drawing zeros.
func SVG(w io.Writer, hist *forecast.Series, f *forecast.Forecast, o Options) error {
	o = o.withDefaults()
	if o.Width < 200 || o.Height < 120 || o.Width > 20000 || o.Height > 20000 {
		return fmt.Errorf("chart: size %dx%d out of range", o.Width, o.Height)
	}
	var step time.Duration
	var origin time.Time
	if f != nil {
		origin, step = f.Origin, f.Step
	}
	fp := forecastPoints(f, o.Target)
	hp := historyPoints(hist, origin, o)
	if step == 0 && hist != nil {
		step = hist.Step
	}
	if len(hp)+len(fp) == 0 {
		return ErrNothingToDraw
	}
	fr := newFrame(o, step, hp, fp)
	c := &canvas{bw: bufio.NewWriter(w)}
	c.pr(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", o.Width, o.Height, o.Width, o.Height)
	c.pr(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	c.pr(`<text x="%.1f" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", ml, esc(o.title()))
	fr.yAxis(c)
	fr.xAxis(c)
	// Bands, then lines, split where consecutive points are not adjacent.
	fr.band(c, "band95", "#cfe0f5", fp, func(p pt) float64 { return p.l95 }, func(p pt) float64 { return p.h95 })
	fr.band(c, "band80", "#9fc1ea", fp, func(p pt) float64 { return p.l80 }, func(p pt) float64 { return p.h80 })
	fr.line(c, "history", "#333", hp)
	fr.line(c, "forecast", "#1f5fbf", fp)
	if !origin.IsZero() && !origin.Before(fr.tmin) && !origin.After(fr.tmax) {
		ox := fr.x(origin)
		if o.Compact && len(fp) > 0 {
			ox = fr.x(fp[0].t)
		}
		c.pr(`<line class="origin" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#c33" stroke-dasharray="4 3"/>`+"\n", ox, ox, mt, mt+fr.ph)
	}
	legend(c, ml+fr.pw-330)
	c.pr("</svg>\n")
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("chart: write: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Width == 0 {
		o.Width = 1000
	}
	if o.Height == 0 {
		o.Height = 420
	}
	if o.HistoryDays == 0 {
		o.HistoryDays = 14
	}
	if o.Target == "" {
		o.Target = forecast.TargetVolume
	}
	return o
}

func (o Options) title() string {
	switch {
	case o.Title != "":
		return o.Title
	case o.Target == forecast.TargetAHT:
		return "Average handle time (s)"
	default:
		return "Contacts per interval"
	}
}

// forecastPoints are f's open intervals of the target.
func forecastPoints(f *forecast.Forecast, target forecast.Target) []pt {
	if f == nil {
		return nil
	}
	var fp []pt
	for _, p := range f.Points {
		if !p.Open {
			continue
		}
		e := p.Volume
		if target == forecast.TargetAHT {
			if p.AHT == nil {
				continue
			}
			e = *p.AHT
		}
		fp = append(fp, pt{p.Start, e.Value, e.Lower80, e.Upper80, e.Lower95, e.Upper95})
	}
	return fp
}

// historyPoints are hist's intervals in the o.HistoryDays before origin
// (before its end without a forecast), inside o.Hours when set.
func historyPoints(hist *forecast.Series, origin time.Time, o Options) []pt {
	if hist == nil {
		return nil
	}
	from := time.Time{}
	if !origin.IsZero() {
		from = origin.AddDate(0, 0, -o.HistoryDays)
	} else if n := len(hist.Points); n > 0 {
		from = hist.Points[n-1].Start.AddDate(0, 0, -o.HistoryDays)
	}
	var hp []pt
	for _, p := range hist.Points {
		if p.Start.Before(from) || (!origin.IsZero() && !p.Start.Before(origin)) {
			continue
		}
		if !o.Hours.IsZero() && !o.Hours.Open(p.Start, hist.Step) {
			continue
		}
		v := p.Offered
		if o.Target == forecast.TargetAHT {
			if p.AHT <= 0 {
				continue
			}
			v = p.AHT
		}
		hp = append(hp, pt{t: p.Start, v: v})
	}
	return hp
}

// Margins of the plot area.
const ml, mr, mt, mb = 64.0, 20.0, 40.0, 48.0

// frame maps times and values to the plot area.
type frame struct {
	step        time.Duration
	tmin, tmax  time.Time
	yTop, yStep float64 // the axis top and its grid step
	pw, ph      float64 // plot width and height
	compact     bool
	slots       []time.Time   // compact: the drawn intervals in order
	rank        map[int64]int // compact: interval start -> its slot
}

func newFrame(o Options, step time.Duration, hp, fp []pt) *frame {
	fr := &frame{step: step, compact: o.Compact, pw: float64(o.Width) - ml - mr, ph: float64(o.Height) - mt - mb}
	ymax := 0.0
	for _, s := range [][]pt{hp, fp} {
		for _, p := range s {
			if fr.tmin.IsZero() || p.t.Before(fr.tmin) {
				fr.tmin = p.t
			}
			if end := p.t.Add(step); end.After(fr.tmax) {
				fr.tmax = end
			}
			ymax = math.Max(ymax, math.Max(p.v, p.h95))
		}
	}
	fr.yTop, fr.yStep = niceScale(ymax)
	if o.Compact {
		// Position = rank among the drawn intervals.
		fr.rank = map[int64]int{}
		for _, s := range [][]pt{hp, fp} {
			for _, p := range s {
				fr.rank[p.t.Unix()] = 0
			}
		}
		for u := range fr.rank {
			fr.slots = append(fr.slots, time.Unix(u, 0).In(fr.tmin.Location()))
		}
		sort.Slice(fr.slots, func(i, j int) bool { return fr.slots[i].Before(fr.slots[j]) })
		for i, t := range fr.slots {
			fr.rank[t.Unix()] = i
		}
	}
	return fr
}

// x is the position of time t (compact: of its interval's start).
func (fr *frame) x(t time.Time) float64 {
	if fr.compact {
		return ml + fr.pw*float64(fr.rank[t.Unix()])/float64(len(fr.slots))
	}
	return ml + fr.pw*t.Sub(fr.tmin).Seconds()/fr.tmax.Sub(fr.tmin).Seconds()
}

// mid is the position of the midpoint of the interval starting at t, where
// points are drawn.
func (fr *frame) mid(t time.Time) float64 {
	if fr.compact {
		return ml + fr.pw*(float64(fr.rank[t.Unix()])+0.5)/float64(len(fr.slots))
	}
	return fr.x(t.Add(fr.step / 2))
}

func (fr *frame) y(v float64) float64 { return mt + fr.ph*(1-v/fr.yTop) }

// canvas writes SVG elements.
type canvas struct{ bw *bufio.Writer }

func (c *canvas) pr(format string, a ...any) { fmt.Fprintf(c.bw, format, a...) }

// yAxis draws the value grid and its labels.
func (fr *frame) yAxis(c *canvas) {
	for v := 0.0; v <= fr.yTop+fr.yStep/2; v += fr.yStep {
		c.pr(`<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", ml, ml+fr.pw, fr.y(v), fr.y(v))
		c.pr(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", ml-6, fr.y(v)+4, fmtNum(v))
	}
}

// xAxis draws ticks at local midnights (compact: at each day's first
// interval), thinned to at most 12 labels, and the time axis.
func (fr *frame) xAxis(c *canvas) {
	var ticks []float64
	var labels []string
	if fr.compact {
		for i, t := range fr.slots {
			if i == 0 || t.YearDay() != fr.slots[i-1].YearDay() || t.Year() != fr.slots[i-1].Year() {
				ticks = append(ticks, fr.x(t))
				labels = append(labels, t.Format("Mon 02 Jan"))
			}
		}
	} else {
		d0 := time.Date(fr.tmin.Year(), fr.tmin.Month(), fr.tmin.Day(), 0, 0, 0, 0, fr.tmin.Location())
		for i := 0; ; i++ {
			d := d0.AddDate(0, 0, i)
			if d.After(fr.tmax) {
				break
			}
			if !d.Before(fr.tmin) {
				ticks = append(ticks, fr.x(d))
				labels = append(labels, d.Format("Mon 02 Jan"))
			}
		}
	}
	every := max(1, (len(ticks)+11)/12)
	for i, tx := range ticks {
		c.pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#f0f0f0"/>`+"\n", tx, tx, mt, mt+fr.ph)
		if i%every == 0 {
			c.pr(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", tx, mt+fr.ph+16, labels[i])
		}
	}
	c.pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`+"\n", ml, ml+fr.pw, mt+fr.ph, mt+fr.ph)
}

// segments splits ps where consecutive points are not adjacent intervals.
func (fr *frame) segments(ps []pt) [][]pt {
	var out [][]pt
	start := 0
	for i := 1; i <= len(ps); i++ {
		if i == len(ps) || ps[i].t.Sub(ps[i-1].t) > fr.step {
			out = append(out, ps[start:i])
			start = i
		}
	}
	return out
}

// path writes the polyline through ps at the interval midpoints.
func (fr *frame) path(b *strings.Builder, ps []pt, val func(pt) float64) {
	for i, p := range ps {
		c := "L"
		if i == 0 {
			c = "M"
		}
		fmt.Fprintf(b, "%s%.1f %.1f", c, fr.mid(p.t), fr.y(val(p)))
	}
}

// band fills the area between lo and hi of each segment of ps.
func (fr *frame) band(c *canvas, class, fill string, ps []pt, lo, hi func(pt) float64) {
	for _, s := range fr.segments(ps) {
		var b strings.Builder
		fr.path(&b, s, hi)
		for i := len(s) - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "L%.1f %.1f", fr.mid(s[i].t), fr.y(lo(s[i])))
		}
		c.pr(`<path class="%s" d="%sZ" fill="%s" stroke="none"/>`+"\n", class, b.String(), fill)
	}
}

// line draws each segment of ps.
func (fr *frame) line(c *canvas, class, color string, ps []pt) {
	for _, s := range fr.segments(ps) {
		var b strings.Builder
		fr.path(&b, s, func(p pt) float64 { return p.v })
		c.pr(`<path class="%s" d="%s" fill="none" stroke="%s" stroke-width="1.6"/>`+"\n", class, b.String(), color)
	}
}

func legend(c *canvas, x float64) {
	c.pr(`<g class="legend" transform="translate(%.1f 14)">`, x)
	c.pr(`<line x1="0" x2="18" y1="6" y2="6" stroke="#333" stroke-width="2"/><text x="22" y="10">history</text>`)
	c.pr(`<line x1="80" x2="98" y1="6" y2="6" stroke="#1f5fbf" stroke-width="2"/><text x="102" y="10">forecast</text>`)
	c.pr(`<rect x="170" y="0" width="14" height="12" fill="#9fc1ea"/><text x="188" y="10">80 %%</text>`)
	c.pr(`<rect x="230" y="0" width="14" height="12" fill="#cfe0f5"/><text x="248" y="10">95 %%</text>`)
	c.pr("</g>\n")
}

// niceScale returns an axis top and tick step (1, 2 or 5 x 10^k) for data
// up to max.
func niceScale(max float64) (top, step float64) {
	if !(max > 0) || math.IsInf(max, 0) {
		return 1, 0.25
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	return math.Ceil(max/step) * step, step
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
