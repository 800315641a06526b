package kb

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	articles      prometheus.Gauge
	passages      prometheus.Gauge
	upserts       *prometheus.CounterVec // result: added, updated, unchanged, rejected
	deletes       prometheus.Counter
	queries       prometheus.Counter
	queryLatency  prometheus.Histogram
	embedFailures prometheus.Counter
	importItems   *prometheus.CounterVec // result: imported, unchanged, failed
	suggestions   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "kb"
	m := &metrics{
		articles: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "articles", Help: "Articles in the knowledge-base index."}),
		passages: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "passages", Help: "Live passages in the knowledge-base index."}),
		upserts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "upserts_total", Help: "Article upserts by result (added, updated, unchanged, rejected)."}, []string{"result"}),
		deletes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deletes_total", Help: "Articles deleted from the index."}),
		queries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "queries_total", Help: "Index searches."}),
		queryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "query_seconds", Help: "Lexical search latency.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .1}}),
		embedFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "embed_failures_total", Help: "Embedding calls that failed; ranking fell back to lexical."}),
		importItems: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "import_items_total", Help: "Imported items by result (imported, unchanged, failed)."}, []string{"result"}),
		suggestions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "suggestions_total", Help: "Live suggestions returned to engagements."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.articles, m.passages, m.upserts, m.deletes, m.queries,
		m.queryLatency, m.embedFailures, m.importItems, m.suggestions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("kb: register metrics: %w", err)
		}
	}
	return m, nil
}
