package forecast

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/inference/forecast/erlang"
)

// StaffingOptions complete a staffing plan.
type StaffingOptions struct {
	// DefaultAHT is used for intervals without an AHT forecast.
	DefaultAHT time.Duration `json:"-"` // JSON: default_aht_seconds
	// Quantile selects the volume planned for: "mean" (default), "upper80"
	// or "upper95" (cover the top of the prediction interval).
	Quantile string `json:"quantile,omitempty"`
}

// StaffPoint is the requirement of one forecast interval.
type StaffPoint struct {
	Start    time.Time     `json:"start"`
	Open     bool          `json:"open"`
	Contacts float64       `json:"contacts"`
	AHT      float64       `json:"aht_seconds"`
	Result   erlang.Result `json:"result"`
}

// StaffingPlan is the staffing requirement of a forecast.
type StaffingPlan struct {
	Queue        string        `json:"queue"`
	ModelVersion string        `json:"model_version"`
	Target       erlang.Target `json:"target"`
	Points       []StaffPoint  `json:"points"`
	// AgentHours and ScheduledHours sum the intervals' agents and scheduled
	// (with shrinkage) agents times the interval length.
	AgentHours     float64 `json:"agent_hours"`
	ScheduledHours float64 `json:"scheduled_hours"`
	PeakAgents     int     `json:"peak_agents"`
}

// Staff turns a forecast into per-interval agent requirements with Erlang C
// (or Erlang A when t.Patience is set): the forecast's mean volume (or an
// upper bound, see StaffingOptions) and mean AHT per open interval.
func Staff(f *Forecast, t erlang.Target, opt StaffingOptions) (*StaffingPlan, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	switch opt.Quantile {
	case "", "mean", "upper80", "upper95":
	default:
		return nil, fmt.Errorf("%w: quantile must be mean, upper80 or upper95, got %q", ErrBadConfig, opt.Quantile)
	}
	plan := &StaffingPlan{Queue: f.Queue, ModelVersion: f.ModelVersion, Target: t}
	for _, p := range f.Points {
		sp := StaffPoint{Start: p.Start, Open: p.Open}
		if p.Open {
			v := p.Volume.Mean
			switch opt.Quantile {
			case "upper80":
				v = p.Volume.Upper80
			case "upper95":
				v = p.Volume.Upper95
			}
			aht := opt.DefaultAHT
			if p.AHT != nil && p.AHT.Mean > 0 {
				aht = time.Duration(p.AHT.Mean * float64(time.Second))
			}
			if aht <= 0 && v > 0 {
				return nil, fmt.Errorf("%w: interval %s: the history holds no AHT to forecast; give default_aht (e.g. 240s)", ErrNoAHT, p.Start.Format(time.RFC3339))
			}
			r, err := erlang.Staff(erlang.Interval{Contacts: v, AHT: aht, Length: f.Step}, t)
			if err != nil {
				return nil, fmt.Errorf("forecast: staff interval %s: %w", p.Start.Format(time.RFC3339), err)
			}
			sp.Contacts, sp.AHT, sp.Result = v, aht.Seconds(), r
			h := f.Step.Hours()
			plan.AgentHours += float64(r.Agents) * h
			plan.ScheduledHours += float64(r.Scheduled) * h
			plan.PeakAgents = max(plan.PeakAgents, r.Agents)
		}
		plan.Points = append(plan.Points, sp)
	}
	return plan, nil
}
