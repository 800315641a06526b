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
				quote := ""
				if len(a.Evidence) > 0 {
					quote = e.Turns[a.Evidence[0].Seq].Text
				}
				t.Logf("%s %s: auto %s, human %s: %s [%s]", e.ID, a.Question, a.Value, e.Human[a.Question], a.Justification, quote)
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

// TestEvalAutoQMClassifierDevSweep prints the classifier questions'
// agreement and kappa on the development part for a small grid of
// classifier settings: how defaultMatchConfig was chosen.
func TestEvalAutoQMClassifierDevSweep(t *testing.T) {
	sc, all := loadLabelled(t)
	set := splitLabelled(t, all, partDev)
	for _, v := range []struct{ others, mood bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		for _, cw := range []float64{0.5, 1} {
			for _, th := range []float64{0.1, 0.2, 0.3, 0.4} {
				ev, err := NewEvaluator(DefaultEvaluatorConfig(), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				ev.match.CharWeight, ev.match.Threshold = cw, th
				ev.match.Others, ev.match.Mood = v.others, v.mood
				auto, human := map[string][]string{}, map[string][]string{}
				for _, e := range set {
					f := &Facts{Engagement: e.ID, Channel: e.Channel, Turns: e.Turns}
					for _, q := range sc.Questions() {
						if q.Engine != EngineClassifier {
							continue
						}
						a := ev.classifierAnswer(sc, q, f)
						auto[q.ID] = append(auto[q.ID], a.Value)
						human[q.ID] = append(human[q.ID], e.Human[q.ID])
					}
				}
				line := ""
				for _, q := range []string{"empathy", "resolution"} {
					po, k, _ := Kappa(auto[q], human[q])
					line += " " + q + " " + strconv.FormatFloat(po, 'f', 3, 64) + "/" + fmtKappa(k)
				}
				t.Logf("others %v mood %v char weight %.1f threshold %.1f:%s", v.others, v.mood, cw, th, line)
			}
		}
	}
}
