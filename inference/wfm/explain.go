package wfm

import (
	"fmt"
	"strings"
	"time"
)

// explain says what a schedule misses and why: weeks short of a contract
// (the only hard rule the optimiser ever breaks, and only when the agent
// cannot reach the band at all), agents who cannot work, and demand beyond
// what the roster can give.
func explain(m *model, sv *solver, cov *Coverage) []Explanation {
	var out []Explanation
	for _, a := range m.skipped {
		out = append(out, Explanation{Rule: "skills", Agent: a.ID,
			Message: fmt.Sprintf("not scheduled: none of the agent's skills (%s) is a scheduled queue", strings.Join(a.Skills, ", "))})
	}
	for ai := range m.agents {
		ma := &m.agents[ai]
		paid := make([]int, len(m.days)/7)
		for d, ch := range sv.lines[ai] {
			if ch.opt >= 0 {
				paid[d/7] += m.tmpls[ma.opts[d][ch.opt].tmpl].paidQ
			}
		}
		for w, got := range paid {
			if got >= ma.lo {
				continue
			}
			out = append(out, Explanation{Rule: "min_hours", Agent: ma.a.ID, Week: w + 1,
				Message: fmt.Sprintf("week %d: %s paid of a %s contract (tolerance %s): %s", w+1,
					quartersString(got), hoursString(ma.a.HoursPerWeek), m.p.Rules.HoursTolerance, m.whyShort(ma, w))})
		}
	}
	out = append(out, m.capacity(cov)...)
	return out
}

// whyShort names what keeps agent ma from its contract in week w.
func (m *model) whyShort(ma *magent, w int) string {
	r := &m.p.Rules
	var days []string
	usable := 0
	for d := w * 7; d < w*7+7; d++ {
		if len(ma.opts[d]) > 0 {
			usable++
			days = append(days, strings.ToLower(m.days[d].date.Weekday().String()[:3]))
		}
	}
	if usable == 0 {
		return "no shift fits the agent's availability on any day: " + m.whyNoShift(ma, w)
	}
	maxW := min(usable, 7-r.MinDaysOffPerWeek)
	mp := m.maxPaidPerDay(ma)
	if bound := maxW * mp; bound < ma.lo {
		return fmt.Sprintf("at most %d days (a shift fits on %s only; %d days off a week) of at most %s paid = %s",
			maxW, strings.Join(days, ","), r.MinDaysOffPerWeek, quartersString(mp), quartersString(bound))
	}
	why := fmt.Sprintf("the shifts that fit (on %s, at most %s paid a day) cannot add up to the band under the rest, days-in-a-row and weekend rules", strings.Join(days, ","), quartersString(mp))
	if w == 0 && ma.run0 > 0 {
		why += fmt.Sprintf(", with %d days worked in a row before the period (at most %d)", ma.run0, r.MaxConsecutiveDays)
	}
	return why
}

// whyNoShift explains why no template fits an agent on any day of week w.
func (m *model) whyNoShift(ma *magent, w int) string {
	a := ma.a
	av := a.Available
	var reasons []string
	availDays := 0
	for d := w * 7; d < w*7+7; d++ {
		if av.days().Has(m.days[d].date.Weekday()) {
			availDays++
		}
	}
	if availDays == 0 {
		return fmt.Sprintf("available on %s only, none of which is in the week", av.days())
	}
	shortest := time.Duration(0)
	var names []string
	for _, mt := range m.tmpls {
		if !a.allows(mt.t.Name) {
			continue
		}
		names = append(names, mt.t.Name)
		if shortest == 0 || mt.t.Length.D() < shortest {
			shortest = mt.t.Length.D()
		}
	}
	win := av.length().Duration()
	switch {
	case len(names) == 0:
		reasons = append(reasons, "none of the agent's shift templates exists")
	case win < shortest:
		reasons = append(reasons, fmt.Sprintf("available %s-%s (%s), shorter than the shortest shift (%s)", av.From, av.to(), fmtDuration(win), fmtDuration(shortest)))
	default:
		reasons = append(reasons, fmt.Sprintf("no allowed start of %s lets a shift start at or after %s and end by %s", strings.Join(names, ", "), av.From, av.to()))
	}
	return strings.Join(reasons, "; ")
}

// maxWork returns, per agent, the most hours the agent can work on
// contacts over the period: the top of the contract band (or what the
// agent's days allow), less breaks at the agent's best template's ratio.
func (m *model) maxWork() []float64 {
	weeks := float64(len(m.days) / 7)
	work := make([]float64, len(m.agents))
	for ai := range m.agents {
		ma := &m.agents[ai]
		ratio := 0.0
		for _, mt := range m.tmpls {
			if ma.a.allows(mt.t.Name) && mt.paidQ > 0 {
				ratio = max(ratio, float64(mt.t.Working())/float64(mt.t.Paid()))
			}
		}
		perWeek := min(ma.hi, m.maxPaidPerDay(ma)*(7-m.p.Rules.MinDaysOffPerWeek))
		work[ai] = float64(perWeek) / 4 * ratio * weeks
	}
	return work
}

// capacity compares the demand with what the roster can give at most.
func (m *model) capacity(cov *Coverage) []Explanation {
	var out []Explanation
	per := m.p.Period
	work := m.maxWork()
	var total float64
	for _, w := range work {
		total += w
	}
	st := cov.Stats
	if st.RequiredHours > total+1e-6 {
		out = append(out, Explanation{Rule: "capacity", Message: fmt.Sprintf(
			"the demand needs %.0f agent-hours on contacts; at the top of their contracts the %d scheduled agents work at most %.0f (breaks excluded): at least %.0f agent-hours stay under-staffed",
			st.RequiredHours, len(m.agents), total, st.RequiredHours-total)})
	}
	for q, d := range m.p.Demand {
		var capQ float64
		skilled := 0
		for ai := range m.agents {
			if m.sets[m.agents[ai].set]&(1<<q) != 0 {
				capQ += work[ai]
				skilled++
			}
		}
		if r := st.Queues[q].RequiredHours; r > capQ+1e-6 {
			out = append(out, Explanation{Rule: "skill_capacity", Queue: d.Queue, Message: fmt.Sprintf(
				"queue %s needs %.0f agent-hours; its %d skilled agents work at most %.0f", d.Queue, r, skilled, capQ)})
		}
		// Intervals needing more agents than could be there at all.
		can := make([]int32, m.T)
		for ai := range m.agents {
			ma := &m.agents[ai]
			if m.sets[ma.set]&(1<<q) == 0 {
				continue
			}
			seen := make([]bool, m.T)
			for _, day := range ma.opts {
				for _, o := range day {
					for t := max(o.s, 0); t < min(o.e, int32(m.T)); t++ {
						seen[t] = true
					}
				}
			}
			for t, ok := range seen {
				if ok {
					can[t]++
				}
			}
		}
		var worst, worstT, n int
		for iv := range per.Intervals() {
			need := d.Agents[iv]
			avail := int32(1 << 30)
			for j := range m.k {
				avail = min(avail, can[iv*m.k+j])
			}
			if gap := need - int(avail); gap > 0 {
				n++
				if gap > worst {
					worst, worstT = gap, iv
				}
			}
		}
		if n > 0 {
			t := per.IntervalStart(worstT)
			out = append(out, Explanation{Rule: "peak", Queue: d.Queue, Message: fmt.Sprintf(
				"%d intervals of queue %s need more agents than could be working then at all (availability and shift times); worst %s: %d needed, %d could be there",
				n, d.Queue, t.Format("Mon 2 Jan 15:04"), d.Agents[worstT], d.Agents[worstT]-worst)})
		}
	}
	return out
}
