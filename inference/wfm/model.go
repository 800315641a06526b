package wfm

import (
	"math"
	"slices"
	"time"
)

// The optimiser works on a compiled model: time in quarters of an hour
// from the period's start (real time, so days changing to or from daylight
// saving time have 92 or 100 quarters), every shift an agent could work on
// every day enumerated as an option, and agents grouped by the set of
// scheduled queues they can take.

// maxBreaks bounds the breaks of a template.
const maxBreaks = 6

type mbreak struct {
	lenQ, first, last int // break length; earliest and latest start offset from the shift start
}

type mtemplate struct {
	t      *ShiftTemplate
	lenQ   int
	paidQ  int
	breaks []mbreak
}

type mday struct {
	date    time.Time // local midnight
	week    int
	weekend int // index of the weekend, -1 on weekdays
}

// opt is one shift an agent could work on a day.
type opt struct {
	tmpl  int16
	rank  int16 // index of s among the day's distinct starts
	block int16 // distinct starts of the next day the rest rule rules out after this shift
	s, e  int32 // start and end quarter
	pref  float64
}

type magent struct {
	a      *Agent
	set    int // index into model.sets
	lo, hi int // weekly paid quarters
	opts   [][]opt
	starts [][]int32 // per day: the distinct starts, ascending
	run0   int       // days worked in a row before the period, at most MaxConsecutiveDays
}

type model struct {
	p          *Problem
	T          int // quarters in the period
	k          int // quarters per interval
	nq         int
	req        []int32  // [t*nq+q]
	sets       []uint64 // queue mask of each skill set
	tmpls      []mtemplate
	days       []mday
	agents     []magent
	skipped    []*Agent // no scheduled queue among their skills
	weekends   int
	weekendMax int
	restQ      int32
	wu, wo     float64 // per agent-quarter
	prefW      float64 // per missed preference
	hoursPen   float64 // per quarter short
}

func compile(p *Problem) *model {
	per := p.Period
	loc := per.Start.Location()
	m := &model{
		p:     p,
		T:     int(per.End().Sub(per.Start) / Quarter),
		k:     int(per.Step / Quarter),
		nq:    len(p.Demand),
		restQ: int32((p.Rules.MinRest.D() + Quarter - 1) / Quarter),
	}
	kf := float64(m.k)
	// Internal costs are per quarter; reported ones per interval.
	m.wu, m.wo = UnderWeight, OverWeight
	m.prefW = p.Rules.PreferenceWeight * kf
	m.hoursPen = HoursPenalty * kf
	m.req = make([]int32, m.T*m.nq)
	for q, d := range p.Demand {
		for t := range m.T {
			m.req[t*m.nq+q] = int32(d.Agents[t/m.k])
		}
	}
	for i := range p.Rules.Shifts {
		t := &p.Rules.Shifts[i]
		mt := mtemplate{t: t, lenQ: int(t.Length.D() / Quarter), paidQ: int(t.Paid() / Quarter)}
		for _, b := range t.Breaks {
			l := int(b.Length.D() / Quarter)
			mt.breaks = append(mt.breaks, mbreak{lenQ: l, first: int(b.After.D() / Quarter), last: int(b.Before.D()/Quarter) - l})
		}
		m.tmpls = append(m.tmpls, mt)
	}
	wkIdx := map[string]int{}
	for d := range per.Days {
		date := per.Day(d)
		md := mday{date: date, week: d / 7, weekend: -1}
		if key, ok := weekendKey(date); ok {
			if _, seen := wkIdx[key]; !seen {
				wkIdx[key] = len(wkIdx)
			}
			md.weekend = wkIdx[key]
		}
		m.days = append(m.days, md)
	}
	m.weekends = len(wkIdx)
	m.weekendMax = p.Rules.weekendLimit(m.weekends)
	qi := p.queueIndex()
	setIdx := map[uint64]int{}
	prior := p.priorOf()
	for i := range p.Roster.Agents {
		a := &p.Roster.Agents[i]
		var mask uint64
		for _, s := range a.Skills {
			if q, ok := qi[s]; ok {
				mask |= 1 << q
			}
		}
		if mask == 0 {
			m.skipped = append(m.skipped, a)
			continue
		}
		si, ok := setIdx[mask]
		if !ok {
			si = len(m.sets)
			setIdx[mask] = si
			m.sets = append(m.sets, mask)
		}
		ma := magent{a: a, set: si}
		ma.lo, ma.hi = p.Rules.hoursBand(a.HoursPerWeek)
		ma.opts = make([][]opt, per.Days)
		ma.starts = make([][]int32, per.Days)
		minStart := int32(math.MinInt32)
		if pr := prior[a.ID]; pr != nil {
			// The rest after the last shift before the period rules out
			// the first day's early starts.
			minStart = int32((pr.LastEnd.Add(p.Rules.MinRest.D()).Sub(per.Start) + Quarter - 1) / Quarter)
			ma.run0 = min(pr.DaysInARow, p.Rules.MaxConsecutiveDays)
		}
		for d := range per.Days {
			ma.opts[d], ma.starts[d] = m.options(a, d, loc, minStart)
		}
		for d := range per.Days {
			for j := range ma.opts[d] {
				o := &ma.opts[d][j]
				if d+1 < per.Days {
					next := ma.starts[d+1]
					o.block = int16(sortSearch(next, o.e+m.restQ))
				}
			}
		}
		m.agents = append(m.agents, ma)
	}
	return m
}

// sortSearch returns how many of the ascending xs are below v.
func sortSearch(xs []int32, v int32) int {
	i, _ := slices.BinarySearch(xs, v)
	return i
}

// options enumerates the shifts agent a could work on day d, starting at
// quarter minStart or later.
func (m *model) options(a *Agent, d int, loc *time.Location, minStart int32) ([]opt, []int32) {
	day := m.days[d].date
	av := a.Available
	if !av.days().Has(day.Weekday()) {
		return nil, nil
	}
	var out []opt
	for ti := range m.tmpls {
		mt := &m.tmpls[ti]
		if !a.allows(mt.t.Name) {
			continue
		}
		for _, c := range mt.t.Starts {
			if c < av.From {
				continue
			}
			st := time.Date(day.Year(), day.Month(), day.Day(), int(c)/60, int(c)%60, 0, 0, loc)
			if Clock(st.Hour()*60+st.Minute()) != c {
				continue // skipped by a change to daylight saving time
			}
			end := st.Add(mt.t.Length.D())
			if clockOn(day, end) > av.to() {
				continue
			}
			s := int32(st.Sub(m.p.Period.Start) / Quarter)
			if s < minStart {
				continue
			}
			o := opt{tmpl: int16(ti), s: s, e: s + int32(mt.lenQ)}
			sh := Shift{Start: st, End: end}
			o.pref = float64(preferenceMisses(a, &sh, loc)) * m.prefW
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(x, y opt) int { return int(x.s - y.s) })
	var starts []int32
	for i := range out {
		if len(starts) == 0 || starts[len(starts)-1] != out[i].s {
			starts = append(starts, out[i].s)
		}
		out[i].rank = int16(len(starts) - 1)
	}
	return out, starts
}

// choice is what an agent does on a day: an option (or -1, off) and the
// start offsets of its breaks.
type choice struct {
	opt int16
	br  [maxBreaks]int8
}

var off = choice{opt: -1}

// maxPaidPerDay is the longest paid shift an agent could work on any day.
func (m *model) maxPaidPerDay(ma *magent) int {
	best := 0
	for _, day := range ma.opts {
		for _, o := range day {
			best = max(best, m.tmpls[o.tmpl].paidQ)
		}
	}
	return best
}

func quartersString(q int) string { return hoursString(float64(q) / 4) }

var inf = math.Inf(1)

// lineOK reports whether a line keeps the agent's rules that span days:
// rest between consecutive days, days in a row, days off per week,
// weekends. (Paid hours are the callers' to keep.)
func (m *model) lineOK(ma *magent, line []choice) bool {
	r := &m.p.Rules
	run, weekends, days := ma.run0, 0, 0
	var counted [8]bool
	for d, ch := range line {
		if d%7 == 0 {
			days = 0
		}
		if ch.opt < 0 {
			run = 0
			continue
		}
		run++
		days++
		if run > r.MaxConsecutiveDays || days > 7-r.MinDaysOffPerWeek {
			return false
		}
		o := &ma.opts[d][ch.opt]
		if d > 0 {
			if p := line[d-1]; p.opt >= 0 && ma.opts[d-1][p.opt].e+m.restQ > o.s {
				return false
			}
		}
		if w := m.days[d].weekend; w >= 0 && !counted[w] {
			counted[w] = true
			weekends++
		}
	}
	return weekends <= m.weekendMax
}
