// Package chart draws workforce schedules as self-contained SVG images, in
// the style of the forecast charts (inference/forecast/chart): required
// against scheduled agents per interval, and each agent's week as bars.
// Pure Go, no scripts; agents appear by ID only.
package chart

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/wfm"
)

// ErrNothingToDraw is returned when there is no interval or shift to draw.
var ErrNothingToDraw = errors.New("chart: nothing to draw")

// Options control the picture.
type Options struct {
	Title  string
	Width  int // pixels, default 1000
	Height int // pixels, default 420 (Week: from the rows)
	// Queue selects one queue of the coverage; empty sums them all.
	Queue string
	// Compact leaves out intervals with neither demand nor staff (nights,
	// closed days), laying the rest side by side.
	Compact bool
}

func (o *Options) defaults(h int) error {
	if o.Width == 0 {
		o.Width = 1000
	}
	if o.Height == 0 {
		o.Height = h
	}
	if o.Width < 200 || o.Height < 120 || o.Width > 20000 || o.Height > 40000 {
		return fmt.Errorf("chart: size %dx%d out of range", o.Width, o.Height)
	}
	return nil
}

type svg struct {
	w *bufio.Writer
}

func (s svg) pr(format string, a ...any) { fmt.Fprintf(s.w, format, a...) }

// begin writes the document's opening, white background and title.
func begin(w io.Writer, o Options, fontSize int, titleX, titleY float64, title string) svg {
	s := svg{bufio.NewWriter(w)}
	s.pr(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n", o.Width, o.Height, o.Width, o.Height, fontSize)
	s.pr(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	if o.Title != "" {
		title = o.Title
	}
	s.pr(`<text x="%.1f" y="%.1f" font-size="15" font-weight="bold">%s</text>`+"\n", titleX, titleY, esc(title))
	return s
}

// end closes the document.
func (s svg) end() error {
	s.pr("</svg>\n")
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("chart: write: %w", err)
	}
	return nil
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Coverage draws required (a black step line) against staffed agents (a
// blue step area) per interval, with the under-staffed part in red.
func Coverage(w io.Writer, cov *wfm.Coverage, step time.Duration, o Options) error {
	if err := o.defaults(420); err != nil {
		return err
	}
	qi := -1
	if o.Queue != "" {
		for i, q := range cov.Queues {
			if q == o.Queue {
				qi = i
			}
		}
		if qi < 0 {
			return fmt.Errorf("chart: no queue %q in the coverage", o.Queue)
		}
	}
	type pt struct {
		t        time.Time
		req, got float64
	}
	var pts []pt
	for _, iv := range cov.Intervals {
		p := pt{t: iv.Start}
		for i := range iv.Required {
			if qi < 0 || i == qi {
				p.req += float64(iv.Required[i])
				p.got += iv.Staffed[i]
			}
		}
		if qi < 0 {
			p.got = iv.Present
		}
		if o.Compact && p.req == 0 && p.got == 0 {
			continue
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return ErrNothingToDraw
	}
	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, math.Max(p.req, p.got))
	}
	top, ystep := agentScale(ymax)
	const ml, mr, mt, mb = 56.0, 16.0, 40.0, 44.0
	W, H := float64(o.Width), float64(o.Height)
	pw, ph := W-ml-mr, H-mt-mb
	n := float64(len(pts))
	x := func(i int) float64 { return ml + pw*float64(i)/n }
	if !o.Compact {
		t0, t1 := pts[0].t, pts[len(pts)-1].t.Add(step)
		span := t1.Sub(t0).Seconds()
		x = func(i int) float64 {
			if i >= len(pts) {
				return ml + pw
			}
			return ml + pw*pts[i].t.Sub(t0).Seconds()/span
		}
	}
	y := func(v float64) float64 { return mt + ph*(1-v/top) }
	s := begin(w, o, 12, ml, 24, "Required and scheduled agents per interval")
	for v := 0.0; v <= top+ystep/2; v += ystep {
		s.pr(`<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", ml, ml+pw, y(v), y(v))
		s.pr(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%g</text>`+"\n", ml-6, y(v)+4, v)
	}
	// Day ticks, thinned to at most 14 labels.
	var ticks []int
	for i, p := range pts {
		if i == 0 || p.t.YearDay() != pts[i-1].t.YearDay() {
			ticks = append(ticks, i)
		}
	}
	every := max(1, (len(ticks)+13)/14)
	for j, i := range ticks {
		s.pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#f0f0f0"/>`+"\n", x(i), x(i), mt, mt+ph)
		if j%every == 0 {
			s.pr(`<text x="%.1f" y="%.1f" fill="#555">%s</text>`+"\n", x(i)+2, mt+ph+16, pts[i].t.Format("Mon 02 Jan"))
		}
	}
	// Staffed area, under-staffing in red, required line; steps break
	// where intervals are not adjacent.
	var area, red, line strings.Builder
	for i, p := range pts {
		x0, x1 := x(i), x(i+1)
		if i+1 < len(pts) && o.Compact {
			x1 = x(i + 1)
		}
		fmt.Fprintf(&area, "M%.1f %.1fH%.1fV%.1fH%.1fZ", x0, y(0), x1, y(p.got), x0)
		if p.got < p.req {
			fmt.Fprintf(&red, "M%.1f %.1fH%.1fV%.1fH%.1fZ", x0, y(p.got), x1, y(p.req), x0)
		}
		gap := i == 0 || (!o.Compact && p.t.Sub(pts[i-1].t) > step)
		if gap {
			fmt.Fprintf(&line, "M%.1f %.1f", x0, y(p.req))
		} else {
			fmt.Fprintf(&line, "V%.1f", y(p.req))
		}
		fmt.Fprintf(&line, "H%.1f", x1)
	}
	s.pr(`<path class="staffed" d="%s" fill="#9fc1ea" stroke="none"/>`+"\n", area.String())
	s.pr(`<path class="under" d="%s" fill="#e8898b" stroke="none"/>`+"\n", red.String())
	s.pr(`<path class="required" d="%s" fill="none" stroke="#222" stroke-width="1.4"/>`+"\n", line.String())
	s.pr(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`+"\n", ml, ml+pw, mt+ph, mt+ph)
	lx := ml + pw - 300
	s.pr(`<g class="legend" transform="translate(%.1f 14)">`, lx)
	s.pr(`<line x1="0" x2="18" y1="6" y2="6" stroke="#222" stroke-width="2"/><text x="22" y="10">required</text>`)
	s.pr(`<rect x="90" y="0" width="14" height="12" fill="#9fc1ea"/><text x="108" y="10">scheduled</text>`)
	s.pr(`<rect x="190" y="0" width="14" height="12" fill="#e8898b"/><text x="208" y="10">under-staffed</text>`)
	s.pr("</g>\n")
	return s.end()
}

// Week draws week (0-based) of the schedule: one row per agent (agents, or
// every agent with a shift that week, in schedule order), seven day
// columns over the hours worked that week, shifts as bars with their
// breaks cut out.
func Week(w io.Writer, s *wfm.Schedule, week int, agents []string, o Options) error {
	per := s.Period
	if week < 0 || week >= per.Days/7 {
		return fmt.Errorf("chart: week %d not in the period (%d weeks)", week, per.Days/7)
	}
	loc := per.Start.Location()
	from, to := per.Day(week*7), per.Day(week*7+7)
	byAgent := map[string][]wfm.Shift{}
	var order []string
	for _, sh := range s.Shifts {
		if sh.Start.Before(from) || !sh.Start.Before(to) {
			continue
		}
		if _, ok := byAgent[sh.Agent]; !ok {
			order = append(order, sh.Agent)
		}
		byAgent[sh.Agent] = append(byAgent[sh.Agent], sh)
	}
	if agents != nil {
		order = agents
	}
	if len(order) == 0 {
		return ErrNothingToDraw
	}
	// Hours shown each day: from the earliest start to the latest end.
	lo, hi := 24*60, 0
	for _, a := range order {
		for _, sh := range byAgent[a] {
			st := sh.Start.In(loc)
			m0 := st.Hour()*60 + st.Minute()
			lo = min(lo, m0)
			hi = max(hi, m0+int(sh.End.Sub(sh.Start).Minutes()))
		}
	}
	if hi <= lo {
		lo, hi = 8*60, 18*60
	}
	lo, hi = lo/60*60, min((hi+59)/60*60, 48*60)
	const rowH, ml, mr, mt, mb = 14.0, 70.0, 10.0, 48.0, 20.0
	if err := o.defaults(max(120, int(mt+mb+rowH*float64(len(order))))); err != nil {
		return err
	}
	W := float64(o.Width)
	colW := (W - ml - mr) / 7
	span := float64(hi - lo)
	xAt := func(day int, minute float64) float64 { return ml + colW*float64(day) + colW*(minute-float64(lo))/span }
	g := begin(w, o, 11, ml, 20, fmt.Sprintf("Schedule, week of %s", from.Format("Mon 02 Jan 2006")))
	for d := range 7 {
		day := per.Day(week*7 + d)
		g.pr(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", ml+colW*float64(d), mt, colW, rowH*float64(len(order)), []string{"#fafafa", "#f2f2f2"}[d%2])
		g.pr(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", ml+colW*(float64(d)+0.5), mt-22, day.Format("Mon 02"))
		g.pr(`<text x="%.1f" y="%.1f" fill="#777" font-size="9">%s</text>`+"\n", ml+colW*float64(d)+2, mt-6, wfm.Clock(lo))
	}
	for r, a := range order {
		yy := mt + rowH*float64(r)
		g.pr(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", ml-4, yy+rowH-3, esc(a))
		for _, sh := range byAgent[a] {
			d := int(sh.Start.In(loc).Sub(from).Hours() / 24)
			day := per.Day(week*7 + d)
			min0 := func(t time.Time) float64 { return t.Sub(day).Minutes() }
			// Bar pieces between breaks.
			cur := sh.Start
			for _, b := range append(sh.Breaks, wfm.Activity{Start: sh.End, End: sh.End}) {
				if b.Start.After(cur) {
					g.pr(`<rect class="shift" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f5fbf"><title>%s %s-%s</title></rect>`+"\n",
						xAt(d, min0(cur)), yy+2, xAt(d, min0(b.Start))-xAt(d, min0(cur)), rowH-4, esc(sh.Template), sh.Start.In(loc).Format("15:04"), sh.End.In(loc).Format("15:04"))
				}
				cur = b.End
			}
		}
	}
	return g.end()
}

// agentScale returns an axis top and a whole tick step (1, 2, 5, 10, 20,
// ...) giving at most six ticks for counts of agents up to v.
func agentScale(v float64) (top, step float64) {
	step = 1
	for i := 0; math.Ceil(v/step) > 6; i++ {
		step *= []float64{2, 2.5, 2}[i%3]
	}
	return math.Max(step, math.Ceil(v/step)*step), step
}
