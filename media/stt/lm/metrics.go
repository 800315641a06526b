package lm

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	builds  *prometheus.CounterVec
	seconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "lm", Name: "builds_total",
			Help: "Domain language model builds, by outcome (ok, empty, error)."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "lm", Name: "build_seconds",
			Help: "Time to build a domain language model.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 10)}),
	}
	for _, c := range []prometheus.Collector{m.builds, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("lm: register metrics: %w", err)
		}
	}
	return m, nil
}
