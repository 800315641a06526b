package forecast

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast/erlang"
)

func TestStaffPlan(t *testing.T) {
	m, err := Fit(defaultSynth().series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Forecast(7)
	tg := erlang.Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, MaxOccupancy: 0.9, Shrinkage: 0.3}
	plan, err := Staff(f, tg, StaffingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hi, err := Staff(f, tg, StaffingOptions{Quantile: "upper95"})
	if err != nil {
		t.Fatal(err)
	}
	var hours float64
	for i, p := range plan.Points {
		if !p.Open {
			if p.Result.Agents != 0 {
				t.Fatalf("closed interval staffed: %+v", p)
			}
			continue
		}
		r, _ := erlang.Staff(erlang.Interval{Contacts: f.Points[i].Volume.Mean, AHT: time.Duration(f.Points[i].AHT.Mean * 1e9), Length: 30 * time.Minute}, tg)
		if r.Agents != p.Result.Agents || p.Result.ServiceLevel < 0.8 || p.Result.Occupancy > 0.9 {
			t.Fatalf("%s: plan %+v, direct %+v", p.Start, p.Result, r)
		}
		if hi.Points[i].Result.Agents < p.Result.Agents {
			t.Fatalf("%s: upper95 plan has fewer agents", p.Start)
		}
		hours += float64(p.Result.Agents) / 2
	}
	if math.Abs(hours-plan.AgentHours) > 1e-9 || plan.PeakAgents == 0 || plan.ScheduledHours < plan.AgentHours/0.7-1e-6 {
		t.Errorf("totals: agent hours %v (want %v), scheduled %v, peak %d", plan.AgentHours, hours, plan.ScheduledHours, plan.PeakAgents)
	}
	if _, err := Staff(f, tg, StaffingOptions{Quantile: "p99"}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("bad quantile: err %v", err)
	}
}
