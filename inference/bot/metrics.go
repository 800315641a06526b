package bot

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runtime's Prometheus metrics, shared by every engine.
type Metrics struct {
	sessions   *prometheus.CounterVec
	turns      *prometheus.CounterVec
	latency    prometheus.Histogram
	fallbacks  *prometheus.CounterVec
	handovers  *prometheus.CounterVec
	outcomes   *prometheus.CounterVec
	skillCalls *prometheus.CounterVec
	agentic    *prometheus.CounterVec
}

// NewMetrics registers the runtime's metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessions, m.turns, m.latency, m.fallbacks, m.handovers, m.outcomes, m.skillCalls, m.agentic} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("bot: register metrics: %w", err)
		}
	}
	return m, nil
}

func nopMetrics() *Metrics { return newMetrics() }

func newMetrics() *Metrics {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "earshot", Subsystem: "bot", Name: name, Help: help}
	}
	return &Metrics{
		sessions: prometheus.NewCounterVec(opts("sessions_total", "Conversations started, by bot."), []string{"bot"}),
		turns:    prometheus.NewCounterVec(opts("turns_total", "Customer messages the bots answered, by bot."), []string{"bot"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "bot", Name: "turn_seconds",
			Help:    "Time a bot takes to answer a message, excluding skills, the knowledge base and the model.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1}}),
		fallbacks:  prometheus.NewCounterVec(opts("fallbacks_total", "Messages a bot did not understand, by bot."), []string{"bot"}),
		handovers:  prometheus.NewCounterVec(opts("handovers_total", "Conversations handed over to a human queue, by bot and reason."), []string{"bot", "reason"}),
		outcomes:   prometheus.NewCounterVec(opts("conversations_total", "Conversations finished, by bot and outcome (ended, handover, abandoned)."), []string{"bot", "outcome"}),
		skillCalls: prometheus.NewCounterVec(opts("skill_calls_total", "Skill calls of the bots, by bot and result (ok, error, timeout)."), []string{"bot", "result"}),
		agentic: prometheus.NewCounterVec(opts("agentic_decisions_total",
			"Decisions asked of the local model, by bot and outcome (accepted, or the built-in runtime's takeover reason)."), []string{"bot", "outcome"}),
	}
}
