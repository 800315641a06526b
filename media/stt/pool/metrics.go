package pool

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests  *prometheus.CounterVec   // server, outcome
	latency   *prometheus.HistogramVec // server
	inFlight  *prometheus.GaugeVec     // server
	capacity  *prometheus.GaugeVec     // server
	up        *prometheus.GaugeVec     // server
	opened    *prometheus.CounterVec   // server
	health    *prometheus.CounterVec   // server, outcome
	skipped   *prometheus.CounterVec   // reason
	revisions *prometheus.CounterVec   // outcome
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "earshot", "stt_pool"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Utterances sent to Whisper-class servers, by server and outcome (ok, timeout, status, bad_response, error, cancelled)."},
			[]string{"server", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_seconds",
			Help: "Time a server took to answer an utterance.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}, []string{"server"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "in_flight",
			Help: "Requests in flight to each server."}, []string{"server"}),
		capacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "max_in_flight",
			Help: "Configured limit of requests in flight to each server."}, []string{"server"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "server_up",
			Help: "1 while a server is in the pool (circuit breaker closed), 0 while it is out."}, []string{"server"}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "breaker_opened_total",
			Help: "Times a server was taken out of the pool (failures or a failed health check)."}, []string{"server"}),
		health: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "health_checks_total",
			Help: "Health checks, by server and outcome (ok, fail)."}, []string{"server", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "skipped_total",
			Help: "Utterances not sent to a server, by reason (busy, open, local_only, too_short, too_long): the local final stands."},
			[]string{"reason"}),
		revisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "revisions_total",
			Help: "Outcomes of re-recognised utterances (replaced, unchanged, empty, failed, cancelled); all but replaced leave the local final standing."},
			[]string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inFlight, m.capacity, m.up, m.opened, m.health, m.skipped, m.revisions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("pool: register metrics: %w", err)
		}
	}
	return m, nil
}
