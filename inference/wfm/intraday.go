package wfm

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// IntradayOptions bound the adjustments PlanIntraday proposes.
type IntradayOptions struct {
	// MaxOvertime is the most voluntary overtime offered to one agent
	// today, before or after the shift (default 2h).
	MaxOvertime Duration `json:"max_overtime"`
	// MaxTimeOff is the most voluntary time off offered to one agent today,
	// at the start or end of the shift (default 4h).
	MaxTimeOff Duration `json:"max_time_off"`
	// MaxCallIn is the longest extra shift offered to an agent who is off
	// today (default 4h; shorter ones are offered too, from 1h).
	MaxCallIn Duration `json:"max_call_in"`
	// MaxAdjustments caps the list (default 20).
	MaxAdjustments int `json:"max_adjustments"`
}

func (o *IntradayOptions) defaults() error {
	if o.MaxOvertime == 0 {
		o.MaxOvertime = Duration(2 * time.Hour)
	}
	if o.MaxTimeOff == 0 {
		o.MaxTimeOff = Duration(4 * time.Hour)
	}
	if o.MaxCallIn == 0 {
		o.MaxCallIn = Duration(4 * time.Hour)
	}
	if o.MaxAdjustments == 0 {
		o.MaxAdjustments = 20
	}
	switch {
	case o.MaxOvertime.D() < 0 || o.MaxOvertime.D() > 8*time.Hour || o.MaxOvertime.D()%Quarter != 0:
		return fieldErr("max_overtime", "%s must be a multiple of 15m in [0, 8h]", o.MaxOvertime)
	case o.MaxTimeOff.D() < 0 || o.MaxTimeOff.D() > 12*time.Hour || o.MaxTimeOff.D()%Quarter != 0:
		return fieldErr("max_time_off", "%s must be a multiple of 15m in [0, 12h]", o.MaxTimeOff)
	case o.MaxCallIn.D() < 0 || o.MaxCallIn.D() > 12*time.Hour || o.MaxCallIn.D()%Quarter != 0:
		return fieldErr("max_call_in", "%s must be a multiple of 15m in [0, 12h]", o.MaxCallIn)
	case o.MaxAdjustments < 0 || o.MaxAdjustments > 500:
		return fieldErr("max_adjustments", "%d must be in [0, 500]", o.MaxAdjustments)
	}
	return nil
}

// Adjustment is one change to today's schedule that narrows the gap
// between staffed and required agents.
type Adjustment struct {
	// Kind is "move_break", "overtime" (voluntary, before or after the
	// shift), "time_off" (voluntary, at its start or end) or "call_in"
	// (voluntary, an agent who is off today works From to To).
	Kind  string `json:"kind"`
	Agent string `json:"agent"`
	Break string `json:"break,omitempty"`
	// From and To: for move_break the break's current and new start; for
	// overtime, time off and call-ins the span added or given.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// PaidHours is the change in paid time: positive for overtime,
	// negative for time off, zero for a break moved.
	PaidHours float64 `json:"paid_hours"`
	// UnderClosed and OverClosed are the agent-intervals of under- and
	// over-staffing it removes (negative: adds), given the adjustments
	// listed before it.
	UnderClosed float64 `json:"under_closed"`
	OverClosed  float64 `json:"over_closed"`
}

// Intraday is the rest of a day: the gap per interval and the adjustments
// that close most of it.
type Intraday struct {
	Now time.Time `json:"now"`
	// Intervals are the day's intervals from now on, as scheduled.
	Intervals   []CoverageInterval `json:"intervals"`
	Queues      []string           `json:"queues"`
	Under       float64            `json:"under_agent_intervals"`
	Over        float64            `json:"over_agent_intervals"`
	UnderAfter  float64            `json:"under_after"`
	OverAfter   float64            `json:"over_after"`
	Adjustments []Adjustment       `json:"adjustments"`
}

// liveShift is a shift as PlanIntraday edits it, in quarters.
type liveShift struct {
	agent    int // index into model.agents
	sh       *Shift
	s, e     int32
	breaks   []liveBreak
	ot, toff int32 // quarters of overtime and time off given so far
}

type liveBreak struct {
	name        string
	s, e        int32
	first, last int32 // allowed starts
}

// PlanIntraday measures schedule s against p's demand (the day's
// re-forecast: see ReforecastDay and DemandFromPlan) from now to the end
// of now's day, and proposes adjustments ranked by how much of the gap
// each closes, under-staffing first (UnderWeight to one, as in Solve):
// moving breaks not yet started, voluntary overtime within the agent's
// availability and rest, voluntary time off, and calling in agents who are
// off today, within their availability, rest, days in a row, days off per
// week and weekends. Each adjustment's figures assume the ones before it
// are taken.
func PlanIntraday(p *Problem, s *Schedule, now time.Time, opt IntradayOptions) (*Intraday, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	per := p.Period
	loc := per.Start.Location()
	if now.Before(per.Start) || !now.Before(per.End()) {
		return nil, fieldErr("now", "%s is outside the period", now.Format(time.RFC3339))
	}
	m := compile(p)
	c := newCover(m)
	n := now.In(loc)
	dayEnd := time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, loc)
	q := func(t time.Time) int32 { return int32(t.Sub(per.Start) / Quarter) }
	qNow := int32((now.Sub(per.Start) + Quarter - 1) / Quarter)
	qEnd := q(dayEnd)
	idx := map[string]int{}
	for i := range m.agents {
		idx[m.agents[i].a.ID] = i
	}
	// Every shift goes into the cover; today's open ones can be adjusted.
	var live []*liveShift
	byAgent := map[int][]*liveShift{}
	for i := range s.Shifts {
		sh := &s.Shifts[i]
		ai, ok := idx[sh.Agent]
		if !ok {
			continue
		}
		ls := &liveShift{agent: ai, sh: sh, s: q(sh.Start), e: q(sh.End)}
		t, _ := p.Rules.template(sh.Template)
		for j, b := range sh.Breaks {
			lb := liveBreak{name: b.Name, s: q(b.Start), e: q(b.End), first: -1, last: -1}
			if t != nil && j < len(t.Breaks) {
				tb := t.Breaks[j]
				lb.first = ls.s + int32(tb.After.D()/Quarter)
				lb.last = ls.s + int32((tb.Before.D()-tb.Length.D())/Quarter)
			}
			ls.breaks = append(ls.breaks, lb)
		}
		ls.apply(c, m, 1)
		byAgent[ai] = append(byAgent[ai], ls)
		if ls.e > qNow && ls.s < qEnd {
			live = append(live, ls)
		}
	}
	cov, err := Evaluate(p, s)
	if err != nil {
		return nil, err
	}
	out := &Intraday{Now: now, Queues: cov.Queues, Adjustments: []Adjustment{}}
	for _, iv := range cov.Intervals {
		if !iv.Start.Add(per.Step).After(now) || !iv.Start.Before(dayEnd) {
			continue
		}
		out.Intervals = append(out.Intervals, iv)
	}
	k := float64(m.k)
	u0, o0 := c.span(qNow, qEnd)
	out.Under, out.Over = float64(u0)/k, float64(o0)/k
	maxOT := int32(opt.MaxOvertime.D() / Quarter)
	maxTO := int32(opt.MaxTimeOff.D() / Quarter)
	callIns := m.callIns(byAgent, now, qNow, qEnd, int32(opt.MaxCallIn.D()/Quarter))
	for len(out.Adjustments) < opt.MaxAdjustments {
		best := candidate{delta: -1e-9}
		consider := func(cd candidate) {
			cd.delta, cd.du, cd.do = cd.try(c, m, cd.ls)
			if cd.delta < best.delta {
				best = cd
			}
		}
		for _, ls := range live {
			for _, cd := range ls.candidates(m, byAgent[ls.agent], qNow, maxOT, maxTO) {
				consider(cd)
			}
		}
		for _, cd := range callIns {
			// Only a call-in that starts and ends where its agent would
			// cut under-staffing can be the best one of its span.
			if bit := uint64(1) << m.agents[cd.ls.agent].set; c.gain[cd.ls.s]&bit != 0 && c.gain[cd.ls.e-1]&bit != 0 {
				consider(cd)
			}
		}
		if best.ls == nil {
			break
		}
		out.Adjustments = append(out.Adjustments, best.adjustment(m, per, loc))
		best.commit(c, m)
		if best.kind == "call_in" {
			// One call-in an agent: the others are dropped.
			callIns = slices.DeleteFunc(callIns, func(cd candidate) bool { return cd.ls.agent == best.ls.agent })
		}
	}
	u1, o1 := c.span(qNow, qEnd)
	out.UnderAfter, out.OverAfter = float64(u1)/k, float64(o1)/k
	return out, nil
}

// callIns lists the extra shifts agents off on now's day could work, from
// qNow to qEnd at the latest: one to maxQ quarters long (from an hour),
// inside the agent's availability, with rest around the agent's shifts of
// the days before and after, and without more days in a row, fewer days
// off in the week or more weekends than the rules allow.
func (m *model) callIns(byAgent map[int][]*liveShift, now time.Time, qNow, qEnd, maxQ int32) []candidate {
	r := &m.p.Rules
	per := m.p.Period
	today := dayIndex(per, now)
	dayQ := m.dayQuarter(now)
	const minQ = 4
	prior := m.p.priorOf()
	var out []candidate
	for ai := range m.agents {
		ma := &m.agents[ai]
		av := ma.a.Available
		if !av.days().Has(m.days[today].date.Weekday()) {
			continue
		}
		worked := make([]bool, len(m.days))
		lo, hi := int32(math.MinInt32), int32(math.MaxInt32)
		weekends := map[int]bool{}
		if pr := prior[ma.a.ID]; pr != nil {
			lo = int32((pr.LastEnd.Sub(per.Start)+Quarter-1)/Quarter) + m.restQ
		}
		for _, ls := range byAgent[ai] {
			d := dayIndex(per, ls.sh.Start)
			if d >= 0 && d < len(worked) {
				worked[d] = true
				if w := m.days[d].weekend; w >= 0 {
					weekends[w] = true
				}
			}
			if ls.e <= qNow {
				lo = max(lo, ls.e+m.restQ)
			} else {
				hi = min(hi, ls.s-m.restQ)
			}
		}
		if worked[today] {
			continue
		}
		days := 0
		for d := today / 7 * 7; d < today/7*7+7; d++ {
			if worked[d] {
				days++
			}
		}
		run := 1
		for d := today - 1; d >= 0 && worked[d]; d-- {
			run++
			if d == 0 {
				run += ma.run0
			}
		}
		if today == 0 {
			run += ma.run0
		}
		for d := today + 1; d < len(worked) && worked[d]; d++ {
			run++
		}
		if w := m.days[today].weekend; w >= 0 && !weekends[w] && len(weekends)+1 > m.weekendMax {
			continue
		}
		if days+1 > 7-r.MinDaysOffPerWeek || run > r.MaxConsecutiveDays {
			continue
		}
		from := max(qNow, lo, dayQ+int32(av.From/15))
		to := min(qEnd, hi, dayQ+int32(av.to()/15))
		for s := from; s+minQ <= to; s++ {
			for e := s + minQ; e <= min(to, s+maxQ); e++ {
				ls := &liveShift{agent: ai, s: s, e: e}
				out = append(out, candidate{ls: ls, kind: "call_in", to: e})
			}
		}
	}
	return out
}

// span sums under- and over-staffing over quarters [from, to).
func (c *cover) span(from, to int32) (under, over int32) {
	for t := max(from, 0); t < min(to, int32(c.T)); t++ {
		under += c.under[t]
		over += c.pres[t] - c.reqTot[t] + c.under[t]
	}
	return under, over
}

func (ls *liveShift) apply(c *cover, m *model, sign int32) {
	set := m.agents[ls.agent].set
	cur := ls.s
	for _, b := range ls.breaks {
		c.add(set, cur, b.s, sign)
		cur = max(cur, b.e)
	}
	c.add(set, cur, ls.e, sign)
}

// candidate is one possible adjustment of a live shift.
type candidate struct {
	ls     *liveShift
	kind   string
	brk    int   // move_break: which break
	to     int32 // move_break: new start; overtime/time off: new start or end
	atEnd  bool
	delta  float64
	du, do int32
}

func (ls *liveShift) candidates(m *model, same []*liveShift, qNow, maxOT, maxTO int32) []candidate {
	var out []candidate
	ma := &m.agents[ls.agent]
	for j, b := range ls.breaks {
		if b.s < qNow || b.first < 0 {
			continue
		}
		for p := max(b.first, qNow); p <= b.last; p++ {
			if p == b.s || overlaps(ls.breaks, j, p, p+(b.e-b.s)) {
				continue
			}
			out = append(out, candidate{ls: ls, kind: "move_break", brk: j, to: p})
		}
	}
	// Neighbouring shifts bound overtime by the rest rule.
	lo, hi := int32(math.MinInt32), int32(math.MaxInt32)
	for _, o := range same {
		if o == ls {
			continue
		}
		if o.e <= ls.s {
			lo = max(lo, o.e+m.restQ)
		} else if o.s >= ls.e {
			hi = min(hi, o.s-m.restQ)
		}
	}
	dayQ := m.dayQuarter(ls.sh.Start)
	from, to := ma.a.Available.From, ma.a.Available.to()
	for x := int32(1); x <= maxOT-ls.ot; x++ {
		if e := ls.e + x; e <= hi && dayQ+int32(to/15) >= e {
			out = append(out, candidate{ls: ls, kind: "overtime", to: e, atEnd: true})
		}
		if st := ls.s - x; st >= qNow && st >= lo && dayQ+int32(from/15) <= st {
			out = append(out, candidate{ls: ls, kind: "overtime", to: st})
		}
	}
	firstBreak, lastBreakEnd := ls.e, ls.s
	for _, b := range ls.breaks {
		firstBreak, lastBreakEnd = min(firstBreak, b.s), max(lastBreakEnd, b.e)
	}
	for x := int32(1); x <= maxTO-ls.toff; x++ {
		if e := ls.e - x; e >= max(qNow, lastBreakEnd) && e > ls.s {
			out = append(out, candidate{ls: ls, kind: "time_off", to: e, atEnd: true})
		}
		if st := ls.s + x; ls.s >= qNow && st <= firstBreak && st < ls.e {
			out = append(out, candidate{ls: ls, kind: "time_off", to: st})
		}
	}
	return out
}

func overlaps(bs []liveBreak, j int, s, e int32) bool {
	for i, b := range bs {
		if i != j && s < b.e && b.s < e {
			return true
		}
	}
	return false
}

// dayQuarter is the quarter of the local midnight of t's day.
func (m *model) dayQuarter(t time.Time) int32 {
	d := dayIndex(m.p.Period, t)
	if d < 0 || d >= len(m.days) {
		return 0
	}
	return int32(m.days[d].date.Sub(m.p.Period.Start) / Quarter)
}

// change applies the candidate's change to the cover (sign 1) or undoes
// it (-1).
func (cd *candidate) change(c *cover, m *model, sign int32) {
	ls := cd.ls
	set := m.agents[ls.agent].set
	switch cd.kind {
	case "move_break":
		b := ls.breaks[cd.brk]
		c.add(set, b.s, b.e, sign)
		c.add(set, cd.to, cd.to+(b.e-b.s), -sign)
	case "overtime":
		if cd.atEnd {
			c.add(set, ls.e, cd.to, sign)
		} else {
			c.add(set, cd.to, ls.s, sign)
		}
	case "time_off":
		if cd.atEnd {
			c.add(set, cd.to, ls.e, -sign)
		} else {
			c.add(set, ls.s, cd.to, -sign)
		}
	case "call_in":
		c.add(set, ls.s, ls.e, sign)
	}
}

// bounds is the span of quarters the candidate touches.
func (cd *candidate) bounds() (int32, int32) {
	ls := cd.ls
	switch cd.kind {
	case "move_break":
		b := ls.breaks[cd.brk]
		return min(b.s, cd.to), max(b.e, cd.to+(b.e-b.s))
	case "call_in":
		return ls.s, ls.e
	default:
		if cd.atEnd {
			return min(ls.e, cd.to), max(ls.e, cd.to)
		}
		return min(ls.s, cd.to), max(ls.s, cd.to)
	}
}

// try measures the candidate and undoes it.
func (cd *candidate) try(c *cover, m *model, ls *liveShift) (float64, int32, int32) {
	from, to := cd.bounds()
	u0, o0 := c.span(from, to)
	before := c.cost
	cd.change(c, m, 1)
	delta := c.cost - before
	u1, o1 := c.span(from, to)
	cd.change(c, m, -1)
	return delta, u1 - u0, o1 - o0
}

func (cd *candidate) commit(c *cover, m *model) {
	cd.change(c, m, 1)
	ls := cd.ls
	switch cd.kind {
	case "move_break":
		b := &ls.breaks[cd.brk]
		b.e, b.s = cd.to+(b.e-b.s), cd.to
		slices.SortFunc(ls.breaks, func(x, y liveBreak) int { return int(x.s - y.s) })
	case "call_in":
	default:
		from, to := cd.bounds()
		used := &ls.ot
		if cd.kind == "time_off" {
			used = &ls.toff
		}
		*used += to - from
		if cd.atEnd {
			ls.e = cd.to
		} else {
			ls.s = cd.to
		}
	}
}

func (cd *candidate) adjustment(m *model, per Period, loc *time.Location) Adjustment {
	at := func(q int32) time.Time { return per.Start.Add(time.Duration(q) * Quarter).In(loc) }
	k := float64(m.k)
	a := Adjustment{Kind: cd.kind, Agent: m.agents[cd.ls.agent].a.ID, UnderClosed: -float64(cd.du) / k, OverClosed: -float64(cd.do) / k}
	from, to := cd.bounds()
	switch cd.kind {
	case "move_break":
		b := cd.ls.breaks[cd.brk]
		a.Break, a.From, a.To = b.name, at(b.s), at(cd.to)
	case "overtime":
		a.From, a.To = at(from), at(to)
		a.PaidHours = float64(to-from) / 4
	case "time_off":
		a.From, a.To = at(from), at(to)
		a.PaidHours = -float64(to-from) / 4
	case "call_in":
		a.From, a.To = at(from), at(to)
		a.PaidHours = float64(to-from) / 4
	}
	return a
}

func (a Adjustment) String() string {
	what := a.Kind
	if a.Break != "" {
		what += " " + a.Break
	}
	return fmt.Sprintf("%s %s %s-%s (%+.2fh): closes %.1f under- and %.1f over-staffed agent-intervals", what, a.Agent,
		a.From.Format("15:04"), a.To.Format("15:04"), a.PaidHours, a.UnderClosed, a.OverClosed)
}
