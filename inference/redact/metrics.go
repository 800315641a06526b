package redact

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts redactions. One value serves every Redactor of a
// process (policies differ per account and queue; the counters do not).
type Metrics struct {
	entities *prometheus.CounterVec
	texts    *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the redaction metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		entities: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "redact", Name: "entities_total",
			Help: "Sensitive values redacted, by entity type and source.",
		}, []string{"type", "source"}),
		texts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "redact", Name: "texts_total",
			Help: "Texts (segments, messages, outputs) passed through redaction, by source.",
		}, []string{"source"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "redact", Name: "seconds",
			Help:    "Time to redact one text.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 2.5, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.entities, m.texts, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("redact: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(src Source, spans []Span, d time.Duration) {
	m.texts.WithLabelValues(string(src)).Inc()
	for _, s := range spans {
		if !s.Continues {
			m.entities.WithLabelValues(string(s.Type), string(src)).Inc()
		}
	}
	m.duration.Observe(d.Seconds())
}
