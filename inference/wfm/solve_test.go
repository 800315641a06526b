package wfm

import (
	"context"
	"testing"
	"time"
)

func TestSolveKeepsEveryRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		step time.Duration
	}{
		{"40 agents 30m", 40, 30 * time.Minute},
		{"25 agents 15m", 25, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := smallProblem(t, tc.n, tc.step)
			cfg := DefaultConfig()
			cfg.MaxRounds = 300
			s, err := Solve(context.Background(), p, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if v := Check(p, s); len(v) > 0 {
				for _, x := range v[:min(len(v), 10)] {
					t.Errorf("violation: %v", x)
				}
			}
			t.Logf("%d shifts, %v, solver %+v, explanations %v", len(s.Shifts), &s.Stats, s.Solver, s.Explanations)
		})
	}
}
