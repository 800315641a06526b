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
	if o.Width < 200 || o.Height < 120 || o.Width > 20000 || o.Height > 20000 {
		return fmt.Errorf("chart: size %dx%d out of range", o.Width, o.Height)
	}
	var step time.Duration
	var hp, fp []pt
	var origin time.Time
	if f != nil {
		origin = f.Origin
		step = f.Step
		for _, p := range f.Points {
			if !p.Open {
				continue
			}
			e := p.Volume
			if o.Target == forecast.TargetAHT {
				if p.AHT == nil {
					continue
				}
				e = *p.AHT
			}
			fp = append(fp, pt{p.Start, e.Value, e.Lower80, e.Upper80, e.Lower95, e.Upper95})
		}
	}
	if hist != nil {
		if step == 0 {
			step = hist.Step
		}
		from := time.Time{}
		if !origin.IsZero() {
			from = origin.AddDate(0, 0, -o.HistoryDays)
		} else if n := len(hist.Points); n > 0 {
			from = hist.Points[n-1].Start.AddDate(0, 0, -o.HistoryDays)
		}
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
	}
	if len(hp)+len(fp) == 0 {
		return ErrNothingToDraw
	}
	// Scales.
	tmin, tmax := time.Time{}, time.Time{}
	ymax := 0.0
	for _, s := range [][]pt{hp, fp} {
		for _, p := range s {
			if tmin.IsZero() || p.t.Before(tmin) {
				tmin = p.t
			}
			if end := p.t.Add(step); end.After(tmax) {
				tmax = end
			}
			ymax = math.Max(ymax, math.Max(p.v, p.h95))
		}
	}
	yTop, yStep := niceScale(ymax)
	const ml, mr, mt, mb = 64.0, 20.0, 40.0, 48.0
	W, H := float64(o.Width), float64(o.Height)
	pw, ph := W-ml-mr, H-mt-mb
	span := tmax.Sub(tmin).Seconds()
	x := func(t time.Time) float64 { return ml + pw*t.Sub(tmin).Seconds()/span }
	y := func(v float64) float64 { return mt + ph*(1-v/yTop) }
	// Points are drawn at interval midpoints.
	mid := func(t time.Time) float64 { return x(t.Add(step / 2)) }
	// Compact: position = rank among the drawn intervals.
	var slots []time.Time
	if o.Compact {
		rank := map[int64]int{}
		for _, s := range [][]pt{hp, fp} {
			for _, p := range s {
				rank[p.t.Unix()] = 0
			}
		}
		for u := range rank {
			slots = append(slots, time.Unix(u, 0).In(tmin.Location()))
		}
		sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
		for i, t := range slots {
			rank[t.Unix()] = i
		}
		n := float64(len(slots))
		x = func(t time.Time) float64 { return ml + pw*float64(rank[t.Unix()])/n }
		mid = func(t time.Time) float64 { return ml + pw*(float64(rank[t.Unix()])+0.5)/n }
	}

	bw := bufio.NewWriter(w)
	pr := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	pr(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", o.Width, o.Height, o.Width, o.Height)
	pr(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	title := o.Title
	if title == "" {
		title = "Contacts per interval"
		if o.Target == forecast.TargetAHT {
			title = "Average handle time (s)"
		}
	}
	pr(`<text x="%.1f" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", ml, esc(title))
	// Y grid and labels.
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		pr(`<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", ml, ml+pw, y(v), y(v))
		pr(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", ml-6, y(v)+4, fmtNum(v))
	}
	// X ticks at local midnights (compact: at each day's first interval),
	// thinned to at most 12 labels.
	var ticks []float64
	var labels []string
	if o.Compact {
		for i, t := range slots {
			if i == 0 || t.YearDay() != slots[i-1].YearDay() || t.Year() != slots[i-1].Year() {
				ticks = append(ticks, x(t))
				labels = append(labels, t.Format("Mon 02 Jan"))
			}
		}
	} else {
		d0 := time.Date(tmin.Year(), tmin.Month(), tmin.Day(), 0, 0, 0, 0, tmin.Location())
		for i := 0; ; i++ {
			d := d0.AddDate(0, 0, i)
			if d.After(tmax) {
				break
			}
			if !d.Before(tmin) {
				ticks = append(ticks, x(d))
				labels = append(labels, d.Format("Mon 02 Jan"))
			}
		}
	}
	every := max(1, (len(ticks)+11)/12)
	for i, tx := range ticks {
		pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#f0f0f0"/>`+"\n", tx, tx, mt, mt+ph)
		if i%every == 0 {
			pr(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", tx, mt+ph+16, labels[i])
		}
	}
	pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`+"\n", ml, ml+pw, mt+ph, mt+ph)
	// Bands, then lines, split where consecutive points are not adjacent.
	segs := func(ps []pt) [][]pt {
		var out [][]pt
		start := 0
		for i := 1; i <= len(ps); i++ {
			if i == len(ps) || ps[i].t.Sub(ps[i-1].t) > step {
				out = append(out, ps[start:i])
				start = i
			}
		}
		return out
	}
	band := func(class, fill string, lo, hi func(pt) float64) {
		for _, s := range segs(fp) {
			var b strings.Builder
			for i, p := range s {
				c := "L"
				if i == 0 {
					c = "M"
				}
				fmt.Fprintf(&b, "%s%.1f %.1f", c, mid(p.t), y(hi(p)))
			}
			for i := len(s) - 1; i >= 0; i-- {
				fmt.Fprintf(&b, "L%.1f %.1f", mid(s[i].t), y(lo(s[i])))
			}
			pr(`<path class="%s" d="%sZ" fill="%s" stroke="none"/>`+"\n", class, b.String(), fill)
		}
	}
	band("band95", "#cfe0f5", func(p pt) float64 { return p.l95 }, func(p pt) float64 { return p.h95 })
	band("band80", "#9fc1ea", func(p pt) float64 { return p.l80 }, func(p pt) float64 { return p.h80 })
	line := func(class, color string, ps []pt) {
		for _, s := range segs(ps) {
			var b strings.Builder
			for i, p := range s {
				c := "L"
				if i == 0 {
					c = "M"
				}
				fmt.Fprintf(&b, "%s%.1f %.1f", c, mid(p.t), y(p.v))
			}
			pr(`<path class="%s" d="%s" fill="none" stroke="%s" stroke-width="1.6"/>`+"\n", class, b.String(), color)
		}
	}
	line("history", "#333", hp)
	line("forecast", "#1f5fbf", fp)
	if !origin.IsZero() && !origin.Before(tmin) && !origin.After(tmax) {
		ox := x(origin)
		if o.Compact && len(fp) > 0 {
			ox = x(fp[0].t)
		}
		pr(`<line class="origin" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#c33" stroke-dasharray="4 3"/>`+"\n", ox, ox, mt, mt+ph)
	}
	// Legend.
	lx := ml + pw - 330
	pr(`<g class="legend" transform="translate(%.1f 14)">`, lx)
	pr(`<line x1="0" x2="18" y1="6" y2="6" stroke="#333" stroke-width="2"/><text x="22" y="10">history</text>`)
	pr(`<line x1="80" x2="98" y1="6" y2="6" stroke="#1f5fbf" stroke-width="2"/><text x="102" y="10">forecast</text>`)
	pr(`<rect x="170" y="0" width="14" height="12" fill="#9fc1ea"/><text x="188" y="10">80 %%</text>`)
	pr(`<rect x="230" y="0" width="14" height="12" fill="#cfe0f5"/><text x="248" y="10">95 %%</text>`)
	pr("</g>\n</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("chart: write: %w", err)
	}
	return nil
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
