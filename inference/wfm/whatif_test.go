package wfm

import (
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/erlang"
)

func TestWhatIf(t *testing.T) {
	loc := time.UTC
	f := flatForecast(loc)
	target := erlang.Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Shrinkage: 0.3}
	per := NewPeriod(f.Origin, loc, 7, 30*time.Minute)
	plan, err := forecast.Staff(f, target, forecast.StaffingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := DemandFromPlan(plan, f.Step, per)
	if err != nil {
		t.Fatal(err)
	}
	roster := synthRoster(3, 30, []string{"billing"}, AllDays)
	for i := range roster.Agents {
		roster.Agents[i].Skills = []string{"billing"}
	}
	p := &Problem{Period: per, Roster: roster, Rules: synthRules(), Demand: []Demand{{Queue: "billing", Agents: d.Agents}}}
	s, err := Solve(t.Context(), p, quickConfig(300))
	if err != nil {
		t.Fatal(err)
	}
	base, err := WhatIf(WhatIfInput{Forecasts: []*forecast.Forecast{f}, Target: target, Problem: p, Schedule: s})
	if err != nil {
		t.Fatal(err)
	}
	q := base.Queues[0]
	if q.ScheduledHours != q.BaseScheduledHours || q.ScheduledHours != plan.ScheduledHours {
		t.Errorf("no change: scheduled hours %v, base %v, plan %v", q.ScheduledHours, q.BaseScheduledHours, plan.ScheduledHours)
	}
	if math.Abs(base.Coverage.Under-s.Stats.Under) > 1e-9 {
		t.Errorf("no change: coverage under %v, schedule's own %v", base.Coverage.Under, s.Stats.Under)
	}
	shrink := 0.4
	for _, tc := range []struct {
		name string
		sc   Scenario
		more bool // needs more agent-hours than the base
	}{
		{"more calls", Scenario{VolumeFactor: 1.3}, true},
		{"fewer calls", Scenario{VolumeFactor: 0.7}, false},
		{"longer calls", Scenario{AHTFactor: 1.25}, true},
		{"shorter calls", Scenario{AHT: Duration(120 * time.Second)}, false},
		{"stricter target", Scenario{ServiceLevel: 0.9, AnswerWithin: Duration(10 * time.Second)}, true},
		{"more shrinkage", Scenario{Shrinkage: &shrink}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := WhatIf(WhatIfInput{Forecasts: []*forecast.Forecast{f}, Target: target, Scenario: tc.sc, Problem: p, Schedule: s})
			if err != nil {
				t.Fatal(err)
			}
			q := r.Queues[0]
			if got := q.ScheduledHours > q.BaseScheduledHours; got != tc.more {
				t.Errorf("scheduled hours %v vs base %v", q.ScheduledHours, q.BaseScheduledHours)
			}
			// The same schedule covers more demand worse, less demand better.
			if tc.more && !(r.Coverage.Under > r.BaseCoverage.Under) {
				t.Errorf("under-staffing %v not above base %v", r.Coverage.Under, r.BaseCoverage.Under)
			}
			if !tc.more && !(r.Coverage.Over > r.BaseCoverage.Over) {
				t.Errorf("over-staffing %v not above base %v", r.Coverage.Over, r.BaseCoverage.Over)
			}
		})
	}
	// A schedule's what-if prices its own period: a one-day schedule of the
	// two-day forecast costs what the first day costs.
	day := *p
	day.Period.Days = 1
	first, err := WhatIf(WhatIfInput{Forecasts: []*forecast.Forecast{f}, Target: target, Problem: &day})
	if err != nil {
		t.Fatal(err)
	}
	var firstDay float64
	for _, pt := range plan.Points {
		if pt.Start.Before(per.Day(1)) {
			firstDay += float64(pt.Result.Scheduled)
		}
	}
	firstDay *= f.Step.Hours()
	if got := first.Queues[0].BaseScheduledHours; math.Abs(got-firstDay) > 1e-9 || got >= plan.ScheduledHours {
		t.Errorf("one-day what-if: scheduled hours %v, want the first day's %v (both days: %v)", got, firstDay, plan.ScheduledHours)
	}
	if _, err := WhatIf(WhatIfInput{Forecasts: []*forecast.Forecast{f}, Target: target, Scenario: Scenario{ServiceLevel: 1.5}}); err == nil {
		t.Error("service level 1.5 accepted")
	}
}
