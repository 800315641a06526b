package store

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	segments      prometheus.Counter
	engagements   prometheus.Counter
	rejected      *prometheus.CounterVec
	tampered      prometheus.Counter
	audit         prometheus.Counter
	purged        *prometheus.CounterVec
	swept         *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	batchSegments prometheus.Histogram
	keyFailures   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, dir string) (*metrics, error) {
	const ns, sub = "earshot", "store"
	m := &metrics{
		segments: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "segments_appended_total", Help: "Transcript segments committed."}),
		engagements: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "engagements_created_total", Help: "Engagements created."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "rejected_total", Help: "Writes refused as invalid, by record kind."}, []string{"kind"}),
		tampered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "integrity_failures_total", Help: "Sealed values or audit entries that failed their integrity check."}),
		audit: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audit_entries_total", Help: "Audit entries appended."}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "purged_total", Help: "Records purged, by kind (engagements, segments, results)."}, []string{"kind"}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "retention_removed_total", Help: "Records removed by retention, by kind."}, []string{"kind"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "segment_commit_seconds", Help: "Duration of group-commit transactions, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		batchSegments: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "segment_batch_size", Help: "Segments per group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		keyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "key_provider_failures_total", Help: "Key provider operations that failed, by operation (create, wrap, unwrap, destroy)."}, []string{"op"}),
	}
	for _, op := range []string{"create", "wrap", "unwrap", "destroy"} {
		m.keyFailures.WithLabelValues(op) // a series from the start, so that rate() sees the first failure
	}
	for _, c := range []prometheus.Collector{m.segments, m.engagements, m.rejected, m.tampered, m.audit,
		m.purged, m.swept, m.commitSeconds, m.batchSegments, m.keyFailures, newFileCollector(dir)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("store: register metrics: %w", err)
		}
	}
	return m, nil
}
