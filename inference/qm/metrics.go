package qm

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the evaluator's Prometheus figures.
type metrics struct {
	evaluations prometheus.Counter
	answers     *prometheus.CounterVec // engine
	llm         *prometheus.CounterVec // result: ok, fallback
	trained     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "qm"
	m := &metrics{
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evaluations_total",
			Help: "Scorecard evaluations computed automatically."}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "answers_total",
			Help: "Automatic scorecard answers by the engine that gave them."}, []string{"engine"}),
		llm: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "llm_answers_total",
			Help: "Language-model answers by result: ok, or fallback (error, schema or evidence check failed)."}, []string{"result"}),
		trained: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "classifiers_trained_total",
			Help: "Question classifiers built from scorecard examples (once per scorecard version and question)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.evaluations, m.answers, m.llm, m.trained} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("qm: register metrics: %w", err)
		}
	}
	return m, nil
}
