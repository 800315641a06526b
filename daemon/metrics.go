package daemon

import (
	"fmt"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version is the build's version, set with -ldflags at build time.
var Version = "dev"

type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	authFails *prometheus.CounterVec
	badInput  *prometheus.CounterVec
	panics    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "api", Name: "requests_total",
			Help: "API requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "API request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "api", Name: "auth_failures_total",
			Help: "Requests refused by authentication (reason: missing, malformed, unknown, revoked, expired, disabled) or authorisation (forbidden).",
		}, []string{"reason"}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "api", Name: "bad_requests_total",
			Help: "Requests refused for bad input, by route pattern.",
		}, []string{"route"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "api", Name: "panics_total",
			Help: "Handler panics recovered (answered 500), by route pattern; any is a bug.",
		}, []string{"route"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "earshot", Name: "build_info",
		Help: "Build information; the value is always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.authFails, m.badInput, m.panics, build} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register metrics: %w", err)
		}
	}
	return m, nil
}

// newRegistry returns the daemon's registry with the Go runtime and process
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
