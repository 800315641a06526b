package wfm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Synthetic instances for tests, benchmarks and evals: a roster generated
// from a fixed seed with mixed contracts, availabilities, preferences and
// skills, and demand from a smooth intraday profile.

// synthRules are the rules of the synthetic instances: the default 8-hour
// and 4-hour shifts plus a 6-hour one.
func synthRules() Rules {
	r := DefaultRules()
	r.Shifts = append(r.Shifts, ShiftTemplate{
		Name: "day6", Length: Duration(6 * time.Hour), Starts: mustClockSet("07:00-15:00/30m"),
		Breaks: []Break{
			{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(90 * time.Minute), Before: Duration(3 * time.Hour)},
			{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(3*time.Hour + 30*time.Minute), Before: Duration(5 * time.Hour)},
		},
	})
	return r
}

// synthRoster returns n agents. queues[0] is every agent's first skill
// unless the agent is single-skilled on queues[1]. Agents are available on
// open days only (some on fewer).
func synthRoster(seed uint64, n int, queues []string, open Days) Roster {
	rng := rand.New(rand.NewPCG(seed, 7))
	var r Roster
	for i := range n {
		a := Agent{ID: fmt.Sprintf("a%03d", i+1), Name: fmt.Sprintf("Agent %d", i+1)}
		switch x := rng.Float64(); {
		case x < 0.55:
			a.HoursPerWeek, a.Shifts = 37.5, []string{"day8"}
		case x < 0.75:
			a.HoursPerWeek, a.Shifts = 30, []string{"day8", "day6"}
		case x < 0.88:
			a.HoursPerWeek, a.Shifts = 24, []string{"day6", "part4"}
		default:
			a.HoursPerWeek, a.Shifts = 20, []string{"day6", "part4"}
		}
		switch x := rng.Float64(); {
		case x < 0.65:
		case x < 0.80:
			a.Available = Window{From: 7 * 60, To: 16 * 60}
		case x < 0.92:
			a.Available = Window{From: 11 * 60, To: 21 * 60}
		default:
			if a.HoursPerWeek <= 30 {
				a.Available = Window{Days: mustDays("mon-thu,sat")}
			}
		}
		if a.Available.days()&open != a.Available.days() {
			a.Available.Days = a.Available.days() & open
			if a.Available.Days.Count() < 4 || (a.HoursPerWeek > 30 && a.Available.Days.Count() < 5) {
				a.Available.Days = open
			}
		}
		switch x := rng.Float64(); {
		case x < 0.25:
			a.Preferred = Window{To: 17 * 60}
		case x < 0.40:
			a.Preferred = Window{From: 9 * 60}
		case x < 0.55:
			a.Preferred = Window{Days: mustDays("mon-thu,sat,sun")}
		}
		switch x := rng.Float64(); {
		case len(queues) == 1 || x < 0.55:
			a.Skills = []string{queues[0]}
		case x < 0.80:
			a.Skills = []string{queues[1]}
		default:
			a.Skills = []string{queues[0], queues[1]}
		}
		r.Agents = append(r.Agents, a)
	}
	return r
}

func mustDays(s string) Days {
	d, err := ParseDays(s)
	if err != nil {
		panic(err)
	}
	return d
}

// synthDemand returns demand with a two-humped intraday profile peaking at
// peak agents, open from 07:00 to 21:00 on open days.
func synthDemand(p Period, queue string, peak float64, open Days, phase float64) Demand {
	d := Demand{Queue: queue, Agents: make([]int, p.Intervals())}
	loc := p.Start.Location()
	for i := range d.Agents {
		t := p.IntervalStart(i).In(loc)
		if !open.Has(t.Weekday()) {
			continue
		}
		h := float64(t.Hour()) + float64(t.Minute())/60
		if h < 7 || h >= 21 {
			continue
		}
		x := (h - 7) / 14
		v := 0.35 + 0.65*math.Pow(math.Sin(math.Pi*x), 0.8)*(1+0.15*math.Sin(2*math.Pi*x*2+phase))
		if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			v *= 0.5
		}
		d.Agents[i] = int(math.Round(peak * v / 1.15))
	}
	return d
}

// smallProblem is a 2-week, 2-queue, 7-day instance of n agents.
func smallProblem(t testing.TB, n int, step time.Duration) *Problem {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	per := NewPeriod(time.Date(2024, 3, 4, 0, 0, 0, 0, loc), loc, 14, step)
	qs := []string{"retail", "cards"}
	p := &Problem{Period: per, Roster: synthRoster(42, n, qs, AllDays), Rules: synthRules()}
	scale := float64(n) / 40
	p.Demand = []Demand{
		synthDemand(per, "retail", 14*scale, AllDays, 0),
		synthDemand(per, "cards", 7*scale, AllDays, 1.5),
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// devProblem is the development instance the optimiser's settings were
// chosen on (never the bank_calls benchmark): synthetic two-queue demand
// on weekdays for weeks weeks, with the smallest roster (in steps of 10)
// whose contracts can work 5 % more than the demand.
func devProblem(t testing.TB, peak float64, weeks int, step time.Duration) *Problem {
	t.Helper()
	loc := time.UTC
	per := NewPeriod(time.Date(2025, 1, 6, 0, 0, 0, 0, loc), loc, 7*weeks, step)
	open := mustDays("mon-fri")
	p := &Problem{Period: per, Rules: synthRules(), Demand: []Demand{
		synthDemand(per, "retail", peak, open, 0),
		synthDemand(per, "cards", peak/2, open, 1.5),
	}}
	sizeRoster(t, p, 99, 10, []string{"retail", "cards"}, open)
	return p
}

// sizeRoster gives p the smallest synthetic roster (seed, in steps of
// step agents) whose contracts can work 5 % more hours than p's demand
// needs, and returns its size.
func sizeRoster(t testing.TB, p *Problem, seed uint64, step int, queues []string, open Days) int {
	t.Helper()
	var need float64
	for _, d := range p.Demand {
		for _, a := range d.Agents {
			need += float64(a) * p.Period.Step.Hours()
		}
	}
	for n := step; ; n += step {
		p.Roster = synthRoster(seed, n, queues, open)
		var capacity float64
		for _, w := range compile(p).maxWork() {
			capacity += w
		}
		if capacity >= 1.05*need {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
}
