//go:build eval

package qm

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestEvalAutoQMAgreement reports, per question of the labelled set's
// scorecard, how often the built-in engines (rules and the classifier
// trained on the scorecard's examples) give the human reviewer's answer,
// and Cohen's kappa. See testdata/labelled/README.md for how the set was
// made; nothing was tuned on it.
func TestEvalAutoQMAgreement(t *testing.T) {
	sc, set := loadLabelled(t)
	ev, err := NewEvaluator(DefaultEvaluatorConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	auto, human := map[string][]string{}, map[string][]string{}
	for _, e := range set {
		f := &Facts{Engagement: e.ID, Channel: e.Channel, Turns: e.Turns,
			Metrics: Compute(DefaultMetricsConfig(), MetricsInput{Channel: e.Channel, Turns: e.Turns, Final: true})}
		got := ev.Evaluate(context.Background(), sc, f, nil, time.Now())
		for _, a := range got.Answers {
			auto[a.Question] = append(auto[a.Question], a.Value)
			human[a.Question] = append(human[a.Question], e.Human[a.Question])
		}
	}
	var sumAgree float64
	t.Logf("%-14s %-10s %6s %6s", "question", "engine", "agree", "kappa")
	for _, q := range sc.Questions() {
		po, k, ok := Kappa(auto[q.ID], human[q.ID])
		ks := "n/a"
		if ok {
			ks = fmtKappa(k)
		}
		sumAgree += po
		t.Logf("%-14s %-10s %6.3f %6s", q.ID, q.Engine, po, ks)
	}
	t.Logf("mean agreement over %d questions, %d engagements: %.3f", len(sc.Questions()), len(set), sumAgree/float64(len(sc.Questions())))
}

func fmtKappa(k float64) string { return strconv.FormatFloat(k, 'f', 3, 64) }
