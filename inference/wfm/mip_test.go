package wfm

import (
	"bytes"
	"context"
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

// runGLPK solves the programme with glpsol (as a MIP, or its LP relaxation
// with lp true) within limit and reads the answer.
func runGLPK(t testing.TB, x *MIP, lp bool, limit time.Duration) *MIPResult {
	t.Helper()
	bin := glpsol(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "model.lp")
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
	sol := filepath.Join(dir, "sol.txt")
	args := []string{"--lp", model, "-w", sol, "--tmlim", strconv.Itoa(int(limit.Seconds()))}
	if lp {
		args = append(args, "--nomip")
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("glpsol %v: %v\n%s", args, err, out.String())
	}
	sf, err := os.Open(sol)
	if err != nil {
		t.Fatalf("glpsol wrote no solution: %v\n%s", err, out.String())
	}
	defer sf.Close()
	res, err := x.ReadGLPK(sf)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestMIPMatchesSolve solves a tiny instance exactly with GLPK: the MIP's
// schedule must keep every rule, Evaluate must price it at GLPK's
// objective (the two encode the same model), and Solve must not beat the
// proven optimum nor fall far behind it.
func TestMIPMatchesSolve(t *testing.T) {
	glpsol(t)
	p := smallProblem(t, 8, 30*time.Minute)
	p.Period.Days = 7
	for i := range p.Demand {
		p.Demand[i].Agents = p.Demand[i].Agents[:p.Period.Intervals()]
	}
	x, err := NewMIP(p)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("WFM_KEEP_LP"); dir != "" {
		f, _ := os.Create(filepath.Join(dir, "tiny.lp"))
		x.WriteLP(f)
		f.Close()
	}
	res := runGLPK(t, x, false, 60*time.Second)
	if res.Schedule == nil {
		t.Fatalf("glpk: %s, no schedule", res.Status)
	}
	if v := Check(p, res.Schedule); len(v) > 0 {
		t.Fatalf("GLPK's schedule breaks rules: %v", v)
	}
	cov, err := Evaluate(p, res.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	if d := cov.Stats.Objective - res.Objective; d > 1e-6 || d < -1e-6 {
		t.Errorf("Evaluate prices GLPK's schedule at %v, GLPK at %v", cov.Stats.Objective, res.Objective)
	}
	cfg := DefaultConfig()
	cfg.MaxRounds = 500
	s, err := Solve(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("glpk %s %v; earshot %v", res.Status, res.Objective, s.Stats.Objective)
	if res.Status == "optimal" && s.Stats.Objective < res.Objective-1e-6 {
		t.Errorf("Solve %v beats GLPK's proven optimum %v: the models differ", s.Stats.Objective, res.Objective)
	}
}
