//go:build eval

package erlang

import (
	"fmt"
	"testing"
	"time"
)

// TestEvalErlang prints the published worked example beside Earshot's
// figures, and the analytic Erlang C/A figures beside a seeded simulation.
func TestEvalErlang(t *testing.T) {
	tg := Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Shrinkage: 0.3}
	r, err := Staff(ex100, tg)
	if err != nil {
		t.Fatal(err)
	}
	b := fmt.Appendf(nil, "\nErlang C worked example: 100 contacts / 30 min, AHT 180 s, 80 %% in 20 s, 30 %% shrinkage\n")
	b = fmt.Appendf(b, "%-22s %10s %10s\n", "", "published", "earshot")
	b = fmt.Appendf(b, "%-22s %10d %10d\n", "agents", 14, r.Agents)
	b = fmt.Appendf(b, "%-22s %10s %10.3f\n", "service level", "0.888", r.ServiceLevel)
	b = fmt.Appendf(b, "%-22s %10s %10.3f\n", "occupancy", "0.714", r.Occupancy)
	b = fmt.Appendf(b, "%-22s %10d %10d\n", "with 30 % shrinkage", 20, r.Scheduled)
	if r.Agents != 14 || r.Scheduled != 20 {
		t.Errorf("worked example: %+v", r)
	}
	b = fmt.Appendf(b, "\nanalytic vs simulation (seeded, 200,000 contacts each)\n%-34s %14s %14s %14s %14s\n", "case", "SL", "P(wait)", "ASA s", "abandon")
	cases := []struct {
		name     string
		n        int
		in       Interval
		patience time.Duration
	}{
		{"C: 14 agents, 10 E", 14, ex100, 0},
		{"C: 11 agents, 10 E", 11, ex100, 0},
		{"C: 5 agents, 4 E", 5, Interval{48, 5 * time.Minute, time.Hour}, 0},
		{"A: 10 agents, 10 E, patience 120s", 10, ex100, 120 * time.Second},
		{"A: 8 agents, 10 E, patience 60s", 8, ex100, 60 * time.Second},
		{"A: 12 agents, 10 E, patience 60s", 12, ex100, 60 * time.Second},
	}
	for i, c := range cases {
		g := Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Patience: c.patience}
		r, err := Evaluate(c.n, c.in, g)
		if err != nil {
			t.Fatal(err)
		}
		sl, pw, asa, ab := simulate(uint64(100+i), c.n, c.in, 20, c.patience.Seconds(), 200000)
		b = fmt.Appendf(b, "%-34s %6.3f/%6.3f %6.3f/%6.3f %6.2f/%6.2f %6.3f/%6.3f\n", c.name, r.ServiceLevel, sl, r.PWait, pw, r.ASA, asa, r.Abandon, ab)
	}
	b = fmt.Appendf(b, "(each cell: analytic/simulated)\n")
	t.Log(string(b))
}
