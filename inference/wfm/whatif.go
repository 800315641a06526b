package wfm

import (
	"fmt"
	"math"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/erlang"
)

// Scenario changes the inputs of a staffing plan. Zero fields keep the
// forecast's or the target's values.
type Scenario struct {
	// VolumeFactor multiplies every interval's contacts (1.1: 10 % more).
	VolumeFactor float64 `json:"volume_factor,omitempty"`
	// AHT replaces every interval's handle time; AHTFactor multiplies it.
	AHT       Duration `json:"aht,omitempty"`
	AHTFactor float64  `json:"aht_factor,omitempty"`
	// ServiceLevel and AnswerWithin replace the target's.
	ServiceLevel float64  `json:"service_level,omitempty"`
	AnswerWithin Duration `json:"answer_within,omitempty"`
	// Shrinkage replaces the target's when set (0 is a valid value).
	Shrinkage *float64 `json:"shrinkage,omitempty"`
}

func (sc Scenario) validate() error {
	bad := func(v float64) bool { return v < 0 || v > 100 || math.IsNaN(v) }
	switch {
	case bad(sc.VolumeFactor):
		return fieldErr("volume_factor", "%v must be in [0, 100]", sc.VolumeFactor)
	case bad(sc.AHTFactor):
		return fieldErr("aht_factor", "%v must be in [0, 100]", sc.AHTFactor)
	case sc.AHT.D() < 0 || sc.AHT.D() > 24*time.Hour:
		return fieldErr("aht", "%s must be in [0, 24h]", sc.AHT)
	case sc.ServiceLevel < 0 || sc.ServiceLevel >= 1:
		return fieldErr("service_level", "%v must be in [0, 1)", sc.ServiceLevel)
	case sc.AnswerWithin.D() < 0:
		return fieldErr("answer_within", "%s must be >= 0", sc.AnswerWithin)
	case sc.Shrinkage != nil && (*sc.Shrinkage < 0 || *sc.Shrinkage >= 1):
		return fieldErr("shrinkage", "%v must be in [0, 1)", *sc.Shrinkage)
	}
	return nil
}

// WhatIfInput is a what-if question: the queues' forecasts and staffing
// settings, the change, and optionally a schedule to measure (with the
// problem it was made for).
type WhatIfInput struct {
	Forecasts []*forecast.Forecast
	Target    erlang.Target
	Staffing  forecast.StaffingOptions
	Scenario  Scenario
	// Problem and Schedule, when set, give the schedule's coverage of the
	// scenario's demand; Problem.Demand is replaced by it.
	Problem  *Problem
	Schedule *Schedule
}

// WhatIfQueue is one queue's staffing under the scenario.
type WhatIfQueue struct {
	Queue string `json:"queue"`
	// AgentHours is agents on contacts times interval length;
	// ScheduledHours adds shrinkage: the cost in paid agent-hours.
	AgentHours     float64 `json:"agent_hours"`
	ScheduledHours float64 `json:"scheduled_hours"`
	PeakAgents     int     `json:"peak_agents"`
	// Base figures are the same without the scenario.
	BaseAgentHours     float64 `json:"base_agent_hours"`
	BaseScheduledHours float64 `json:"base_scheduled_hours"`
	BasePeakAgents     int     `json:"base_peak_agents"`
}

// WhatIfResult answers a what-if question.
type WhatIfResult struct {
	Queues         []WhatIfQueue `json:"queues"`
	ScheduledHours float64       `json:"scheduled_hours"`
	// Coverage is the schedule measured against the scenario's demand
	// (with BaseCoverage against the plan as forecast), when a schedule
	// was given.
	Coverage     *Stats   `json:"coverage,omitempty"`
	BaseCoverage *Stats   `json:"base_coverage,omitempty"`
	Demand       []Demand `json:"demand,omitempty"`
}

// WhatIf staffs every forecast as it is and under the scenario (Erlang as
// in forecast.Staff) and, given a schedule, measures its coverage of both.
// Given a problem, only the intervals of its period are staffed and priced.
func WhatIf(in WhatIfInput) (*WhatIfResult, error) {
	if err := in.Scenario.validate(); err != nil {
		return nil, err
	}
	if len(in.Forecasts) == 0 {
		return nil, fieldErr("forecasts", "none given")
	}
	sc := in.Scenario
	t := in.Target
	if sc.ServiceLevel > 0 {
		t.ServiceLevel = sc.ServiceLevel
	}
	if sc.AnswerWithin > 0 {
		t.AnswerWithin = sc.AnswerWithin.D()
	}
	if sc.Shrinkage != nil {
		t.Shrinkage = *sc.Shrinkage
	}
	res := &WhatIfResult{}
	var base, scen []Demand
	for _, f := range in.Forecasts {
		if in.Problem != nil {
			f = within(f, in.Problem.Period)
		}
		bp, err := forecast.Staff(f, in.Target, in.Staffing)
		if err != nil {
			return nil, fmt.Errorf("wfm: what-if: queue %s: %w", f.Queue, err)
		}
		sf, opt := sc.apply(f, in.Staffing)
		sp, err := forecast.Staff(sf, t, opt)
		if err != nil {
			return nil, fmt.Errorf("wfm: what-if: queue %s: %w", f.Queue, err)
		}
		res.Queues = append(res.Queues, WhatIfQueue{
			Queue: f.Queue, AgentHours: sp.AgentHours, ScheduledHours: sp.ScheduledHours, PeakAgents: sp.PeakAgents,
			BaseAgentHours: bp.AgentHours, BaseScheduledHours: bp.ScheduledHours, BasePeakAgents: bp.PeakAgents,
		})
		res.ScheduledHours += sp.ScheduledHours
		if in.Problem != nil {
			bd, err := DemandFromPlan(bp, f.Step, in.Problem.Period)
			if err != nil {
				return nil, err
			}
			sd, err := DemandFromPlan(sp, f.Step, in.Problem.Period)
			if err != nil {
				return nil, err
			}
			base, scen = append(base, bd), append(scen, sd)
		}
	}
	if in.Problem != nil {
		res.Demand = scen
		if in.Schedule != nil {
			for _, d := range []struct {
				dem []Demand
				out **Stats
			}{{base, &res.BaseCoverage}, {scen, &res.Coverage}} {
				p := *in.Problem
				p.Demand = d.dem
				cov, err := Evaluate(&p, in.Schedule)
				if err != nil {
					return nil, err
				}
				*d.out = &cov.Stats
			}
		}
	}
	return res, nil
}

// within returns f with only the intervals that overlap per: a what-if
// about a schedule prices the schedule's period, not the whole forecast.
func within(f *forecast.Forecast, per Period) *forecast.Forecast {
	out := *f
	out.Points = nil
	start, end := per.Start, per.End()
	for _, p := range f.Points {
		if p.Start.Add(f.Step).After(start) && p.Start.Before(end) {
			out.Points = append(out.Points, p)
		}
	}
	return &out
}

// apply returns the forecast and staffing options under the scenario.
func (sc Scenario) apply(f *forecast.Forecast, opt forecast.StaffingOptions) (*forecast.Forecast, forecast.StaffingOptions) {
	out := *f
	out.Points = make([]forecast.ForecastPoint, len(f.Points))
	for i, p := range f.Points {
		if sc.VolumeFactor > 0 {
			p.Volume = scaleEstimate(p.Volume, sc.VolumeFactor)
		}
		switch {
		case sc.AHT > 0:
			p.AHT = nil // the default below applies to every interval
		case sc.AHTFactor > 0 && p.AHT != nil:
			e := scaleEstimate(*p.AHT, sc.AHTFactor)
			p.AHT = &e
		}
		out.Points[i] = p
	}
	switch {
	case sc.AHT > 0:
		opt.DefaultAHT = sc.AHT.D()
	case sc.AHTFactor > 0:
		opt.DefaultAHT = time.Duration(float64(opt.DefaultAHT) * sc.AHTFactor)
	}
	return &out, opt
}
