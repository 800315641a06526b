package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// recogniserPool is a recogniser that keeps warm recognisers made ahead
// in the background (PocketSphinx's warm) and counts the new streams
// that waited for one to be made.
type recogniserPool interface {
	DecoderPool() (made, failed, waited int64)
}

// recogniserPoolCounts exports a recogniserPool's counts.
type recogniserPoolCounts struct {
	c                    recogniserPool
	made, failed, waited *prometheus.Desc
}

func (r *recogniserPoolCounts) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.made
	ch <- r.failed
	ch <- r.waited
}

func (r *recogniserPoolCounts) Collect(ch chan<- prometheus.Metric) {
	m, f, w := r.c.DecoderPool()
	ch <- prometheus.MustNewConstMetric(r.made, prometheus.CounterValue, float64(m))
	ch <- prometheus.MustNewConstMetric(r.failed, prometheus.CounterValue, float64(f))
	ch <- prometheus.MustNewConstMetric(r.waited, prometheus.CounterValue, float64(w))
}

// registerRecogniserPool exports a recogniserPool's counts.
func registerRecogniserPool(reg prometheus.Registerer, c recogniserPool) error {
	r := &recogniserPoolCounts{c: c,
		made: prometheus.NewDesc("earshot_pipeline_recognisers_warmed_total",
			"Recognisers made in the background to keep the warm ones ready for new streams.", nil, nil),
		failed: prometheus.NewDesc("earshot_pipeline_recogniser_warm_failures_total",
			"Recognisers that could not be made in the background.", nil, nil),
		waited: prometheus.NewDesc("earshot_pipeline_recogniser_waits_total",
			"New streams (calls being answered) that waited seconds for a recogniser to be made: raise warm when it grows.", nil, nil),
	}
	if err := reg.Register(r); err != nil {
		return fmt.Errorf("pipeline: register metrics: %w", err)
	}
	return nil
}
