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

// TestPlanIntradayCallIn: on Wednesday morning three agents are needed
// 08:00-12:00 and only Ana works then; Ben, who has Wednesday off and has
// worked four days this week, is called in. On Saturday nobody may be:
// Ana and Ben have had their five days and Cy works weekdays only.
func TestPlanIntradayCallIn(t *testing.T) {
	p := handProblem(t, 7)
	s := validWeek(t, p)
	d := make([]int, p.Period.Intervals())
	for _, day := range []int{2, 5} {
		for i := 16; i < 24; i++ { // 08:00-12:00
			d[day*48+i] = 3
		}
	}
	p.Demand = []Demand{{Queue: "billing", Agents: d}}
	withBen := slices.DeleteFunc(slices.Clone(s.Shifts), func(x Shift) bool { return x.Agent == "ben" && dayIndex(p.Period, x.Start) == 2 })
	wed := p.Period.Day(2).Add(7 * time.Hour)
	in, err := PlanIntraday(p, &Schedule{Period: p.Period, Shifts: withBen}, wed, IntradayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var calls []Adjustment
	for _, a := range in.Adjustments {
		t.Log(a)
		if a.Kind == "call_in" {
			calls = append(calls, a)
		}
	}
	if len(calls) != 1 || calls[0].Agent != "ben" || !calls[0].From.Equal(wed.Add(time.Hour)) || !calls[0].To.Equal(wed.Add(5*time.Hour)) ||
		calls[0].PaidHours != 4 || calls[0].UnderClosed != 8 {
		t.Errorf("call-ins %v, want Ben 08:00-12:00 closing 8 agent-intervals", calls)
	}
	if in.Adjustments[0].Kind != "call_in" {
		t.Errorf("first adjustment %v, want the call-in", in.Adjustments[0])
	}
	// Ben 08:00-12:00 on Wednesday keeps every rule.
	called := append(withBen, Shift{Agent: "ben", Template: "part4", Start: calls[0].From, End: calls[0].To})
	if v := Check(p, &Schedule{Period: p.Period, Shifts: called}); len(v) != 0 {
		t.Errorf("the schedule with the call-in breaks rules: %v", v)
	}
	sat, err := PlanIntraday(p, s, p.Period.Day(5).Add(7*time.Hour), IntradayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sat.Under == 0 || slices.ContainsFunc(sat.Adjustments, func(a Adjustment) bool { return a.Kind == "call_in" }) {
		t.Errorf("Saturday: under %v, adjustments %v: want under-staffing and no call-in", sat.Under, sat.Adjustments)
	}
	// Without the rest rule's room: Ben's Tuesday shift ends at 22:00.
	late := slices.Clone(withBen)
	for i, x := range late {
		if x.Agent == "ben" && dayIndex(p.Period, x.Start) == 1 {
			late[i].Start, late[i].End = x.Start.Add(9*time.Hour), x.End.Add(9*time.Hour)
		}
	}
	in, err = PlanIntraday(p, &Schedule{Period: p.Period, Shifts: late}, wed, IntradayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	calls = slices.DeleteFunc(in.Adjustments, func(a Adjustment) bool { return a.Kind != "call_in" })
	if len(calls) != 1 || !calls[0].From.Equal(wed.Add(2*time.Hour)) {
		t.Errorf("call-ins %v after Tuesday's 22:00, want Ben from 09:00 (11 h rest)", calls)
	}
}
