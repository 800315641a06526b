package wfm

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Violation is a hard rule a schedule breaks.
type Violation struct {
	Rule    string `json:"rule"`
	Agent   string `json:"agent,omitempty"`
	Date    string `json:"date,omitempty"` // YYYY-MM-DD of the shift or week start
	Message string `json:"message"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: agent %s %s: %s", v.Rule, v.Agent, v.Date, v.Message)
}

// Check lists every hard rule s breaks: shifts that are not one of the
// agent's templates at an allowed start, shifts outside the agent's
// availability or the period, breaks outside their windows, two shifts a
// day, too little rest, too many days in a row or in a week, weekly paid
// hours outside the contract band, too many weekends. It works from the
// schedule's times alone, independently of the optimiser.
func Check(p *Problem, s *Schedule) []Violation {
	per := p.Period
	loc := per.Start.Location()
	var out []Violation
	add := func(rule, agent string, t time.Time, format string, a ...any) {
		out = append(out, Violation{Rule: rule, Agent: agent, Date: t.In(loc).Format(time.DateOnly), Message: fmt.Sprintf(format, a...)})
	}
	agents := map[string]*Agent{}
	for i := range p.Roster.Agents {
		agents[p.Roster.Agents[i].ID] = &p.Roster.Agents[i]
	}
	queues := map[string]bool{}
	for _, d := range p.Demand {
		queues[d.Queue] = true
	}
	byAgent := map[string][]*Shift{}
	for i := range s.Shifts {
		sh := &s.Shifts[i]
		a := agents[sh.Agent]
		if a == nil {
			add("unknown_agent", sh.Agent, sh.Start, "not on the roster")
			continue
		}
		byAgent[a.ID] = append(byAgent[a.ID], sh)
		out = append(out, checkShift(p, a, sh, queues)...)
	}
	weekends := map[string]bool{}
	for d := range per.Days {
		if k, ok := weekendKey(per.Day(d)); ok {
			weekends[k] = true
		}
	}
	weekendMax := p.Rules.weekendLimit(len(weekends))
	prior := map[string]Prior{}
	for _, pr := range p.Prior {
		prior[pr.Agent] = pr
	}
	for _, a := range p.Roster.Agents {
		shifts := byAgent[a.ID]
		slices.SortFunc(shifts, func(x, y *Shift) int { return x.Start.Compare(y.Start) })
		worked := map[int]bool{}
		weekPaid := make([]time.Duration, per.Days/7)
		workedWeekends := map[string]bool{}
		for i, sh := range shifts {
			day := dayIndex(per, sh.Start)
			if worked[day] {
				add("one_shift_per_day", a.ID, sh.Start, "a second shift on the same day")
			}
			worked[day] = true
			if day >= 0 && day < per.Days {
				weekPaid[day/7] += sh.Paid()
			}
			if k, ok := weekendKey(sh.Start.In(loc)); ok {
				workedWeekends[k] = true
			}
			// The previous shift is the one before, or the last one
			// before the period.
			var prevEnd time.Time
			if i > 0 {
				prevEnd = shifts[i-1].End
			} else if pr, ok := prior[a.ID]; ok {
				prevEnd = pr.LastEnd
			}
			if !prevEnd.IsZero() {
				gap := sh.Start.Sub(prevEnd)
				switch {
				case gap < 0:
					add("overlap", a.ID, sh.Start, "starts at %s, before the previous shift ends (%s)", sh.Start.In(loc).Format("15:04"), prevEnd.In(loc).Format("Mon 15:04"))
				case gap < p.Rules.MinRest.D():
					add("min_rest", a.ID, sh.Start, "%s rest after the previous shift, %s required", fmtDuration(gap), p.Rules.MinRest)
				}
			}
		}
		run, reported := prior[a.ID].DaysInARow, false
		for d := range per.Days {
			if !worked[d] {
				run, reported = 0, false
				continue
			}
			run++
			if run > p.Rules.MaxConsecutiveDays && !reported {
				add("max_consecutive_days", a.ID, per.Day(d), "more than %d days in a row", p.Rules.MaxConsecutiveDays)
				reported = true
			}
		}
		if len(shifts) == 0 && !hasQueue(&a, queues) {
			continue // not on the scheduled queues
		}
		tol := p.Rules.HoursTolerance.D()
		for w := range per.Days / 7 {
			days := 0
			for d := w * 7; d < w*7+7; d++ {
				if worked[d] {
					days++
				}
			}
			if off := 7 - days; off < p.Rules.MinDaysOffPerWeek {
				add("days_off", a.ID, per.Day(w*7), "%d days off in week %d, %d required", off, w+1, p.Rules.MinDaysOffPerWeek)
			}
			contract := time.Duration(a.HoursPerWeek * float64(time.Hour))
			got := weekPaid[w]
			switch {
			case got < contract-tol:
				add("min_hours", a.ID, per.Day(w*7), "%s paid in week %d, contract %s - %s", fmtDuration(got), w+1, fmtDuration(contract), p.Rules.HoursTolerance)
			case got > contract+tol:
				add("max_hours", a.ID, per.Day(w*7), "%s paid in week %d, contract %s + %s", fmtDuration(got), w+1, fmtDuration(contract), p.Rules.HoursTolerance)
			}
		}
		if len(workedWeekends) > weekendMax {
			add("weekends", a.ID, per.Start, "%d weekends worked, at most %d of %d", len(workedWeekends), weekendMax, len(weekends))
		}
	}
	return out
}

func hasQueue(a *Agent, queues map[string]bool) bool {
	for _, s := range a.Skills {
		if queues[s] {
			return true
		}
	}
	return false
}

// weekendKey names the weekend a day belongs to (its Saturday's date).
func weekendKey(day time.Time) (string, bool) {
	switch day.Weekday() {
	case time.Saturday:
		return day.Format(time.DateOnly), true
	case time.Sunday:
		return day.AddDate(0, 0, -1).Format(time.DateOnly), true
	}
	return "", false
}

// checkShift checks one shift on its own.
func checkShift(p *Problem, a *Agent, sh *Shift, queues map[string]bool) []Violation {
	per := p.Period
	loc := per.Start.Location()
	start := sh.Start.In(loc)
	var out []Violation
	add := func(rule, format string, args ...any) {
		out = append(out, Violation{Rule: rule, Agent: a.ID, Date: start.Format(time.DateOnly), Message: fmt.Sprintf(format, args...)})
	}
	if !hasQueue(a, queues) {
		add("skills", "scheduled although none of the agent's skills is a scheduled queue")
	}
	if d := dayIndex(per, start); d < 0 || d >= per.Days {
		add("period", "starts outside the period")
	}
	t, ok := p.Rules.template(sh.Template)
	if !ok {
		add("template", "no shift template %q", sh.Template)
		return out
	}
	if !a.allows(t.Name) {
		add("template", "template %q is not one of the agent's (%v)", t.Name, a.Shifts)
	}
	clock := Clock(start.Hour()*60 + start.Minute())
	if start.Second() != 0 || start.Nanosecond() != 0 || !slices.Contains(t.Starts, clock) {
		add("start_time", "starts at %s, not an allowed start of %q (%s)", start.Format("15:04:05"), t.Name, t.Starts)
	}
	if l := sh.End.Sub(sh.Start); l != t.Length.D() {
		add("length", "lasts %s, template %q is %s", fmtDuration(l), t.Name, t.Length)
	}
	av := a.Available
	if !av.days().Has(start.Weekday()) {
		add("availability", "works on %s, available %s", start.Weekday(), av.days())
	}
	if clock < av.From {
		add("availability", "starts at %s, available from %s", clock, av.From)
	}
	if end := clockOn(start, sh.End); end > av.to() {
		add("availability", "ends at %s, available until %s", end, av.to())
	}
	if len(sh.Breaks) != len(t.Breaks) {
		add("breaks", "%d breaks, template %q has %d", len(sh.Breaks), t.Name, len(t.Breaks))
		return out
	}
	for j, b := range sh.Breaks {
		tb := t.Breaks[j]
		off := b.Start.Sub(sh.Start)
		switch {
		case b.Name != tb.Name || b.Paid != tb.Paid:
			add("breaks", "break %d is %q (paid %v), template has %q (paid %v)", j+1, b.Name, b.Paid, tb.Name, tb.Paid)
		case b.End.Sub(b.Start) != tb.Length.D():
			add("breaks", "%s lasts %s, not %s", b.Name, fmtDuration(b.End.Sub(b.Start)), tb.Length)
		case off < tb.After.D() || b.End.Sub(sh.Start) > tb.Before.D():
			add("breaks", "%s at %s-%s after the start, window %s-%s", b.Name, fmtDuration(off), fmtDuration(b.End.Sub(sh.Start)), tb.After, tb.Before)
		case off%Quarter != 0:
			add("breaks", "%s not on the quarter hour", b.Name)
		case j > 0 && b.Start.Before(sh.Breaks[j-1].End):
			add("breaks", "%s overlaps the previous break", b.Name)
		}
	}
	return out
}

// hoursString formats hours like 37.5 as "37h30".
func hoursString(h float64) string {
	m := int(math.Round(h * 60))
	return fmt.Sprintf("%dh%02d", m/60, m%60)
}
