package wfm

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Period is what a schedule covers: Days whole days (7, 14, 21 or 28) from
// the local midnight Start, planned in intervals of Step (15 or 30
// minutes). Start's location is the site's time zone.
type Period struct {
	Start time.Time
	Days  int
	Step  time.Duration
}

// NewPeriod returns the period of days days from date's day in loc.
func NewPeriod(date time.Time, loc *time.Location, days int, step time.Duration) Period {
	d := date.In(loc)
	return Period{Start: time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc), Days: days, Step: step}
}

// End is the local midnight after the last day.
func (p Period) End() time.Time { return p.Day(p.Days) }

// Day returns the local midnight of day i (0 = the first).
func (p Period) Day(i int) time.Time {
	return time.Date(p.Start.Year(), p.Start.Month(), p.Start.Day()+i, 0, 0, 0, 0, p.Start.Location())
}

// Intervals is the number of planning intervals (days changing to or from
// daylight saving time have more or fewer).
func (p Period) Intervals() int { return int(p.End().Sub(p.Start) / p.Step) }

// IntervalStart returns the start of interval i.
func (p Period) IntervalStart(i int) time.Time { return p.Start.Add(time.Duration(i) * p.Step) }

// Validate checks the period.
func (p Period) Validate() error {
	if p.Start.IsZero() {
		return fieldErr("period.start", "missing")
	}
	if h, m, s := p.Start.Clock(); h != 0 || m != 0 || s != 0 || p.Start.Nanosecond() != 0 {
		return fieldErr("period.start", "%s must be a local midnight", p.Start.Format(time.RFC3339))
	}
	if p.Days < 7 || p.Days > 28 || p.Days%7 != 0 {
		return fieldErr("period.days", "%d must be 7, 14, 21 or 28", p.Days)
	}
	if p.Step != 15*time.Minute && p.Step != 30*time.Minute {
		return fieldErr("period.step", "%v must be 15m or 30m", p.Step)
	}
	return nil
}

type periodJSON struct {
	Start string   `json:"start"` // YYYY-MM-DD
	Zone  string   `json:"zone"`
	Days  int      `json:"days"`
	Step  Duration `json:"step"`
}

// MarshalJSON writes {"start":"2024-03-04","zone":"Europe/Paris","days":28,"step":"30m"}.
func (p Period) MarshalJSON() ([]byte, error) {
	return json.Marshal(periodJSON{Start: p.Start.Format(time.DateOnly), Zone: p.Start.Location().String(), Days: p.Days, Step: Duration(p.Step)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Period) UnmarshalJSON(b []byte) error {
	var j periodJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	loc, err := time.LoadLocation(j.Zone)
	if err != nil {
		return fieldErr("period.zone", "%q: %v", j.Zone, err)
	}
	d, err := time.ParseInLocation(time.DateOnly, j.Start, loc)
	if err != nil {
		return fieldErr("period.start", "%q: want YYYY-MM-DD", j.Start)
	}
	*p = Period{Start: d, Days: j.Days, Step: j.Step.D()}
	return nil
}

// Demand is the staff one queue needs: Agents[i] agents scheduled (on
// shift and not on a break) in interval i of the period, shrinkage
// included. Closed intervals need 0.
type Demand struct {
	Queue  string `json:"queue"`
	Agents []int  `json:"agents"`
}

// Problem is everything a schedule is made from.
type Problem struct {
	Period Period   `json:"period"`
	Roster Roster   `json:"roster"`
	Rules  Rules    `json:"rules"`
	Demand []Demand `json:"demand"`
	// Prior is what agents worked just before the period (see PriorFrom):
	// the rest rule and days in a row continue across its start.
	Prior []Prior `json:"prior,omitempty"`
}

// Prior is one agent's work just before the period.
type Prior struct {
	Agent string `json:"agent"`
	// LastEnd is when the agent's last shift before the period ends (it
	// may run past the period's start).
	LastEnd time.Time `json:"last_end"`
	// DaysInARow counts the days worked in a row up to the period's first
	// day.
	DaysInARow int `json:"days_in_a_row"`
}

// PriorFrom is each agent's prior work before per in an earlier schedule:
// the end of the last shift that starts before per, and the days worked
// in a row up to per's first day. Agents without a shift in the week
// before per are left out.
func PriorFrom(s *Schedule, per Period) []Prior {
	loc := per.Start.Location()
	type work struct {
		last time.Time
		days map[string]bool
	}
	byAgent := map[string]*work{}
	var ids []string
	weekBefore := per.Day(-7)
	for i := range s.Shifts {
		sh := &s.Shifts[i]
		if !sh.Start.Before(per.Start) || sh.Start.Before(weekBefore) {
			continue
		}
		w := byAgent[sh.Agent]
		if w == nil {
			w = &work{days: map[string]bool{}}
			byAgent[sh.Agent] = w
			ids = append(ids, sh.Agent)
		}
		if sh.End.After(w.last) {
			w.last = sh.End
		}
		w.days[sh.Start.In(loc).Format(time.DateOnly)] = true
	}
	slices.Sort(ids)
	out := make([]Prior, 0, len(ids))
	for _, id := range ids {
		w := byAgent[id]
		n := 0
		for n < 7 && w.days[per.Day(-n-1).Format(time.DateOnly)] {
			n++
		}
		out = append(out, Prior{Agent: id, LastEnd: w.last, DaysInARow: n})
	}
	return out
}

// priorOf maps agent IDs to their prior work.
func (p *Problem) priorOf() map[string]*Prior {
	m := make(map[string]*Prior, len(p.Prior))
	for i := range p.Prior {
		m[p.Prior[i].Agent] = &p.Prior[i]
	}
	return m
}

// MaxQueues bounds the queues scheduled together.
const MaxQueues = 8

// Validate checks the parts and how they fit together.
func (p *Problem) Validate() error {
	if err := p.Period.Validate(); err != nil {
		return err
	}
	if err := p.Rules.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok {
			fe.Field = "rules." + fe.Field
		}
		return err
	}
	if err := p.Roster.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok {
			fe.Field = "roster." + fe.Field
		}
		return err
	}
	if len(p.Roster.Agents) == 0 {
		return fieldErr("roster.agents", "no agents")
	}
	for i, a := range p.Roster.Agents {
		for j, s := range a.Shifts {
			if _, ok := p.Rules.template(s); !ok {
				return fieldErr(fmt.Sprintf("roster.agents[%d].shifts[%d]", i, j), "no shift template named %q in the rules", s)
			}
		}
	}
	if len(p.Demand) == 0 {
		return fieldErr("demand", "no queue to schedule")
	}
	if len(p.Demand) > MaxQueues {
		return fieldErr("demand", "%d queues: at most %d are scheduled together", len(p.Demand), MaxQueues)
	}
	n := p.Period.Intervals()
	var queues []string
	for i, d := range p.Demand {
		f := fmt.Sprintf("demand[%d]", i)
		if !idRE.MatchString(d.Queue) {
			return fieldErr(f+".queue", "%q is not a queue ID", d.Queue)
		}
		if slices.Contains(queues, d.Queue) {
			return fieldErr(f+".queue", "%q listed twice", d.Queue)
		}
		queues = append(queues, d.Queue)
		if len(d.Agents) != n {
			return fieldErr(f+".agents", "%d intervals, the period has %d", len(d.Agents), n)
		}
		for j, v := range d.Agents {
			if v < 0 || v > 100000 {
				return fieldErr(fmt.Sprintf("%s.agents[%d]", f, j), "%d must be in [0, 100000]", v)
			}
		}
	}
	onRoster := map[string]bool{}
	for _, a := range p.Roster.Agents {
		onRoster[a.ID] = true
	}
	seen := map[string]bool{}
	for i, pr := range p.Prior {
		f := fmt.Sprintf("prior[%d]", i)
		switch {
		case !onRoster[pr.Agent]:
			return fieldErr(f+".agent", "%q is not on the roster", pr.Agent)
		case seen[pr.Agent]:
			return fieldErr(f+".agent", "%q listed twice", pr.Agent)
		case pr.DaysInARow < 0 || pr.DaysInARow > 366:
			return fieldErr(f+".days_in_a_row", "%d must be in [0, 366]", pr.DaysInARow)
		case pr.LastEnd.After(p.Period.Day(1)):
			return fieldErr(f+".last_end", "%s is after the period's first day", pr.LastEnd.Format(time.RFC3339))
		}
		seen[pr.Agent] = true
	}
	qi := p.queueIndex()
	sets := map[uint64]bool{}
	for _, a := range p.Roster.Agents {
		var mask uint64
		for _, s := range a.Skills {
			if q, ok := qi[s]; ok {
				mask |= 1 << q
			}
		}
		sets[mask] = true
	}
	if len(sets) > maxSkillSets {
		return fieldErr("roster.agents", "%d different combinations of the scheduled queues among agents' skills: at most %d", len(sets), maxSkillSets)
	}
	return nil
}

// maxSkillSets bounds the different skill combinations (bit masks).
const maxSkillSets = 64

// queueIndex maps the demand's queues to their index.
func (p *Problem) queueIndex() map[string]int {
	m := make(map[string]int, len(p.Demand))
	for i, d := range p.Demand {
		m[d.Queue] = i
	}
	return m
}
