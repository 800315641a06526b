package wfm

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// DemandFromPlan turns a forecast's staffing plan into a Demand on the
// period: interval i needs the plan's scheduled agents (Erlang agents with
// shrinkage) of the plan interval that contains it. planStep is the
// forecast's step (forecast.Forecast.Step); it must be the period's step or
// a multiple of it. Intervals the plan does not reach or marks closed need
// no one.
func DemandFromPlan(plan *forecast.StaffingPlan, planStep time.Duration, p Period) (Demand, error) {
	if plan == nil {
		return Demand{}, fmt.Errorf("%w: no staffing plan", ErrBadInput)
	}
	if planStep < p.Step || planStep%p.Step != 0 {
		return Demand{}, fieldErr("step", "plan step %v is not a multiple of the period's %v", planStep, p.Step)
	}
	d := Demand{Queue: plan.Queue, Agents: make([]int, p.Intervals())}
	start, end := p.Start, p.End()
	for _, pt := range plan.Points {
		if !pt.Open || pt.Start.Before(start.Add(-planStep)) || !pt.Start.Before(end) {
			continue
		}
		for t := pt.Start; t.Before(pt.Start.Add(planStep)); t = t.Add(p.Step) {
			if t.Before(start) || !t.Before(end) {
				continue
			}
			d.Agents[int(t.Sub(start)/p.Step)] = pt.Result.Scheduled
		}
	}
	return d, nil
}
