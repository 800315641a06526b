package wfm

import (
	"strings"
	"testing"
	"time"
)

func TestCheckPrior(t *testing.T) {
	p := handProblem(t, 7)
	s := validWeek(t, p) // Ana from 08:00 and Cy from 12:00, Monday to Friday
	sunday := p.Period.Day(0).Add(-24 * time.Hour)
	for _, tc := range []struct {
		name  string
		prior []Prior
		rule  string // "" for none
		date  string
		in    string
	}{
		{"rested", []Prior{{Agent: "ana", LastEnd: sunday.Add(18 * time.Hour), DaysInARow: 0}}, "", "", ""},
		{"short rest", []Prior{{Agent: "ana", LastEnd: sunday.Add(23 * time.Hour)}}, "min_rest", "2024-06-03", "9h rest"},
		{"night shift into the period", []Prior{{Agent: "ana", LastEnd: p.Period.Day(0).Add(9 * time.Hour)}}, "overlap", "2024-06-03", "before the previous shift ends"},
		// Sunday and Monday to Friday: the sixth day is Friday.
		{"days in a row", []Prior{{Agent: "cy", LastEnd: sunday.Add(17 * time.Hour), DaysInARow: 1}}, "max_consecutive_days", "2024-06-07", "more than 5 days in a row"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := *p
			q.Prior = tc.prior
			if err := q.Validate(); err != nil {
				t.Fatal(err)
			}
			v := Check(&q, s)
			if tc.rule == "" {
				if len(v) != 0 {
					t.Errorf("Check = %v, want none", v)
				}
				return
			}
			if len(v) != 1 || v[0].Rule != tc.rule || !strings.Contains(v[0].Message, tc.in) || v[0].Date != tc.date {
				t.Errorf("Check = %v, want one %s on %s saying %q", v, tc.rule, tc.date, tc.in)
			}
		})
	}
}

// TestSolveKeepsPrior plans a week after one in which Ana worked until
// 23:00 on Sunday and Cy (Monday to Friday only) five days in a row, the
// most the rules allow: Ana starts late on Monday and Cy has it off, which
// leaves Cy's week short of the contract, said so.
func TestSolveKeepsPrior(t *testing.T) {
	p := handProblem(t, 7)
	sunday := p.Period.Day(0).Add(-24 * time.Hour)
	p.Prior = []Prior{
		{Agent: "ana", LastEnd: sunday.Add(23 * time.Hour), DaysInARow: 1},
		{Agent: "cy", LastEnd: sunday.Add(-31 * time.Hour), DaysInARow: 5},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Solve(t.Context(), p, quickConfig(200))
	if err != nil {
		t.Fatal(err)
	}
	v := Check(p, s)
	if len(v) != 1 || v[0].Rule != "min_hours" || v[0].Agent != "cy" {
		t.Fatalf("Check = %v, want Cy's week short only", v)
	}
	for _, sh := range s.Shifts {
		if sh.Agent == "ana" && dayIndex(p.Period, sh.Start) == 0 && sh.Start.Hour() < 10 {
			t.Errorf("Ana starts at %s on Monday, 11 h rest after 23:00 means 10:00 or later", sh.Start.Format("15:04"))
		}
	}
	var said bool
	for _, e := range s.Explanations {
		if e.Rule == "min_hours" && e.Agent == "cy" && strings.Contains(e.Message, "5 days worked in a row before the period") {
			said = true
		}
	}
	if !said {
		t.Errorf("no explanation of Cy's short week naming the days before the period: %v", s.Explanations)
	}
}

func TestPriorFrom(t *testing.T) {
	p := handProblem(t, 7)
	s := validWeek(t, p)
	// Ben also works Saturday; Cy's Friday is the last before next week.
	s.Shifts = append(s.Shifts, shiftAt(t, p, "ben", "part4", 5, "12:00"))
	next := NewPeriod(p.Period.Day(7), p.Period.Start.Location(), 7, 30*time.Minute)
	got := PriorFrom(s, next)
	want := map[string]Prior{
		"ana": {Agent: "ana", LastEnd: p.Period.Day(4).Add(16 * time.Hour), DaysInARow: 0},
		"ben": {Agent: "ben", LastEnd: p.Period.Day(5).Add(16 * time.Hour), DaysInARow: 0},
		"cy":  {Agent: "cy", LastEnd: p.Period.Day(4).Add(20 * time.Hour), DaysInARow: 0},
	}
	if len(got) != 3 {
		t.Fatalf("PriorFrom = %v", got)
	}
	for _, g := range got {
		if w := want[g.Agent]; !g.LastEnd.Equal(w.LastEnd) || g.DaysInARow != w.DaysInARow {
			t.Errorf("PriorFrom: %+v, want %+v", g, w)
		}
	}
	// A period starting on Saturday follows Monday to Friday: 5 days.
	sat := NewPeriod(p.Period.Day(5), p.Period.Start.Location(), 7, 30*time.Minute)
	for _, g := range PriorFrom(s, sat) {
		if g.DaysInARow != 5 {
			t.Errorf("PriorFrom(Saturday) %s: %d days in a row, want 5", g.Agent, g.DaysInARow)
		}
	}
}

func TestPriorValidate(t *testing.T) {
	p := handProblem(t, 7)
	for _, tc := range []struct {
		prior Prior
		field string
	}{
		{Prior{Agent: "zoe"}, "prior[0].agent"},
		{Prior{Agent: "ana", DaysInARow: -1}, "prior[0].days_in_a_row"},
		{Prior{Agent: "ana", LastEnd: p.Period.Day(2)}, "prior[0].last_end"},
	} {
		q := *p
		q.Prior = []Prior{tc.prior}
		err := q.Validate()
		if fe, ok := err.(*FieldError); !ok || fe.Field != tc.field {
			t.Errorf("Validate(%+v) = %v, want a field error on %s", tc.prior, err, tc.field)
		}
	}
}
