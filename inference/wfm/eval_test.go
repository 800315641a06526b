//go:build eval

package wfm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/erlang"
)

// evalDir is the shared evaluation data: EARSHOT_EVAL_DIR, else
// ../shared/eval beside the module (tests run in the package's folder).
func evalDir(testing.TB) string {
	if d := os.Getenv("EARSHOT_EVAL_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "eval")
}

const bankHours = "mon-fri 07:00-21:00"

// bankQueues reads bank_calls (5-minute counts of one US bank's calls,
// weekdays 07:00-21:05, March-October 2003) at step and splits each count
// into two queues with a fixed rule, for a two-skill site: "cards" takes a
// share rising from 25 % at 07:00 to 40 % at 21:00, "retail" the rest.
func bankQueues(t testing.TB, step time.Duration) map[string]*forecast.Series {
	path := filepath.Join(evalDir(t), "bank_calls", "bank_calls_5min.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("bank_calls not available: %v", err)
	}
	var b bytes.Buffer
	b.WriteString("queue,timestamp,offered\n")
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		ts, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(f[2])
		h := float64(ts.Hour()) + float64(ts.Minute())/60
		share := 0.25 + 0.15*math.Max(0, math.Min(1, (h-7)/14))
		cards := int(math.Round(float64(n) * share))
		fmt.Fprintf(&b, "retail,%s,%d\ncards,%s,%d\n", f[1], n-cards, f[1], cards)
	}
	set, _, err := forecast.ReadCSV(&b, forecast.ImportOptions{Step: step, Aggregate: forecast.AggregateAll})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// bankDemand forecasts each queue over the period from the history before
// the period's start (the model of inference/forecast with the bank's
// hours), scales the volumes by scale (a smaller site with the same
// pattern), and staffs it with Erlang C for 80 % answered in 20 s, AHT aht
// and 30 % shrinkage.
func bankDemand(t testing.TB, set map[string]*forecast.Series, per Period, queues []string, scale float64, aht time.Duration) []Demand {
	var out []Demand
	for _, q := range queues {
		s := set[q]
		cfg := forecast.DefaultConfig()
		cfg.Hours = bankHours
		hist := s.Before(per.Start)
		m, err := forecast.Fit(hist, cfg)
		if err != nil {
			t.Fatal(err)
		}
		days := int(per.End().Sub(hist.Points[len(hist.Points)-1].Start).Hours()/24) + 1
		fc, err := m.Forecast(days)
		if err != nil {
			t.Fatal(err)
		}
		for i := range fc.Points {
			v := &fc.Points[i].Volume
			v.Value *= scale
			v.Mean *= scale
		}
		plan, err := forecast.Staff(fc, erlang.Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Shrinkage: 0.3}, forecast.StaffingOptions{DefaultAHT: aht})
		if err != nil {
			t.Fatal(err)
		}
		d, err := DemandFromPlan(plan, fc.Step, per)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

type benchInstance struct {
	name    string
	agents  int // filled in by benchInstances
	start   time.Time
	days    int
	step    time.Duration
	queues  []string
	scale   float64
	budget  time.Duration
	problem *Problem
}

// benchInstances are the scheduling benchmark: the last four weeks of
// bank_calls (Mon 29 Sep - Sun 26 Oct 2003) at full volume, two weeks at
// a quarter of it in 15-minute intervals, one week of one queue at 3 %.
// AHT 150 s. Each roster is the smallest synthetic roster (seed 2003, in
// steps of 5 agents) whose contracts can work 5 % more hours than the
// demand needs: sized from capacity before any schedule was made.
func benchInstances(t testing.TB) []*benchInstance {
	return buildInstances(t, 2003, []*benchInstance{
		{name: "bank-4w", start: time.Date(2003, 9, 29, 0, 0, 0, 0, time.UTC), days: 28, step: 30 * time.Minute, queues: []string{"retail", "cards"}, scale: 1, budget: 30 * time.Second},
		{name: "bank-2w-15m", start: time.Date(2003, 10, 13, 0, 0, 0, 0, time.UTC), days: 14, step: 15 * time.Minute, queues: []string{"retail", "cards"}, scale: 0.25, budget: 10 * time.Second},
		{name: "bank-1w-1q", start: time.Date(2003, 10, 20, 0, 0, 0, 0, time.UTC), days: 7, step: 30 * time.Minute, queues: []string{"retail"}, scale: 0.03, budget: 5 * time.Second},
	})
}

// devInstances are built the same way from earlier weeks of bank_calls
// (July-August 2003) with another roster seed: the optimiser's settings
// were chosen on these, never on benchInstances.
func devInstances(t testing.TB) []*benchInstance {
	return buildInstances(t, 1999, []*benchInstance{
		{name: "dev-4w", start: time.Date(2003, 8, 4, 0, 0, 0, 0, time.UTC), days: 28, step: 30 * time.Minute, queues: []string{"retail", "cards"}, scale: 1, budget: 30 * time.Second},
		{name: "dev-2w-15m", start: time.Date(2003, 7, 14, 0, 0, 0, 0, time.UTC), days: 14, step: 15 * time.Minute, queues: []string{"retail", "cards"}, scale: 0.25, budget: 10 * time.Second},
		{name: "dev-1w-1q", start: time.Date(2003, 7, 21, 0, 0, 0, 0, time.UTC), days: 7, step: 30 * time.Minute, queues: []string{"retail"}, scale: 0.03, budget: 5 * time.Second},
	})
}

func buildInstances(t testing.TB, seed uint64, ins []*benchInstance) []*benchInstance {
	sets := map[time.Duration]map[string]*forecast.Series{}
	for _, in := range ins {
		if sets[in.step] == nil {
			sets[in.step] = bankQueues(t, in.step)
		}
		per := NewPeriod(in.start, time.UTC, in.days, in.step)
		p := &Problem{Period: per, Rules: synthRules(), Demand: bankDemand(t, sets[in.step], per, in.queues, in.scale, 150*time.Second)}
		in.agents = sizeRoster(t, p, seed, 5, in.queues, mustDays("mon-fri"))
		in.problem = p
	}
	return ins
}

// glpkRun is what glpsol reported.
type glpkRun struct {
	status    string  // optimal, feasible, none
	objective float64 // schedule units; NaN without a solution
	bestBound float64 // branch-and-bound's bound when it stopped; NaN when the root LP did not finish
	lpBound   float64 // LP relaxation by the interior-point method
	wall, cpu time.Duration
	lpWall    time.Duration
	schedule  *Schedule
	columns   int
}

var mipLineRE = regexp.MustCompile(`mip =\s+(?:not found yet|\S+)\s+>=\s+(\S+)`)

// solveGLPK solves p's MIP with glpsol's branch and bound within limit,
// and its LP relaxation with the interior-point method (simplex does not
// finish the largest instance's root LP in ten minutes on this machine).
func solveGLPK(t testing.TB, p *Problem, limit time.Duration) glpkRun {
	x, err := NewMIP(p)
	if err != nil {
		t.Fatal(err)
	}
	r := glpkRun{objective: math.NaN(), lpBound: math.NaN(), bestBound: math.NaN(), status: "none"}
	res, log, wall, cpu := glpk(t, x, "--tmlim", strconv.Itoa(int(limit.Seconds())))
	r.wall, r.cpu, r.columns = wall, cpu, x.Size()
	if m := mipLineRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		if v, err := strconv.ParseFloat(m[len(m)-1][1], 64); err == nil {
			r.bestBound = x.Objective(v)
		}
	}
	if res != nil && res.Schedule != nil {
		r.status, r.objective, r.schedule = res.Status, res.Objective, res.Schedule
	}
	if strings.Contains(log, "INTEGER OPTIMAL SOLUTION FOUND") {
		r.bestBound = r.objective
	}
	lp, _, lpWall, _ := glpk(t, x, "--nomip", "--interior")
	r.lpWall = lpWall
	if lp != nil {
		r.lpBound = lp.Objective
	}
	return r
}

// TestEvalSchedule is the scheduling benchmark: for each instance, Solve
// within its budget, every rule checked, against GLPK's MIP on the same
// model with ten times the budget, and the LP bound.
func TestEvalSchedule(t *testing.T) {
	glpsol(t)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-12s %6s %7s %7s | %7s %7s %4s %9s %6s %6s | %9s %8s %9s %6s %6s | %9s %7s %7s\n",
		"instance", "agents", "columns", "req h", "under", "over", "viol", "objective", "wall", "cpu",
		"glpk obj", "status", "bound", "wall", "cpu", "LP bound", "vs LP", "vs glpk")
	for _, in := range benchInstances(t) {
		p := in.problem
		cfg := DefaultConfig()
		cfg.TimeBudget = Duration(in.budget)
		c0, start := processCPU(), time.Now()
		s, err := Solve(context.Background(), p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		wall, cpu := time.Since(start), processCPU()-c0
		viol := Check(p, s)
		for _, v := range viol[:min(len(viol), 5)] {
			t.Errorf("%s: %v", in.name, v)
		}
		g := solveGLPK(t, p, 10*in.budget)
		if g.schedule != nil {
			if v := Check(p, g.schedule); len(v) > 0 {
				t.Errorf("%s: GLPK's schedule breaks %d rules: %v", in.name, len(v), v[0])
			}
			cov, err := Evaluate(p, g.schedule)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(cov.Stats.Objective-g.objective) > 1e-6*math.Max(1, g.objective) {
				t.Errorf("%s: Evaluate prices GLPK's schedule at %v, GLPK at %v", in.name, cov.Stats.Objective, g.objective)
			}
			if s.Stats.Objective > 1.03*g.objective {
				t.Errorf("%s: objective %.1f more than 3 %% above GLPK's %.1f", in.name, s.Stats.Objective, g.objective)
			}
		}
		st := s.Stats
		fmt.Fprintf(&b, "%-12s %6d %7d %7.0f | %7.1f %7.1f %4d %9.1f %5.1fs %5.1fs | %9.1f %8s %9.1f %5.0fs %5.0fs | %9.1f %6.2f%% %6.2f%%\n",
			in.name, in.agents, g.columns, st.RequiredHours, st.Under, st.Over, len(viol), st.Objective, wall.Seconds(), cpu.Seconds(),
			g.objective, g.status, g.bestBound, g.wall.Seconds(), g.cpu.Seconds(), g.lpBound,
			100*(st.Objective-g.lpBound)/g.lpBound, 100*(st.Objective-g.objective)/g.objective)
		fmt.Fprintf(&b, "%-12s Earshot: %d rounds, stopped by %s; %s; GLPK LP (interior point) %.0fs wall\n", "",
			s.Solver.Rounds, s.Solver.StoppedBy, explanationsLine(s.Explanations), g.lpWall.Seconds())
	}
	t.Log(b.String())
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func explanationsLine(ex []Explanation) string {
	if len(ex) == 0 {
		return "no explanations"
	}
	var parts []string
	for _, e := range ex {
		parts = append(parts, e.Rule+": "+e.Message)
	}
	return strings.Join(parts, " | ")
}
