package wfm

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSolve makes a two-week schedule for a synthetic 120-agent,
// two-queue site with a fixed number of improvement rounds (so each run
// does the same work).
func BenchmarkSolve(b *testing.B) {
	p := devProblem(b, 45, 2, 30*time.Minute)
	cfg := DefaultConfig()
	cfg.MaxRounds = 20000
	cfg.Patience = 1 << 30
	cfg.TimeBudget = Duration(10 * time.Minute)
	b.ReportAllocs()
	var obj float64
	for b.Loop() {
		s, err := Solve(context.Background(), p, cfg)
		if err != nil {
			b.Fatal(err)
		}
		obj = s.Stats.Objective
	}
	b.ReportMetric(float64(len(p.Roster.Agents)), "agents")
	b.ReportMetric(obj, "objective")
}

// BenchmarkBestLine is one agent's best line over four weeks (the step the
// search repeats most after a day's re-timing).
func BenchmarkBestLine(b *testing.B) {
	p := devProblem(b, 45, 4, 30*time.Minute)
	m := compile(p)
	sv := newSolver(m, 1)
	if err := sv.construct(context.Background()); err != nil {
		b.Fatal(err)
	}
	ma := &m.agents[0]
	sv.remove(0)
	var out []choice
	b.ReportAllocs()
	for b.Loop() {
		sv.cov.prefix(ma.set, 0, int32(m.T), &sv.sc.P)
		out, _ = m.bestLine(ma, &sv.sc.P, sv.sc, out)
	}
}

// BenchmarkDayRound is one round re-timing a few agents' shifts of a day.
func BenchmarkDayRound(b *testing.B) {
	p := devProblem(b, 45, 4, 30*time.Minute)
	m := compile(p)
	sv := newSolver(m, 1)
	if err := sv.construct(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sv.dayRound()
	}
}

// BenchmarkPlanIntraday plans the rest of a Wednesday from 08:00 for the
// 120-agent site's two-week schedule, with demand a fifth above the plan
// (so that call-ins, overtime and break moves all have work to do).
func BenchmarkPlanIntraday(b *testing.B) {
	p := devProblem(b, 45, 2, 30*time.Minute)
	cfg := DefaultConfig()
	cfg.MaxRounds = 2000
	s, err := Solve(context.Background(), p, cfg)
	if err != nil {
		b.Fatal(err)
	}
	q := *p
	q.Demand = nil
	for _, d := range p.Demand {
		up := Demand{Queue: d.Queue, Agents: make([]int, len(d.Agents))}
		for i, v := range d.Agents {
			up.Agents[i] = v + (v+4)/5
		}
		q.Demand = append(q.Demand, up)
	}
	now := p.Period.Day(2).Add(8 * time.Hour)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		in, err := PlanIntraday(&q, s, now, IntradayOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(in.Adjustments)
	}
	b.ReportMetric(float64(n), "adjustments")
}
