package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// warpCounter is a recogniser that chooses a frequency warp per stream
// (PocketSphinx's warp_selection) and counts the streams by the warp
// chosen.
type warpCounter interface {
	WarpStreams() map[string]int64
}

// warpStreams exports a warpCounter's counts, labelled by warp.
type warpStreams struct {
	c    warpCounter
	desc *prometheus.Desc
}

func (w *warpStreams) Describe(ch chan<- *prometheus.Desc) { ch <- w.desc }

func (w *warpStreams) Collect(ch chan<- prometheus.Metric) {
	for warp, n := range w.c.WarpStreams() {
		ch <- prometheus.MustNewConstMetric(w.desc, prometheus.CounterValue, float64(n), warp)
	}
}

// registerWarps exports a warpCounter's counts.
func registerWarps(reg prometheus.Registerer, c warpCounter) error {
	w := &warpStreams{c: c, desc: prometheus.NewDesc("earshot_pipeline_warp_streams_total",
		"Wideband recogniser streams by the frequency warp chosen on their first utterance (1: none).", []string{"warp"}, nil)}
	if err := reg.Register(w); err != nil {
		return fmt.Errorf("pipeline: register metrics: %w", err)
	}
	return nil
}
