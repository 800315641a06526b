package wfm

import (
	"slices"
	"testing"
	"time"
)

// intradayProblem is handProblem's week with Monday's demand set so that
// the valid week's Monday has a known gap: Ana's break falls in a tight
// quarter, nobody covers 16:00-18:00 but Cy, and Ben is not needed after
// 10:30.
func intradayProblem(t *testing.T) (*Problem, *Schedule) {
	p := handProblem(t, 7)
	d := make([]int, p.Period.Intervals())
	set := func(from, to string, n int) {
		a, _ := ParseClock(from)
		b, _ := ParseClock(to)
		for c := a; c < b; c += 30 {
			d[int(c)/30] = n
		}
	}
	set("08:00", "09:00", 1)
	set("09:00", "10:30", 2)
	set("10:30", "13:00", 1)
	set("13:00", "18:00", 2)
	set("18:00", "20:00", 1)
	p.Demand = []Demand{{Queue: "billing", Agents: d}}
	return p, validWeek(t, p)
}

func TestPlanIntraday(t *testing.T) {
	p, s := intradayProblem(t)
	now := p.Period.Start.Add(8 * time.Hour)
	in, err := PlanIntraday(p, s, now, IntradayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range in.Adjustments {
		t.Log(a)
	}
	t.Logf("under %v -> %v, over %v -> %v", in.Under, in.UnderAfter, in.Over, in.OverAfter)
	if len(in.Adjustments) == 0 {
		t.Fatal("no adjustments")
	}
	first := in.Adjustments[0]
	if first.Kind != "overtime" || first.Agent != "ana" || first.UnderClosed != 4 || first.PaidHours != 2 ||
		!first.From.Equal(now.Add(8*time.Hour)) || !first.To.Equal(now.Add(10*time.Hour)) {
		t.Errorf("first adjustment %v, want Ana's overtime 16:00-18:00 closing 4 agent-intervals", first)
	}
	if !slices.ContainsFunc(in.Adjustments, func(a Adjustment) bool {
		return a.Kind == "move_break" && a.Agent == "ana" && a.Break == "break" && a.UnderClosed > 0
	}) {
		t.Error("no move of Ana's break out of the tight 10:00 interval")
	}
	if !slices.ContainsFunc(in.Adjustments, func(a Adjustment) bool {
		return a.Kind == "time_off" && a.OverClosed > 0 && a.UnderClosed == 0 && a.PaidHours < 0
	}) {
		t.Error("no time off where the afternoon is over-staffed")
	}
	gain := func(a Adjustment) float64 { return UnderWeight*a.UnderClosed + a.OverClosed }
	for i := 1; i < len(in.Adjustments); i++ {
		if gain(in.Adjustments[i]) > gain(in.Adjustments[i-1])+1e-9 {
			t.Errorf("adjustment %d (%v) closes more than %d (%v): not ranked", i, in.Adjustments[i], i-1, in.Adjustments[i-1])
		}
	}
	if in.UnderAfter >= in.Under || in.OverAfter >= in.Over {
		t.Errorf("gap not narrowed: under %v -> %v, over %v -> %v", in.Under, in.UnderAfter, in.Over, in.OverAfter)
	}
	var sumU, sumO float64
	for _, a := range in.Adjustments {
		sumU += a.UnderClosed
		sumO += a.OverClosed
	}
	if sumU != in.Under-in.UnderAfter || sumO != in.Over-in.OverAfter {
		t.Errorf("adjustments close %v/%v, totals moved %v/%v", sumU, sumO, in.Under-in.UnderAfter, in.Over-in.OverAfter)
	}
	if len(in.Intervals) != 32 || !in.Intervals[0].Start.Equal(now) {
		t.Errorf("%d intervals from %v, want 32 from 08:00", len(in.Intervals), in.Intervals[0].Start)
	}
	// Later in the day only what has not started can move.
	late, err := PlanIntraday(p, s, p.Period.Start.Add(15*time.Hour), IntradayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range late.Adjustments {
		if a.From.Before(late.Now) {
			t.Errorf("adjustment %v starts before now (15:00)", a)
		}
	}
	if _, err := PlanIntraday(p, s, p.Period.End(), IntradayOptions{}); err == nil {
		t.Error("now after the period accepted")
	}
}
