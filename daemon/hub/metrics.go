package hub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	live       prometheus.Gauge
	started    *prometheus.CounterVec
	refused    *prometheus.CounterVec
	ended      *prometheus.CounterVec
	events     *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	storeDelay prometheus.Histogram
	revised    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		live: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "engagements", Name: "live",
			Help: "Live engagements held by the hub."}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "started_total",
			Help: "Engagements started, by source."}, []string{"source"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "refused_total",
			Help: "Engagements refused, by reason (capacity, invalid, store)."}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "ended_total",
			Help: "Engagements ended, by reason."}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "events_total",
			Help: "Events published on engagement streams, by type."}, []string{"type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "inputs_dropped_total",
			Help: "Inputs dropped because an engagement's inbox was full, by kind (partial, final)."}, []string{"kind"}),
		revised: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "segments_revised_total",
			Help: "Final segments published again because redaction found a number completed by the next segment."}),
		storeDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "engagements", Name: "segment_commit_seconds",
			Help: "Time from a final segment reaching the hub to its group commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.live, m.started, m.refused, m.ended, m.events, m.dropped, m.storeDelay, m.revised} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("hub: register metrics: %w", err)
		}
	}
	return m, nil
}
