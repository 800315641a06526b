package builtin

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	calls    *prometheus.CounterVec
	badInput *prometheus.CounterVec
	trains   *prometheus.CounterVec
	trainDur *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "builtin", Name: "calls_total",
			Help: "Calls to built-in models, by capability.",
		}, []string{"capability"}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "builtin", Name: "bad_input_total",
			Help: "Requests or training data rejected as invalid, by kind.",
		}, []string{"kind"}),
		trains: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "builtin", Name: "trainings_total",
			Help: "Model trainings, by model and result.",
		}, []string{"model", "result"}),
		trainDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "builtin", Name: "training_seconds",
			Help:    "Time to train a built-in model.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}, []string{"model"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.badInput, m.trains, m.trainDur} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("builtin: register metrics: %w", err)
		}
	}
	return m, nil
}
