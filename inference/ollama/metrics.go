package ollama

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Fallback reasons, the values of the "reason" label.
const (
	reasonUnavailable = "unavailable"  // connection refused, reset, or a stream cut short
	reasonTimeout     = "timeout"      // the call's timeout expired
	reasonCircuitOpen = "circuit_open" // the breaker is open: no call was made
	reasonBusy        = "busy"         // no free slot within the timeout
	reasonSchema      = "schema"       // the reply failed its schema (or was cut short)
	reasonError       = "error"        // the server refused the request (e.g. unknown model)
)

// Request outcomes, the values of the "outcome" label.
const (
	outcomeOK       = "ok"
	outcomeFallback = "fallback"
	outcomeError    = "error"
	outcomeInvalid  = "invalid_input"
)

// The metrics are in subsystem "inference" (earshot_inference_ollama_...),
// next to the other providers' metrics, with names that cannot collide
// with theirs.
type metrics struct {
	requests  *prometheus.CounterVec   // feature, outcome
	failures  *prometheus.CounterVec   // feature, reason
	fallbacks *prometheus.CounterVec   // feature, reason
	duration  *prometheus.HistogramVec // feature
	breaker   prometheus.Gauge
	tokens    *prometheus.CounterVec // feature, kind
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "inference"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_requests_total",
			Help: "Calls to the Ollama provider by feature and outcome (ok, fallback, error, invalid_input).",
		}, []string{"feature", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_failures_total",
			Help: "Calls the Ollama server did not serve, by feature and reason, whether or not they fell back.",
		}, []string{"feature", "reason"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_fallbacks_total",
			Help: "Calls the Ollama provider handed to the built-in provider, by feature and reason.",
		}, []string{"feature", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_request_duration_seconds",
			Help:    "Duration of calls to the Ollama server that returned a reply, by feature.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80},
		}, []string{"feature"}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_circuit_open",
			Help: "1 while the circuit breaker in front of the Ollama server is open.",
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ollama_tokens_total",
			Help: "Tokens processed by the Ollama server, by feature and kind (prompt, reply).",
		}, []string{"feature", "kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.failures, m.fallbacks, m.duration, m.breaker, m.tokens} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ollama: register metrics: %w", err)
		}
	}
	return m, nil
}
