package forecast

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Errors returned by this package. Row- and field-level failures wrap these.
var (
	ErrBadInput      = errors.New("forecast: bad input")
	ErrTooShort      = errors.New("forecast: history too short")
	ErrBadConfig     = errors.New("forecast: bad config")
	ErrNoOpenHours   = errors.New("forecast: no open intervals")
	ErrUnknownTarget = errors.New("forecast: unknown target")
	// ErrNoAHT: staffing or FTE needs an AHT that neither the history nor
	// the settings (default_aht) give.
	ErrNoAHT = errors.New("forecast: no AHT")
)

// Point is one interval of a queue's history. Start is the interval start in
// the series' location; counts are contacts in the interval; AHT is the average
// handle time of the handled contacts in seconds (0 = unknown).
type Point struct {
	Start     time.Time `json:"start"`
	Offered   float64   `json:"offered"`
	Handled   float64   `json:"handled,omitempty"`
	Abandoned float64   `json:"abandoned,omitempty"`
	AHT       float64   `json:"aht_seconds,omitempty"`
	// WaitSeconds is the total time the interval's offered contacts waited
	// (to answer or to abandonment); with Abandoned it gives patience.
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
}

// Series is the interval history of one queue. Points are sorted by Start,
// unique, aligned to Step in Location; intervals with no row are absent.
type Series struct {
	Queue    string         `json:"queue"`
	Step     time.Duration  `json:"-"` // JSON: step_seconds
	Location *time.Location `json:"-"`
	Points   []Point        `json:"points"`
}

// ValidStep reports whether d is a supported interval length (15, 30 or 60
// minutes).
func ValidStep(d time.Duration) bool {
	return d == 15*time.Minute || d == 30*time.Minute || d == time.Hour
}

func (s *Series) loc() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// Validate checks the series' invariants and names the first offending point.
func (s *Series) Validate() error {
	if !ValidStep(s.Step) {
		return fmt.Errorf("%w: step %v: must be 15m, 30m or 1h", ErrBadInput, s.Step)
	}
	loc := s.loc()
	for i, p := range s.Points {
		if !aligned(p.Start.In(loc), s.Step) {
			return fmt.Errorf("%w: point %d (%s): start not aligned to %v", ErrBadInput, i, p.Start.Format(time.RFC3339), s.Step)
		}
		if i > 0 && !p.Start.After(s.Points[i-1].Start) {
			return fmt.Errorf("%w: point %d (%s): not after the previous point", ErrBadInput, i, p.Start.Format(time.RFC3339))
		}
		for _, f := range []struct {
			name  string
			v     float64
			limit float64
		}{{"offered", p.Offered, MaxContacts}, {"handled", p.Handled, MaxContacts}, {"abandoned", p.Abandoned, MaxContacts},
			{"aht_seconds", p.AHT, MaxSeconds}, {"wait_seconds", p.WaitSeconds, MaxContacts * MaxSeconds}} {
			if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v > f.limit {
				return fmt.Errorf("%w: point %d (%s): %s = %v: want 0..%g", ErrBadInput, i, p.Start.Format(time.RFC3339), f.name, f.v, f.limit)
			}
		}
	}
	return nil
}

func aligned(t time.Time, step time.Duration) bool {
	m := t.Hour()*60 + t.Minute()
	return t.Second() == 0 && t.Nanosecond() == 0 && m%int(step/time.Minute) == 0
}

// Resample aggregates the series to a coarser step (a multiple of the current
// one): counts are summed and AHT is the handled-weighted mean.
func (s *Series) Resample(step time.Duration) (*Series, error) {
	if !ValidStep(step) || step < s.Step || step%s.Step != 0 {
		return nil, fmt.Errorf("%w: cannot resample %v to %v", ErrBadInput, s.Step, step)
	}
	loc := s.loc()
	out := &Series{Queue: s.Queue, Step: step, Location: s.Location}
	var cur *Point
	var ahtW float64
	flush := func() {
		if cur != nil {
			if ahtW > 0 {
				cur.AHT /= ahtW
			} else {
				cur.AHT = 0
			}
			out.Points = append(out.Points, *cur)
		}
	}
	for _, p := range s.Points {
		st := floorStep(p.Start.In(loc), step)
		if cur == nil || !cur.Start.Equal(st) {
			flush()
			cur = &Point{Start: st}
			ahtW = 0
		}
		cur.Offered += p.Offered
		cur.Handled += p.Handled
		cur.Abandoned += p.Abandoned
		cur.WaitSeconds += p.WaitSeconds
		if p.AHT > 0 {
			w := ahtWeight(p.Handled, p.Offered)
			cur.AHT += p.AHT * w
			ahtW += w
		}
	}
	flush()
	return out, nil
}

// ahtWeight is the weight of an interval's AHT in a mean: its handled
// contacts, else its offered ones, else 1.
func ahtWeight(handled, offered float64) float64 {
	switch {
	case handled > 0:
		return handled
	case offered > 0:
		return offered
	}
	return 1
}

// floorStep truncates t to the start of its wall-clock interval.
func floorStep(t time.Time, step time.Duration) time.Time {
	m := t.Hour()*60 + t.Minute()
	sm := int(step / time.Minute)
	m -= m % sm
	return time.Date(t.Year(), t.Month(), t.Day(), m/60, m%60, 0, 0, t.Location())
}

// Engagement is the part of a stored engagement that history needs.
// Abandoned engagements were offered but never answered; Wait is the time
// from offer to answer or to abandonment (used to estimate patience). A
// handled engagement with Handle 0 (still live) counts as handled but not in
// the AHT.
type Engagement struct {
	Queue     string
	Offered   time.Time
	Handle    time.Duration // talk + hold + wrap-up; 0 if abandoned
	Wait      time.Duration
	Abandoned bool
}

// Aggregate builds one Series per queue from engagements: offered, handled
// and abandoned counts per interval and the handled contacts' mean AHT.
// Intervals without engagements are absent (read as zero within a day that
// has data, see the package doc).
func Aggregate(engs []Engagement, step time.Duration, loc *time.Location) (map[string]*Series, error) {
	if !ValidStep(step) {
		return nil, fmt.Errorf("%w: step %v: must be 15m, 30m or 1h", ErrBadInput, step)
	}
	if loc == nil {
		loc = time.UTC
	}
	type key struct {
		q string
		t int64
	}
	acc := map[key]*Point{}
	timed := map[key]float64{} // handled engagements with a known handle time
	for i, e := range engs {
		if e.Offered.IsZero() {
			return nil, fmt.Errorf("%w: engagement %d: no offer time", ErrBadInput, i)
		}
		if e.Handle < 0 || e.Wait < 0 {
			return nil, fmt.Errorf("%w: engagement %d: negative duration", ErrBadInput, i)
		}
		st := floorStep(e.Offered.In(loc), step)
		k := key{e.Queue, st.Unix()}
		p := acc[k]
		if p == nil {
			p = &Point{Start: st}
			acc[k] = p
		}
		p.Offered++
		p.WaitSeconds += e.Wait.Seconds()
		if e.Abandoned {
			p.Abandoned++
		} else {
			p.Handled++
			if e.Handle > 0 {
				p.AHT += e.Handle.Seconds() // sum for now
				timed[k]++
			}
		}
	}
	out := map[string]*Series{}
	for k, p := range acc {
		if timed[k] > 0 {
			p.AHT /= timed[k]
		}
		s := out[k.q]
		if s == nil {
			s = &Series{Queue: k.q, Step: step, Location: loc}
			out[k.q] = s
		}
		s.Points = append(s.Points, *p)
	}
	for _, s := range out {
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].Start.Before(s.Points[j].Start) })
	}
	return out, nil
}

// Before returns the points that start before t (shared, not copied).
func (s *Series) Before(t time.Time) *Series {
	i := sort.Search(len(s.Points), func(i int) bool { return !s.Points[i].Start.Before(t) })
	out := *s
	out.Points = s.Points[:i]
	return &out
}

// Between returns the points with from <= Start < to (shared, not copied).
func (s *Series) Between(from, to time.Time) *Series {
	i := sort.Search(len(s.Points), func(i int) bool { return !s.Points[i].Start.Before(from) })
	j := sort.Search(len(s.Points), func(i int) bool { return !s.Points[i].Start.Before(to) })
	out := *s
	out.Points = s.Points[i:j]
	return &out
}

// Actuals maps interval starts (Unix seconds) to the target's observed value.
func (s *Series) Actuals(target Target) map[int64]float64 {
	m := make(map[int64]float64, len(s.Points))
	for _, p := range s.Points {
		switch target {
		case TargetAHT:
			if p.AHT > 0 {
				m[p.Start.Unix()] = p.AHT
			}
		default:
			m[p.Start.Unix()] = p.Offered
		}
	}
	return m
}

// Dates returns the distinct local dates (YYYY-MM-DD) that have points, in
// order, with the local midnight of each.
func (s *Series) Dates() []time.Time {
	loc := s.loc()
	var out []time.Time
	for _, p := range s.Points {
		t := p.Start.In(loc)
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if len(out) == 0 || !out[len(out)-1].Equal(d) {
			out = append(out, d)
		}
	}
	return out
}

// Patience estimates the customers' mean patience for Erlang A from the
// history's abandoned contacts and total waits (the censored-exponential
// estimate: seconds waited by all offered contacts / contacts abandoned),
// over the points starting at or after since (zero = all).
func (s *Series) Patience(since time.Time) (time.Duration, error) {
	var wait, ab float64
	for _, p := range s.Points {
		if !since.IsZero() && p.Start.Before(since) {
			continue
		}
		wait += p.WaitSeconds
		ab += p.Abandoned
	}
	if ab <= 0 || wait <= 0 {
		return 0, fmt.Errorf("%w: queue %q: patience needs abandoned contacts and waiting times in the history (wait_seconds, or asa and abandon_time)", ErrBadInput, s.Queue)
	}
	return time.Duration(wait / ab * float64(time.Second)), nil
}

// RecentPatience is Patience over the last days of the series (counted back
// from its last point): the estimate staffing uses for patience "auto".
func (s *Series) RecentPatience(days int) (time.Duration, error) {
	if len(s.Points) == 0 {
		return 0, fmt.Errorf("%w: empty series", ErrTooShort)
	}
	return s.Patience(s.Points[len(s.Points)-1].Start.AddDate(0, 0, -days))
}
