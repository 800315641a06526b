package qm

import (
	"slices"
)

// Agreement is the agreement of two raters on one question.
type Agreement struct {
	Question string  `json:"question"`
	Text     string  `json:"text"`
	Pairs    int     `json:"pairs"`
	Agree    float64 `json:"agreement"` // share of pairs that agree, 0..1
	// Kappa is Cohen's kappa; nil when undefined (no pairs, or both raters
	// always gave the same single answer).
	Kappa *float64 `json:"kappa"`
}

// CalibrationReport is the agreement per question between the automatic
// answers and the evaluators' final ones, and between evaluators.
type CalibrationReport struct {
	Scorecard         string      `json:"scorecard"`
	Evaluations       int         `json:"evaluations"`
	Reviewed          int         `json:"reviewed"`
	AutoVsHuman       []Agreement `json:"auto_vs_human"`
	BetweenEvaluators []Agreement `json:"between_evaluators"`
}

// Kappa returns the observed agreement and Cohen's kappa of two raters'
// labels (same length); ok is false when kappa is undefined.
func Kappa(a, b []string) (agree, kappa float64, ok bool) {
	n := len(a)
	if n == 0 || n != len(b) {
		return 0, 0, false
	}
	ca, cb := map[string]float64{}, map[string]float64{}
	var same float64
	for i := range a {
		if a[i] == b[i] {
			same++
		}
		ca[a[i]]++
		cb[b[i]]++
	}
	po := same / float64(n)
	var pe float64
	for k, x := range ca {
		pe += x / float64(n) * cb[k] / float64(n)
	}
	if pe >= 1 {
		return po, 0, false
	}
	return po, (po - pe) / (1 - pe), true
}

func agreement(q Question, a, b []string) Agreement {
	g := Agreement{Question: q.ID, Text: q.Text, Pairs: len(a)}
	if po, k, ok := Kappa(a, b); len(a) > 0 {
		g.Agree = po
		if ok {
			g.Kappa = &k
		}
	}
	return g
}

// Calibrate measures, per question of sc, how often the automatic answer
// matched the evaluator's final answer on reviewed questions, and how
// often evaluators agreed with each other on calibration answers (every
// pair of evaluators of an evaluation, the reviewer's final answers
// included).
func Calibrate(sc *Scorecard, evals []EvaluationSummary) CalibrationReport {
	r := CalibrationReport{Scorecard: sc.ID, AutoVsHuman: []Agreement{}, BetweenEvaluators: []Agreement{}}
	auto, human := map[string][]string{}, map[string][]string{}
	ra, rb := map[string][]string{}, map[string][]string{}
	for _, e := range evals {
		if e.Scorecard != sc.ID {
			continue
		}
		r.Evaluations++
		if len(e.Reviewed) > 0 {
			r.Reviewed++
		}
		for q := range e.Reviewed {
			if a := e.Auto[q]; a != "" && a != "-" {
				auto[q] = append(auto[q], a)
				human[q] = append(human[q], e.Answers[q])
			}
		}
		raters := slices.Clone(e.Calibrations)
		if len(e.Reviewed) > 0 {
			ans := map[string]string{}
			for q := range e.Reviewed {
				ans[q] = e.Answers[q]
			}
			raters = append(raters, Calibration{By: "reviewer", Answers: ans})
		}
		for i := range raters {
			for j := i + 1; j < len(raters); j++ {
				for q, va := range raters[i].Answers {
					if vb, ok := raters[j].Answers[q]; ok {
						ra[q] = append(ra[q], va)
						rb[q] = append(rb[q], vb)
					}
				}
			}
		}
	}
	for _, q := range sc.Questions() {
		r.AutoVsHuman = append(r.AutoVsHuman, agreement(q, auto[q.ID], human[q.ID]))
		r.BetweenEvaluators = append(r.BetweenEvaluators, agreement(q, ra[q.ID], rb[q.ID]))
	}
	return r
}
