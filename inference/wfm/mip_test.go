package wfm

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// glpsol returns the path of GLPK's solver: a failure under CI, a skip
// naming the Debian package otherwise.
func glpsol(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("glpsol")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("glpsol not found (Debian package glpk-utils): %v", err)
		}
		t.Skip("glpsol not found: install the Debian package glpk-utils")
	}
	return p
}

// runGLPK solves the programme with glpsol within limit and reads the
// answer, with glpsol's log.
func runGLPK(t testing.TB, x *MIP, limit time.Duration, extra ...string) (*MIPResult, string) {
	t.Helper()
	res, log, _, _ := glpk(t, x, append([]string{"--tmlim", strconv.Itoa(int(limit.Seconds()))}, extra...)...)
	if res == nil {
		t.Fatalf("glpsol wrote no solution:\n%s", log)
	}
	return res, log
}

// glpk writes the programme, runs glpsol on it with args and reads its
// solution (nil when it wrote none); it returns glpsol's log, wall and CPU
// time too.
func glpk(t testing.TB, x *MIP, args ...string) (res *MIPResult, log string, wall, cpu time.Duration) {
	t.Helper()
	bin := glpsol(t)
	dir := t.TempDir()
	model, sol := filepath.Join(dir, "model.lp"), filepath.Join(dir, "sol.txt")
	f, err := os.Create(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.WriteLP(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--lp", model, "-w", sol}, args...)
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("glpsol %v: %v\n%s", args, err, out.String())
	}
	wall, cpu = time.Since(start), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()
	sf, err := os.Open(sol)
	if err != nil {
		return nil, out.String(), wall, cpu
	}
	defer sf.Close()
	if res, err = x.ReadGLPK(sf); err != nil {
		t.Fatal(err)
	}
	return res, out.String(), wall, cpu
}

// tinyProblem is small enough for GLPK to prove optimality in seconds:
// three agents, one week, hourly starts, one break.
func tinyProblem(t testing.TB) *Problem {
	p := handProblem(t, 7)
	p.Rules.Shifts[0].Starts = mustClockSet("07:00-12:00/60m")
	p.Rules.Shifts[0].Breaks = p.Rules.Shifts[0].Breaks[1:] // lunch only
	p.Rules.Shifts[1].Starts = mustClockSet("08:00-14:00/120m")
	p.Roster.Agents[0].HoursPerWeek = 37.5
	p.Roster.Agents[2].HoursPerWeek = 30
	p.Roster.Agents[2].Preferred = Window{From: 9 * 60}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMIPMatchesSolve solves a tiny instance exactly with GLPK: GLPK's
// schedule must keep every rule, Evaluate must price it at GLPK's
// objective (the MIP and the optimiser's model agree), and Solve must not
// beat the proven optimum (it would mean the models differ) and here
// reaches it. The second instance follows an earlier week in which Ana
// worked the most days in a row the rules allow and Cy until 23:00 on
// Sunday.
func TestMIPMatchesSolve(t *testing.T) {
	glpsol(t)
	after := tinyProblem(t)
	sunday := after.Period.Day(-1)
	after.Prior = []Prior{
		{Agent: "ana", LastEnd: sunday.Add(17 * time.Hour), DaysInARow: 5},
		{Agent: "cy", LastEnd: sunday.Add(23 * time.Hour), DaysInARow: 1},
	}
	for _, tc := range []struct {
		name string
		p    *Problem
	}{{"one week", tinyProblem(t)}, {"after a week", after}} {
		t.Run(tc.name, func(t *testing.T) { mipMatchesSolve(t, tc.p) })
	}
}

func mipMatchesSolve(t *testing.T, p *Problem) {
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	x, err := NewMIP(p)
	if err != nil {
		t.Fatal(err)
	}
	res, log := runGLPK(t, x, 60*time.Second)
	if res.Status != "optimal" || res.Schedule == nil {
		t.Fatalf("glpk: %s\n%s", res.Status, log)
	}
	if v := Check(p, res.Schedule); len(v) > 0 {
		t.Fatalf("GLPK's schedule breaks rules: %v", v)
	}
	cov, err := Evaluate(p, res.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(cov.Stats.Objective-res.Objective) > 1e-6 {
		t.Errorf("Evaluate prices GLPK's schedule at %v, GLPK at %v", cov.Stats.Objective, res.Objective)
	}
	s, err := Solve(context.Background(), p, quickConfig(3000))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("glpk %s %v; earshot %v", res.Status, res.Objective, s.Stats.Objective)
	if v := Check(p, s); len(v) > 0 {
		t.Errorf("Solve's schedule breaks rules: %v", v)
	}
	if s.Stats.Objective < res.Objective-1e-6 {
		t.Errorf("Solve %v beats GLPK's proven optimum %v: the models differ", s.Stats.Objective, res.Objective)
	}
	if s.Stats.Objective > res.Objective+1e-6 {
		t.Errorf("Solve %v misses the optimum %v of a three-agent week", s.Stats.Objective, res.Objective)
	}
	lp, _ := runGLPK(t, x, 60*time.Second, "--nomip")
	if lp.Status != "optimal" || lp.Objective > res.Objective+1e-6 {
		t.Errorf("LP relaxation %s %v above the MIP optimum %v", lp.Status, lp.Objective, res.Objective)
	}
}
