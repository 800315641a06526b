package wfm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckValidSchedule(t *testing.T) {
	p := handProblem(t, 7)
	if v := Check(p, validWeek(t, p)); len(v) != 0 {
		t.Fatalf("Check(valid week) = %v, want none", v)
	}
}

// TestCheckFindsEveryRule breaks one rule at a time in a valid schedule
// and expects Check to name it.
func TestCheckFindsEveryRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		days int
		edit func(t *testing.T, p *Problem, s *Schedule)
		rule string
		in   string // expected in the message
	}{
		{"start not allowed", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[0].Start = s.Shifts[0].Start.Add(10 * time.Minute)
			s.Shifts[0].End = s.Shifts[0].End.Add(10 * time.Minute)
		}, "start_time", "08:10"},
		{"start outside template", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[0] = shiftAt(t, p, "ana", "day8", 0, "06:30", 120, 240)
		}, "start_time", "06:30"},
		{"length", 7, func(t *testing.T, p *Problem, s *Schedule) { s.Shifts[1].End = s.Shifts[1].End.Add(Quarter) }, "length", "4h15m"},
		{"template not the agent's", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[1] = shiftAt(t, p, "ben", "day8", 0, "07:00", 120, 240)
		}, "template", "not one of the agent's"},
		{"unknown template", 7, func(t *testing.T, p *Problem, s *Schedule) { s.Shifts[1].Template = "night" }, "template", "night"},
		{"unknown agent", 7, func(t *testing.T, p *Problem, s *Schedule) { s.Shifts[1].Agent = "zoe" }, "unknown_agent", "roster"},
		{"ends after availability", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[1] = shiftAt(t, p, "ben", "part4", 0, "13:00")
		}, "availability", "until 16:00"},
		{"day not available", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = slices.DeleteFunc(s.Shifts, func(x Shift) bool { return x.Agent == "cy" && dayIndex(p.Period, x.Start) == 0 })
			s.Shifts = append(s.Shifts, shiftAt(t, p, "cy", "day8", 5, "09:00", 90, 210))
		}, "availability", "Saturday"},
		{"two shifts a day", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = append(s.Shifts, shiftAt(t, p, "ben", "part4", 0, "14:00"))
		}, "one_shift_per_day", "second shift"},
		{"overlap", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = append(s.Shifts, shiftAt(t, p, "ben", "part4", 0, "11:00"))
		}, "overlap", "before the previous shift ends"},
		{"rest", 7, func(t *testing.T, p *Problem, s *Schedule) {
			for i, x := range s.Shifts {
				if x.Agent == "cy" && dayIndex(p.Period, x.Start) == 0 {
					s.Shifts[i] = shiftAt(t, p, "cy", "day8", 0, "13:00", 90, 210) // ends 21:00
				}
				if x.Agent == "cy" && dayIndex(p.Period, x.Start) == 1 {
					s.Shifts[i] = shiftAt(t, p, "cy", "day8", 1, "07:00", 90, 210) // 10 h later
				}
			}
		}, "min_rest", "10h rest"},
		{"days in a row", 14, func(t *testing.T, p *Problem, s *Schedule) {
			// Ana works Thursday to Friday of week 1 and Monday to
			// Friday of week 2 plus the weekend in between.
			s.Shifts = nil
			for _, d := range []int{3, 4, 5, 6, 7, 8, 9} {
				s.Shifts = append(s.Shifts, shiftAt(t, p, "ana", "day8", d, "09:00", 120, 240))
			}
		}, "max_consecutive_days", "more than 5 days in a row"},
		{"days off", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = append(s.Shifts, shiftAt(t, p, "ben", "part4", 5, "09:00"))
		}, "days_off", "1 days off in week 1"},
		{"too few hours", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = slices.DeleteFunc(s.Shifts, func(x Shift) bool { return x.Agent == "ben" && dayIndex(p.Period, x.Start) == 4 })
		}, "min_hours", "16h paid in week 1"},
		{"too many hours", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = append(s.Shifts, shiftAt(t, p, "ana", "day8", 5, "08:00", 120, 240))
		}, "max_hours", "45h paid"},
		{"break outside window", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[0] = shiftAt(t, p, "ana", "day8", 0, "08:00", 60, 240)
		}, "breaks", "window 1h30m-3h"},
		{"break not on the quarter", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[0] = shiftAt(t, p, "ana", "day8", 0, "08:00", 125, 240)
		}, "breaks", "quarter hour"},
		{"missing break", 7, func(t *testing.T, p *Problem, s *Schedule) { s.Shifts[0].Breaks = s.Shifts[0].Breaks[:1] }, "breaks", "1 breaks"},
		{"lunch paid", 7, func(t *testing.T, p *Problem, s *Schedule) { s.Shifts[0].Breaks[1].Paid = true }, "breaks", "paid true"},
		{"weekends", 14, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts = nil
			for _, d := range []int{1, 2, 5, 6, 8, 12} {
				s.Shifts = append(s.Shifts, shiftAt(t, p, "ben", "part4", d, "09:00"))
			}
		}, "weekends", "2 weekends worked, at most 1 of 2"},
		{"outside the period", 7, func(t *testing.T, p *Problem, s *Schedule) {
			s.Shifts[0] = shiftAt(t, p, "ana", "day8", 7, "08:00", 120, 240)
		}, "period", "outside the period"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := handProblem(t, tc.days)
			s := validWeek(t, p)
			tc.edit(t, p, s)
			v := Check(p, s)
			i := slices.IndexFunc(v, func(x Violation) bool { return x.Rule == tc.rule && strings.Contains(x.Message, tc.in) })
			if i < 0 {
				t.Errorf("Check = %v\nwant a %s violation mentioning %q", v, tc.rule, tc.in)
			}
		})
	}
}

func ExampleCheck() {
	loc, _ := time.LoadLocation("Europe/Paris")
	p := &Problem{
		Period: NewPeriod(time.Date(2024, 6, 3, 0, 0, 0, 0, loc), loc, 7, 30*time.Minute),
		Rules:  DefaultRules(),
		Roster: Roster{Agents: []Agent{{ID: "ana", Skills: []string{"billing"}, HoursPerWeek: 20, Shifts: []string{"part4"}}}},
	}
	p.Demand = []Demand{{Queue: "billing", Agents: make([]int, p.Period.Intervals())}}
	st := time.Date(2024, 6, 3, 9, 0, 0, 0, loc)
	s := &Schedule{Period: p.Period, Shifts: []Shift{{Agent: "ana", Template: "part4", Start: st, End: st.Add(4 * time.Hour),
		Breaks: []Activity{{Name: "break", Start: st.Add(2 * time.Hour), End: st.Add(2*time.Hour + 15*time.Minute), Paid: true}}}}}
	for _, v := range Check(p, s) {
		fmt.Println(v.Rule, v.Message)
	}
	// Output: min_hours 4h paid in week 1, contract 20h - 0s
}
