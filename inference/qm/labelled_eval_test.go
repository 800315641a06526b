//go:build eval

package qm

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestEvalAutoQMAgreement reports, per question of the labelled set's
// scorecard, how often the built-in engines (rules and the classifier
// trained on the scorecard's examples) give the human reviewer's answer,
// and Cohen's kappa, on the reported part of the set (odd engagement
// numbers; see testdata/labelled/README.md for how the set was made and
// split). Nothing is tuned on this part.
func TestEvalAutoQMAgreement(t *testing.T) {
	evalAgreement(t, partReported)
}

// TestEvalAutoQMAgreementDev is the same on the development part (even
// engagement numbers), the only part engine changes are tried on. With
// EARSHOT_QM_DEV_VERBOSE=1 it prints every classifier answer that
// disagrees with the reviewer, with its justification.
func TestEvalAutoQMAgreementDev(t *testing.T) {
	evalAgreement(t, partDev)
}

func evalAgreement(t *testing.T, part string) {
	sc, all := loadLabelled(t)
	set := splitLabelled(t, all, part)
	ev, err := NewEvaluator(DefaultEvaluatorConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	verbose := os.Getenv("EARSHOT_QM_DEV_VERBOSE") != "" && part == partDev
	auto, human := map[string][]string{}, map[string][]string{}
	engines := map[string]string{}
	for _, e := range set {
		f := &Facts{Engagement: e.ID, Channel: e.Channel, Turns: e.Turns,
			Metrics: Compute(DefaultMetricsConfig(), MetricsInput{Channel: e.Channel, Turns: e.Turns, Final: true})}
		got := ev.Evaluate(context.Background(), sc, f, nil, time.Now())
		for _, a := range got.Answers {
			auto[a.Question] = append(auto[a.Question], a.Value)
			human[a.Question] = append(human[a.Question], e.Human[a.Question])
			if a.Engine == EngineClassifier {
				engines[a.Question] = EngineClassifier
			}
			if verbose && a.Engine == EngineClassifier && a.Value != e.Human[a.Question] {
				t.Logf("%s %s: auto %s, human %s: %s", e.ID, a.Question, a.Value, e.Human[a.Question], a.Justification)
			}
		}
	}
	var sumAgree float64
	t.Logf("%s part: %d engagements", part, len(set))
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
