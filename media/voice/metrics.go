package voice

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bot calls' Prometheus metrics, shared by every
// conversation.
type Metrics struct {
	calls     *prometheus.CounterVec
	turns     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	bargeIns  *prometheus.CounterVec
	dtmf      *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	noInputs  *prometheus.CounterVec
	handovers *prometheus.CounterVec
	transfers *prometheus.CounterVec
	ttsErrors *prometheus.CounterVec
	early     *prometheus.CounterVec
	refused   *prometheus.CounterVec
	warmups   *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.turns, m.latency, m.bargeIns, m.dtmf, m.dropped, m.noInputs, m.handovers, m.transfers, m.ttsErrors, m.early, m.refused, m.warmups} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("voice: register metrics: %w", err)
		}
	}
	return m, nil
}

func newMetrics() *Metrics {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "earshot", Subsystem: "voicebot", Name: name, Help: help}
	}
	src := []string{"source"}
	return &Metrics{
		calls: prometheus.NewCounterVec(opts("calls_total", "Bot calls answered, by source (sip, twilio, webrtc)."), src),
		turns: prometheus.NewCounterVec(opts("turns_total", "Caller turns the bots answered, by source and kind (speech, digits, no_input)."), []string{"source", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "voicebot", Name: "turn_latency_seconds",
			Help:    "From the end of the caller's speech to the bot's first audio packet (end-of-turn silence included), by source.",
			Buckets: []float64{.1, .2, .3, .4, .5, .6, .8, 1, 1.25, 1.5, 2, 3, 5}}, src),
		bargeIns:  prometheus.NewCounterVec(opts("barge_ins_total", "Prompts the caller interrupted, by source."), src),
		dtmf:      prometheus.NewCounterVec(opts("dtmf_total", "DTMF digits received, by source."), src),
		dropped:   prometheus.NewCounterVec(opts("inputs_dropped_total", "Caller inputs dropped because a conversation's queue was full (floods), by source."), src),
		noInputs:  prometheus.NewCounterVec(opts("no_input_total", "No-input timeouts, by source."), src),
		handovers: prometheus.NewCounterVec(opts("handovers_total", "Bot calls handed over, by source and reason."), []string{"source", "reason"}),
		transfers: prometheus.NewCounterVec(opts("transfers_total", "Transfers of handed-over calls, by source and result (accepted, refused, unsupported)."), []string{"source", "result"}),
		ttsErrors: prometheus.NewCounterVec(opts("tts_errors_total", "Prompts the synthesiser failed, by engine."), []string{"engine"}),
		early:     prometheus.NewCounterVec(opts("early_answers_total", "Caller turns answered with what the bot decided on a partial hypothesis, by source."), src),
		refused:   prometheus.NewCounterVec(opts("calls_refused_total", "Bot calls refused before the runtime started, by source and reason (max_calls)."), []string{"source", "reason"}),
		warmups:   prometheus.NewCounterVec(opts("warmups_total", "Bots made ready for calls ahead of them (intent model, voice, fixed prompts' speech), by result (ok, failed)."), []string{"result"}),
	}
}

// BargeIns returns the barge-in counter (for tests and benchmarks).
func (m *Metrics) BargeIns(source string) prometheus.Collector {
	return m.bargeIns.WithLabelValues(source)
}

// Latency returns the turn latency histogram (for tests and benchmarks).
func (m *Metrics) Latency() *prometheus.HistogramVec { return m.latency }

// Dropped returns the dropped-inputs counter of a source.
func (m *Metrics) Dropped(source string) prometheus.Collector {
	return m.dropped.WithLabelValues(source)
}

// Early returns the early-answers counter of a source.
func (m *Metrics) Early(source string) prometheus.Collector {
	return m.early.WithLabelValues(source)
}

// Refused counts a bot call refused by its opener, with why.
func (m *Metrics) Refused(source, reason string) {
	m.refused.WithLabelValues(source, reason).Inc()
}

// Warmed counts a bot made ready for calls (ok) or not (failed).
func (m *Metrics) Warmed(ok bool) {
	r := "ok"
	if !ok {
		r = "failed"
	}
	m.warmups.WithLabelValues(r).Inc()
}
