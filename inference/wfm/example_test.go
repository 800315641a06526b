package wfm_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/wfm"
)

// Two agents, one part-timer who can only work mornings, and a week of
// demand for one queue: the schedule keeps every rule, and the demand the
// roster cannot meet is explained.
func ExampleSolve() {
	roster, err := wfm.ReadRosterCSV(strings.NewReader(`id,skills,hours_per_week,shifts,available_days,available_to
ana,billing,37.5,day8,,
ben,billing,20,part4,mon-fri,13:00
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	loc, _ := time.LoadLocation("Europe/Paris")
	per := wfm.NewPeriod(time.Date(2024, 6, 3, 0, 0, 0, 0, loc), loc, 7, 30*time.Minute)
	need := make([]int, per.Intervals())
	for i := range need {
		if t := per.IntervalStart(i); t.Weekday() != time.Sunday && t.Hour() >= 9 && t.Hour() < 17 {
			need[i] = 2
		}
	}
	p := &wfm.Problem{Period: per, Roster: *roster, Rules: wfm.DefaultRules(), Demand: []wfm.Demand{{Queue: "billing", Agents: need}}}
	cfg := wfm.DefaultConfig()
	cfg.MaxRounds = 500
	s, err := wfm.Solve(context.Background(), p, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.Shifts), "shifts,", len(wfm.Check(p, s)), "rules broken")
	for _, e := range s.Explanations {
		fmt.Println(e.Rule+":", e.Message)
	}
	// Output:
	// 10 shifts, 0 rules broken
	// capacity: the demand needs 96 agent-hours on contacts; at the top of their contracts the 2 scheduled agents work at most 54 (breaks excluded): at least 42 agent-hours stay under-staffed
	// skill_capacity: queue billing needs 96 agent-hours; its 2 skilled agents work at most 54
	// peak: 56 intervals of queue billing need more agents than could be working then at all (availability and shift times); worst Mon 3 Jun 13:00: 2 needed, 1 could be there
}
