package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	audioSeconds   *prometheus.CounterVec // source, codec
	packetsLost    *prometheus.CounterVec // source
	packetsLate    *prometheus.CounterVec // source
	gaps           *prometheus.CounterVec // source
	silenceSeconds *prometheus.CounterVec // source
	decodeErrors   *prometheus.CounterVec // source, codec
	refused        *prometheus.CounterVec // reason
	droppedSeconds *prometheus.CounterVec // source
	active         prometheus.Gauge
	backlog        prometheus.Gauge
	rtf            *prometheus.HistogramVec // engine
	finalLatency   *prometheus.HistogramVec // engine
	segments       *prometheus.CounterVec   // kind
	modeSwitches   *prometheus.CounterVec   // mode, by
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "pipeline"
	m := &metrics{
		audioSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audio_seconds_total", Help: "Seconds of audio received, by source and codec."}, []string{"source", "codec"}),
		packetsLost: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "packets_lost_total", Help: "RTP packets missing from the sequence."}, []string{"source"}),
		packetsLate: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "packets_late_total", Help: "RTP packets that arrived late or duplicated and were dropped."}, []string{"source"}),
		gaps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "gaps_concealed_total", Help: "Timestamp gaps filled with silence (no packet-loss concealment)."}, []string{"source"}),
		silenceSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "silence_inserted_seconds_total", Help: "Seconds of silence inserted for timestamp gaps."}, []string{"source"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "decode_errors_total", Help: "Payloads that failed to decode."}, []string{"source", "codec"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "engagements_refused_total", Help: "Engagements refused for lack of capacity, by reason."}, []string{"reason"}),
		droppedSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audio_overflow_seconds_total", Help: "Seconds of audio refused because a party queue was full."}, []string{"source"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "engagements_active", Help: "Live engagements admitted and not yet drained."}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "backlog_seconds_max", Help: "Largest queued-audio backlog of any party, seconds."}),
		rtf: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name:    "recognizer_real_time_factor",
			Help:    "Recogniser time divided by audio duration, per utterance; clock is wall or cpu (thread CPU time).",
			Buckets: []float64{0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4}}, []string{"engine", "clock"}),
		finalLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name:    "final_segment_latency_seconds",
			Help:    "From the arrival of the audio that ended an utterance to its final segment.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 1, 2, 5}}, []string{"engine"}),
		segments: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "segments_total", Help: "Transcript segments delivered, by kind (partial, final, revised)."}, []string{"kind"}),
		modeSwitches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "mode_switches_total", Help: "Recogniser mode switches (speech, digits, letters), by what asked (api, trigger)."}, []string{"mode", "by"}),
	}
	for _, c := range []prometheus.Collector{m.audioSeconds, m.packetsLost, m.packetsLate, m.gaps, m.silenceSeconds,
		m.decodeErrors, m.refused, m.droppedSeconds, m.active, m.backlog, m.rtf, m.finalLatency, m.segments, m.modeSwitches} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("pipeline: register metrics: %w", err)
		}
	}
	return m, nil
}

// cardContextReader is a recogniser that reads card numbers again as
// digits (PocketSphinx's card_context_digits and card_number_runs), by
// kind: "phrase" (the audio after a card phrase) and "run" (a run of
// number words).
type cardContextReader interface {
	CardReadings(kind string) (decoded, replaced int64)
}

// cardReadingKinds are the kinds a cardContextReader counts.
var cardReadingKinds = []string{"phrase", "run"}

// cardReadings exports a cardContextReader's counts, labelled by kind.
type cardReadings struct {
	c                 cardContextReader
	decoded, replaced *prometheus.Desc
}

func (r *cardReadings) Describe(ch chan<- *prometheus.Desc) { ch <- r.decoded; ch <- r.replaced }

func (r *cardReadings) Collect(ch chan<- prometheus.Metric) {
	for _, k := range cardReadingKinds {
		d, n := r.c.CardReadings(k)
		ch <- prometheus.MustNewConstMetric(r.decoded, prometheus.CounterValue, float64(d), k)
		ch <- prometheus.MustNewConstMetric(r.replaced, prometheus.CounterValue, float64(n), k)
	}
}

// registerCardContext exports a cardContextReader's counts.
func registerCardContext(reg prometheus.Registerer, c cardContextReader) error {
	const ns, sub = "earshot", "pipeline"
	r := &cardReadings{c: c,
		decoded: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "card_context_readings_total"),
			"Stretches of audio after a card phrase (kind=phrase) or under a run of number words (kind=run) decoded again as digits.",
			[]string{"kind"}, nil),
		replaced: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "card_context_replaced_total"),
			"Digit readings after a card phrase (kind=phrase) or of a run of number words (kind=run) put in place of the language model's words.",
			[]string{"kind"}, nil),
	}
	if err := reg.Register(r); err != nil {
		return fmt.Errorf("pipeline: register metrics: %w", err)
	}
	return nil
}
