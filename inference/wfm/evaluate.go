package wfm

import (
	"fmt"
	"time"
)

// Coverage is a schedule measured against the demand, interval by
// interval.
type Coverage struct {
	Queues    []string           `json:"queues"`
	Intervals []CoverageInterval `json:"intervals"`
	Stats     Stats              `json:"stats"`
}

// CoverageInterval is one planning interval. Staffed[i] is the mean number
// of agents working queue Queues[i] over the interval when multi-skilled
// agents are spread to meet as much demand as possible (agents beyond the
// demand stay with their first skill).
type CoverageInterval struct {
	Start    time.Time `json:"start"`
	Required []int     `json:"required"`
	Staffed  []float64 `json:"staffed"`
	Present  float64   `json:"present"`
	Under    float64   `json:"under"`
	Over     float64   `json:"over"`
}

// Evaluate measures s against p's demand and rules. It shares no code with
// the optimiser's own bookkeeping, so the two can check each other. Shifts
// of agents missing from the roster count as present on no queue.
func Evaluate(p *Problem, s *Schedule) (*Coverage, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	per := p.Period
	nq := len(p.Demand)
	qi := p.queueIndex()
	quarters := int(per.End().Sub(per.Start) / Quarter)
	k := int(per.Step / Quarter)
	// Agents' queue masks (demand queues only).
	mask := map[string]uint64{}
	agents := map[string]*Agent{}
	for i := range p.Roster.Agents {
		a := &p.Roster.Agents[i]
		agents[a.ID] = a
		for _, sk := range a.Skills {
			if q, ok := qi[sk]; ok {
				mask[a.ID] |= 1 << q
			}
		}
	}
	// Working agents per quarter, grouped by mask.
	type group map[uint64]int
	present := make([]group, quarters)
	for _, sh := range s.Shifts {
		m := mask[sh.Agent]
		for t := sh.Start; t.Before(sh.End); t = t.Add(Quarter) {
			if t.Before(per.Start) || !t.Before(per.End()) || !sh.Working(t) {
				continue
			}
			i := int(t.Sub(per.Start) / Quarter)
			if present[i] == nil {
				present[i] = group{}
			}
			present[i][m]++
		}
	}
	cov := &Coverage{}
	for _, d := range p.Demand {
		cov.Queues = append(cov.Queues, d.Queue)
	}
	st := &cov.Stats
	st.Queues = make([]QueueStats, nq)
	met := make([]int, nq)
	withDemand := make([]int, nq)
	for q, d := range p.Demand {
		st.Queues[q].Queue = d.Queue
	}
	w := 1 / float64(k)
	for iv := 0; iv < per.Intervals(); iv++ {
		ci := CoverageInterval{Start: per.IntervalStart(iv), Required: make([]int, nq), Staffed: make([]float64, nq)}
		for q, d := range p.Demand {
			ci.Required[q] = d.Agents[iv]
		}
		short := make([]bool, nq)
		for j := 0; j < k; j++ {
			g := present[iv*k+j]
			served, idle := allocate(g, ci.Required)
			var tot, req int
			for q := range nq {
				ci.Staffed[q] += float64(served[q]) * w
				u := ci.Required[q] - served[q]
				ci.Under += float64(u) * w
				st.Queues[q].Under += float64(u) * w
				short[q] = short[q] || u > 0
				req += ci.Required[q]
			}
			for m, n := range g {
				tot += n
				_ = m
			}
			// Agents beyond the demand stay with their first skill.
			for m, n := range idle {
				for q := range nq {
					if m&(1<<q) != 0 {
						ci.Staffed[q] += float64(n) * w
						break
					}
				}
			}
			ci.Present += float64(tot) * w
			ci.Over += float64(tot-req+sumUnder(served, ci.Required)) * w
		}
		for q := range nq {
			if ci.Required[q] > 0 {
				withDemand[q]++
				if !short[q] {
					met[q]++
				}
			}
			st.Queues[q].RequiredHours += float64(ci.Required[q]) * per.Step.Hours()
		}
		st.Under += ci.Under
		st.Over += ci.Over
		cov.Intervals = append(cov.Intervals, ci)
	}
	for q := range nq {
		st.RequiredHours += st.Queues[q].RequiredHours
		if withDemand[q] > 0 {
			st.Queues[q].Met = float64(met[q]) / float64(withDemand[q])
		}
	}
	// Paid hours, preferences and contract shortfalls.
	weekPaid := map[string][]time.Duration{}
	for i := range s.Shifts {
		sh := &s.Shifts[i]
		st.PaidHours += sh.Paid().Hours()
		a := agents[sh.Agent]
		if a == nil {
			continue
		}
		st.PreferenceMisses += preferenceMisses(a, sh, per.Start.Location())
		day := dayIndex(per, sh.Start)
		if day < 0 || day >= per.Days {
			continue
		}
		if weekPaid[a.ID] == nil {
			weekPaid[a.ID] = make([]time.Duration, per.Days/7)
		}
		weekPaid[a.ID][day/7] += sh.Paid()
	}
	for i := range p.Roster.Agents {
		a := &p.Roster.Agents[i]
		if mask[a.ID] == 0 {
			continue // not on these queues: not scheduled here
		}
		lo, _ := p.Rules.hoursBand(a.HoursPerWeek)
		for w := 0; w < per.Days/7; w++ {
			var got time.Duration
			if wp := weekPaid[a.ID]; wp != nil {
				got = wp[w]
			}
			if q := lo - int(got/Quarter); q > 0 {
				st.ShortQuarters += q
			}
		}
	}
	st.Objective = UnderWeight*st.Under + OverWeight*st.Over + p.Rules.PreferenceWeight*float64(st.PreferenceMisses) + HoursPenalty*float64(st.ShortQuarters)
	return cov, nil
}

func sumUnder(served, req []int) int {
	u := 0
	for q := range req {
		u += req[q] - served[q]
	}
	return u
}

// allocate spreads the present agents (count per queue mask) over the
// queues to serve as much of req as possible: a maximum flow found by
// augmenting paths. It returns the agents serving each queue and the
// agents left over, per mask.
func allocate(present map[uint64]int, req []int) (served []int, idle map[uint64]int) {
	nq := len(req)
	served = make([]int, nq)
	idle = map[uint64]int{}
	type cell struct {
		m uint64
		q int
	}
	flow := map[cell]int{}
	var masks []uint64
	for m, n := range present {
		if n > 0 {
			masks = append(masks, m)
			idle[m] = n
		}
	}
	sortMasks(masks)
	for {
		// Breadth-first search from masks with idle agents to a queue
		// with unmet demand; queues lead back to masks that serve them.
		prevQ := make([]int, nq) // mask index that reached queue q, -1 none
		prevM := make([]int, len(masks))
		for i := range prevQ {
			prevQ[i] = -2
		}
		for i := range prevM {
			prevM[i] = -2
		}
		var frontier []int
		for i, m := range masks {
			if idle[m] > 0 {
				prevM[i] = -1
				frontier = append(frontier, i)
			}
		}
		end := -1
		for len(frontier) > 0 && end < 0 {
			var next []int
			for _, i := range frontier {
				for q := range nq {
					if masks[i]&(1<<q) == 0 || prevQ[q] != -2 {
						continue
					}
					prevQ[q] = i
					if served[q] < req[q] {
						end = q
						break
					}
					for j, m := range masks {
						if prevM[j] == -2 && flow[cell{m, q}] > 0 {
							prevM[j] = q
							next = append(next, j)
						}
					}
				}
				if end >= 0 {
					break
				}
			}
			frontier = next
		}
		if end < 0 {
			return served, idle
		}
		// Augment by one agent along the path.
		q := end
		served[q]++
		for {
			i := prevQ[q]
			flow[cell{masks[i], q}]++
			if prevM[i] == -1 {
				idle[masks[i]]--
				break
			}
			pq := prevM[i]
			flow[cell{masks[i], pq}]--
			q = pq
		}
	}
}

func sortMasks(m []uint64) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j] < m[j-1]; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

// dayIndex is the period day that t falls on (by local date), or -1/Days
// when outside.
func dayIndex(p Period, t time.Time) int {
	t = t.In(p.Start.Location())
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	s := time.Date(p.Start.Year(), p.Start.Month(), p.Start.Day(), 0, 0, 0, 0, time.UTC)
	return int(d.Sub(s).Hours() / 24)
}

// clockOn is t's wall-clock time counted from the local midnight of day,
// past 24:00 for the next day.
func clockOn(day, t time.Time) Clock {
	t = t.In(day.Location())
	d0 := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	d1 := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	days := int(d1.Sub(d0).Hours() / 24)
	return Clock(days*24*60 + t.Hour()*60 + t.Minute())
}

// preferenceMisses counts the preferences a shift misses.
func preferenceMisses(a *Agent, sh *Shift, loc *time.Location) int {
	pw := a.Preferred
	if pw.IsZero() {
		return 0
	}
	start := sh.Start.In(loc)
	n := 0
	if !pw.days().Has(start.Weekday()) {
		n++
	}
	if clockOn(start, start) < pw.From {
		n++
	}
	if clockOn(start, sh.End) > pw.to() {
		n++
	}
	return n
}

func (s *Stats) String() string {
	return fmt.Sprintf("under %.1f, over %.1f agent-intervals, %d preference misses, objective %.1f", s.Under, s.Over, s.PreferenceMisses, s.Objective)
}
