package forecast

import (
	"time"
)

// grid lays a series out as calendar days × wall-clock slots.
type grid struct {
	loc      *time.Location
	step     time.Duration
	spd      int // slots per day
	day0     time.Time
	nDays    int
	open     [7][]bool
	vol      []float64 // nDays*spd
	aht      []float64 // handled-weighted sum of AHT
	ahtW     []float64
	has      []bool // the day has at least one row
	closed   []bool // closed holiday
	holiday  []string
	holidays map[string]Holiday // by date
	wdays    []time.Weekday
}

func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dayIndex is the number of calendar days from day0 to t's local date.
func (g *grid) dayIndex(t time.Time) int {
	return int(civil(t.In(g.loc)).Sub(civil(g.day0)).Hours()+0.5) / 24
}

// dayStart is the local midnight of day i.
func (g *grid) dayStart(i int) time.Time {
	return time.Date(g.day0.Year(), g.day0.Month(), g.day0.Day()+i, 0, 0, 0, 0, g.loc)
}

// slotStart is the wall-clock start of slot s of day i. A slot that does not
// exist on a daylight-saving day is normalised forward by time.Date.
func (g *grid) slotStart(i, s int) time.Time {
	m := s * int(g.step/time.Minute)
	return time.Date(g.day0.Year(), g.day0.Month(), g.day0.Day()+i, m/60, m%60, 0, 0, g.loc)
}

func (g *grid) weekday(i int) time.Weekday {
	if i >= 0 && i < len(g.wdays) {
		return g.wdays[i]
	}
	return (civil(g.day0).AddDate(0, 0, i)).Weekday()
}

func newGrid(s *Series, hours Hours, holidays []Holiday) *grid {
	loc := s.loc()
	g := &grid{loc: loc, step: s.Step, spd: int(24 * time.Hour / s.Step), holidays: map[string]Holiday{}}
	first := s.Points[0].Start.In(loc)
	g.day0 = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	g.nDays = g.dayIndex(s.Points[len(s.Points)-1].Start) + 1
	g.wdays = make([]time.Weekday, g.nDays)
	for i := range g.wdays {
		g.wdays[i] = (time.Weekday(int(civil(g.day0).Weekday())+i%7) % 7)
	}
	for d := 0; d < 7; d++ {
		g.open[d] = make([]bool, g.spd)
		for sl := 0; sl < g.spd; sl++ {
			m := sl * int(s.Step/time.Minute)
			t := time.Date(2001, 1, 7+d, m/60, m%60, 0, 0, time.UTC) // 2001-01-07 is a Sunday
			g.open[d][sl] = hours.Open(t, s.Step)
		}
	}
	for _, h := range holidays {
		g.holidays[h.Date] = h
	}
	n := g.nDays * g.spd
	g.vol = make([]float64, n)
	g.aht = make([]float64, n)
	g.ahtW = make([]float64, n)
	g.has = make([]bool, g.nDays)
	for _, p := range s.Points {
		t := p.Start.In(loc)
		d := g.dayIndex(t)
		i := d*g.spd + slotOf(t, s.Step)
		g.has[d] = true
		g.vol[i] += p.Offered
		if p.AHT > 0 {
			w := ahtWeight(p.Handled, p.Offered)
			g.aht[i] += p.AHT * w
			g.ahtW[i] += w
		}
	}
	g.closed = make([]bool, g.nDays)
	g.holiday = make([]string, g.nDays)
	for d := 0; d < g.nDays; d++ {
		g.holiday[d], g.closed[d] = g.holidayOn(d)
	}
	return g
}

// holidayOn returns the holiday name of day i and whether it is closed.
func (g *grid) holidayOn(i int) (string, bool) {
	h, ok := g.holidays[civil(g.day0).AddDate(0, 0, i).Format("2006-01-02")]
	if !ok {
		return "", false
	}
	return h.Name, h.Closed
}

// openSlots counts the open slots of a weekday.
func (g *grid) openSlots(wd time.Weekday) int {
	n := 0
	for _, o := range g.open[wd] {
		if o {
			n++
		}
	}
	return n
}
