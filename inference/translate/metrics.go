package translate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	translations *prometheus.CounterVec   // engine, pair, outcome (translated, untranslated)
	latency      *prometheus.HistogramVec // engine, pair
	fallbacks    *prometheus.CounterVec   // engine (that failed), reason
	untranslated *prometheus.CounterVec   // reason
	pivots       *prometheus.CounterVec   // pair (the whole direction)
	badInput     *prometheus.CounterVec   // reason
	detections   *prometheus.CounterVec   // lang ("" as "unknown")
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "translate"
	m := &metrics{
		translations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "translations_total", Help: "Messages through the translator by engine, pair and outcome (translated, untranslated)."},
			[]string{"engine", "pair", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "translation_seconds", Help: "Time to translate one message, by engine and pair.",
			Buckets: []float64{.005, .01, .025, .05, .1, .15, .25, .5, 1, 2.5, 5, 10}}, []string{"engine", "pair"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "fallbacks_total", Help: "Messages an engine did not translate and handed to the fallback, by engine and reason."},
			[]string{"engine", "reason"}),
		untranslated: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "untranslated_total", Help: "Messages delivered untranslated, by reason."}, []string{"reason"}),
		pivots: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "pivots_total", Help: "Messages translated through a pivot language, by direction."}, []string{"pair"}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bad_input_total", Help: "Messages cleaned or refused before translation, by reason."}, []string{"reason"}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "detections_total", Help: "Language identifications by detected language (unknown when undetermined)."}, []string{"lang"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.translations, m.latency, m.fallbacks, m.untranslated, m.pivots,
		m.badInput, m.detections} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("translate: register metrics: %w", err)
		}
	}
	return m, nil
}

type apertiumMetrics struct {
	procs    prometheus.Gauge
	restarts *prometheus.CounterVec // pair
}

func newApertiumMetrics(reg prometheus.Registerer) (*apertiumMetrics, error) {
	const ns, sub = "earshot", "translate"
	m := &apertiumMetrics{
		procs: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "apertium_processes", Help: "Running Apertium pipelines."}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "apertium_restarts_total", Help: "Apertium pipelines that died or hung and were replaced, by direction."}, []string{"pair"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.procs, m.restarts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("translate: register metrics: %w", err)
		}
	}
	return m, nil
}
