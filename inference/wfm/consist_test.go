package wfm

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestSolverBookkeeping checks the optimiser's running cost against
// Evaluate, which shares none of its code, after construction and after
// the search.
func TestSolverBookkeeping(t *testing.T) {
	p := smallProblem(t, 30, 30*time.Minute)
	m := compile(p)
	sv := newSolver(m, 3)
	if err := sv.construct(context.Background()); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		s := sv.schedule()
		cov, err := Evaluate(p, s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sv.total()/float64(m.k), cov.Stats.Objective; math.Abs(got-want) > 1e-6 {
			u, o, w := sv.debugParts()
			t.Errorf("%s: running cost %v (under %v over %v own %v), Evaluate %v (%v)", stage, got, u, o, w, want, &cov.Stats)
		}
	}
	check("construct")
	for range 300 {
		sv.dayRound()
	}
	check("day rounds")
	for range 30 {
		sv.lineRound()
	}
	check("line rounds")
}

func (sv *solver) debugParts() (under, over, own float64) {
	for t := range sv.cov.T {
		under += float64(sv.cov.under[t])
		over += float64(sv.cov.pres[t] - sv.cov.reqTot[t] + sv.cov.under[t])
	}
	for _, o := range sv.own {
		own += o
	}
	k := float64(sv.m.k)
	return under / k, over / k, own / k
}
