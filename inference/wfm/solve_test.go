package wfm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func quickConfig(rounds int) Config {
	cfg := DefaultConfig()
	cfg.MaxRounds = rounds
	cfg.TimeBudget = Duration(time.Minute)
	return cfg
}

// TestSolveKeepsEveryRule makes schedules for varied instances and checks
// each with Check, which shares no code with the optimiser: no rule may
// be broken unless the schedule explains it.
func TestSolveKeepsEveryRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		prob func(t *testing.T) *Problem
	}{
		{"two queues 30m", func(t *testing.T) *Problem { return smallProblem(t, 40, 30*time.Minute) }},
		{"two queues 15m", func(t *testing.T) *Problem { return smallProblem(t, 25, 15*time.Minute) }},
		{"weekends bind, daylight saving starts", func(t *testing.T) *Problem {
			p := smallProblem(t, 30, 30*time.Minute)
			p.Period = NewPeriod(time.Date(2024, 3, 25, 0, 0, 0, 0, p.Period.Start.Location()), p.Period.Start.Location(), 14, 30*time.Minute)
			p.Rules.MaxWeekendShare = 0.5 // one of two weekends
			p.Rules.MinRest = Duration(12 * time.Hour)
			p.Demand = []Demand{synthDemand(p.Period, "retail", 10, AllDays, 0), synthDemand(p.Period, "cards", 5, AllDays, 1)}
			return p
		}},
		{"hours band and four days in a row", func(t *testing.T) *Problem {
			p := smallProblem(t, 30, 30*time.Minute)
			p.Rules.HoursTolerance = Duration(4 * time.Hour)
			p.Rules.MaxConsecutiveDays = 4
			p.Rules.MinDaysOffPerWeek = 2
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.prob(t)
			s, err := Solve(context.Background(), p, quickConfig(3000))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Shifts) == 0 {
				t.Fatal("no shifts")
			}
			for _, v := range Check(p, s) {
				if !explained(s, v) {
					t.Errorf("unexplained violation: %v", v)
				}
			}
			t.Logf("%d shifts, %v, %+v", len(s.Shifts), &s.Stats, s.Solver)
		})
	}
}

// explained reports whether the schedule explains violation v.
func explained(s *Schedule, v Violation) bool {
	return slices.ContainsFunc(s.Explanations, func(e Explanation) bool { return e.Rule == v.Rule && e.Agent == v.Agent })
}

func TestSolveDeterministic(t *testing.T) {
	p := smallProblem(t, 30, 30*time.Minute)
	a, err := Solve(context.Background(), p, quickConfig(2000))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Solve(context.Background(), p, quickConfig(2000))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.Shifts, b.Shifts); d != "" {
		t.Errorf("same seed, different schedules (-first +second):\n%s", d)
	}
	cfg := quickConfig(2000)
	cfg.Seed = 7
	c, err := Solve(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(a.Shifts, c.Shifts) {
		t.Errorf("seeds 1 and 7 gave the same schedule")
	}
}

func TestSolveTimeBudgetAndCancel(t *testing.T) {
	p := smallProblem(t, 40, 30*time.Minute)
	cfg := DefaultConfig()
	cfg.TimeBudget = Duration(200 * time.Millisecond)
	cfg.Patience = 1 << 30
	s, err := Solve(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Solver.StoppedBy != "time" {
		t.Errorf("StoppedBy = %q, want time", s.Solver.StoppedBy)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Solve(ctx, p, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Solve(canceled) error = %v, want context.Canceled", err)
	}
}

// TestSolveExplainsInfeasible gives inputs no schedule can satisfy and
// expects each shortfall explained, and every violation Check finds to be
// one of them.
func TestSolveExplainsInfeasible(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(p *Problem)
		rule  string
		agent string
		in    []string
	}{
		{"more demand than the roster can give", func(p *Problem) {
			for i := range p.Demand[0].Agents {
				p.Demand[0].Agents[i] *= 6
			}
		}, "capacity", "", []string{"agent-hours", "at most", "under-staffed"}},
		{"queue without enough skilled agents", func(p *Problem) {
			for i := range p.Demand[1].Agents {
				p.Demand[1].Agents[i] *= 8
			}
		}, "skill_capacity", "", []string{"queue cards needs", "skilled agents work at most"}},
		{"peak beyond availability", func(p *Problem) {
			p.Demand[0].Agents[p.Period.Intervals()/7+20] = 500
		}, "peak", "", []string{"need more agents than could be working then", "500 needed"}},
		{"agent available for less than a shift", func(p *Problem) {
			p.Roster.Agents[0].Available = Window{From: 9 * 60, To: 12 * 60}
			p.Roster.Agents[0].Shifts = []string{"day6", "part4"}
		}, "min_hours", "a001", []string{"available 09:00-12:00 (3h)", "shorter than the shortest shift (4h)"}},
		{"too few available days", func(p *Problem) {
			p.Roster.Agents[1].Available = Window{Days: mustDays("mon,wed")}
		}, "min_hours", "a002", []string{"at most 2 days", "mon,wed", "15h"}},
		{"agent's skills not scheduled", func(p *Problem) {
			p.Roster.Agents[2].Skills = []string{"mortgages"}
		}, "skills", "a003", []string{"none of the agent's skills (mortgages)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := smallProblem(t, 20, 30*time.Minute)
			tc.edit(p)
			s, err := Solve(context.Background(), p, quickConfig(500))
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(s.Explanations, func(e Explanation) bool { return e.Rule == tc.rule && e.Agent == tc.agent })
			if i < 0 {
				t.Fatalf("explanations %v: none for rule %s agent %q", s.Explanations, tc.rule, tc.agent)
			}
			for _, want := range tc.in {
				if !strings.Contains(s.Explanations[i].Message, want) {
					t.Errorf("explanation %q does not say %q", s.Explanations[i].Message, want)
				}
			}
			for _, v := range Check(p, s) {
				if !explained(s, v) {
					t.Errorf("unexplained violation: %v", v)
				}
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(p *Problem)
		field string
	}{
		{"no shifts", func(p *Problem) { p.Rules.Shifts = nil }, "rules.shifts"},
		{"bad length", func(p *Problem) { p.Rules.Shifts[0].Length = Duration(7*time.Hour + 10*time.Minute) }, "rules.shifts[0].length"},
		{"break window too short", func(p *Problem) { p.Rules.Shifts[0].Breaks[0].Before = Duration(100 * time.Minute) }, "rules.shifts[0].breaks[0].before"},
		{"break windows overlap", func(p *Problem) { p.Rules.Shifts[0].Breaks[1].After = Duration(2 * time.Hour) }, "rules.shifts[0].breaks[1].after"},
		{"rest too long for late shifts", func(p *Problem) {
			p.Rules.Shifts[1].Starts = mustClockSet("23:00")
			p.Rules.MinRest = Duration(22 * time.Hour)
		}, "rules.min_rest"},
		{"weekend share", func(p *Problem) { p.Rules.MaxWeekendShare = 0 }, "rules.max_weekend_share"},
		{"duplicate agent", func(p *Problem) { p.Roster.Agents[1].ID = p.Roster.Agents[0].ID }, "roster.agents[1].id"},
		{"hours not in quarters", func(p *Problem) { p.Roster.Agents[0].HoursPerWeek = 37.4 }, "roster.agents[0].hours_per_week"},
		{"window backwards", func(p *Problem) { p.Roster.Agents[0].Available = Window{From: 600, To: 540} }, "roster.agents[0].available.to"},
		{"unknown template", func(p *Problem) { p.Roster.Agents[0].Shifts = []string{"night"} }, "roster.agents[0].shifts[0]"},
		{"demand length", func(p *Problem) { p.Demand[0].Agents = p.Demand[0].Agents[1:] }, "demand[0].agents"},
		{"negative demand", func(p *Problem) { p.Demand[0].Agents[3] = -1 }, "demand[0].agents[3]"},
		{"period days", func(p *Problem) { p.Period.Days = 10 }, "period.days"},
		{"period step", func(p *Problem) { p.Period.Step = time.Hour }, "period.step"},
		{"too many breaks", func(p *Problem) {
			b := p.Rules.Shifts[0].Breaks[0]
			for i := range 7 {
				b.After, b.Before = Duration(time.Duration(i)*time.Hour), Duration(time.Duration(i)*time.Hour+30*time.Minute)
				p.Rules.Shifts[0].Breaks = append(p.Rules.Shifts[0].Breaks[:0:0], append(p.Rules.Shifts[0].Breaks, b)...)
			}
		}, "rules.shifts[0].breaks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := smallProblem(t, 5, 30*time.Minute)
			tc.edit(p)
			err := p.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrBadInput) {
				t.Fatalf("Validate() = %v, want a FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
}

func TestClockSetAndDays(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"07:00-09:00/30m", "07:00-09:00/30m"},
		{"07:00, 07:15,07:30;12:00", "07:00-07:30, 12:00"},
		{"08:00-09:00", "08:00-09:00"},
	} {
		cs, err := ParseClockSet(tc.in)
		if err != nil {
			t.Fatalf("ParseClockSet(%q): %v", tc.in, err)
		}
		if got := cs.String(); got != tc.want {
			t.Errorf("ParseClockSet(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "7:00-", "07:10", "09:00-08:00", "07:00-09:00/20m", "24:00"} {
		if _, err := ParseClockSet(bad); err == nil {
			t.Errorf("ParseClockSet(%q) succeeded", bad)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"mon-fri", "mon-fri"}, {"sat,sun", "sat-sun"}, {"Monday;wed fri", "mon,wed,fri"}, {"all", "all"}, {"fri-sun", "fri-sun"},
	} {
		d, err := ParseDays(tc.in)
		if err != nil {
			t.Fatalf("ParseDays(%q): %v", tc.in, err)
		}
		if got := d.String(); got != tc.want {
			t.Errorf("ParseDays(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"sun-mon", "funday", "mon-"} {
		if _, err := ParseDays(bad); err == nil {
			t.Errorf("ParseDays(%q) succeeded", bad)
		}
	}
}
