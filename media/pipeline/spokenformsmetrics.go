package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// spokenFormsReader is a recogniser that reads utterances of details
// read out again with a spoken-forms prior (PocketSphinx's
// spoken_forms_mode reread or region) and counts them.
type spokenFormsReader interface {
	SpokenFormsReadings() (decoded, changed int64)
}

// spokenFormsReadings exports a spokenFormsReader's counts.
type spokenFormsReadings struct {
	c                spokenFormsReader
	decoded, changed *prometheus.Desc
}

func (r *spokenFormsReadings) Describe(ch chan<- *prometheus.Desc) { ch <- r.decoded; ch <- r.changed }

func (r *spokenFormsReadings) Collect(ch chan<- prometheus.Metric) {
	d, n := r.c.SpokenFormsReadings()
	ch <- prometheus.MustNewConstMetric(r.decoded, prometheus.CounterValue, float64(d))
	ch <- prometheus.MustNewConstMetric(r.changed, prometheus.CounterValue, float64(n))
}

// registerSpokenForms exports a spokenFormsReader's counts.
func registerSpokenForms(reg prometheus.Registerer, c spokenFormsReader) error {
	r := &spokenFormsReadings{c: c,
		decoded: prometheus.NewDesc("earshot_pipeline_spoken_forms_readings_total",
			"Utterances with number words or spelled letters decoded again with the spoken-forms prior.", nil, nil),
		changed: prometheus.NewDesc("earshot_pipeline_spoken_forms_changed_total",
			"Utterances decoded again with the spoken-forms prior whose words the second reading changed.", nil, nil),
	}
	if err := reg.Register(r); err != nil {
		return fmt.Errorf("pipeline: register metrics: %w", err)
	}
	return nil
}
