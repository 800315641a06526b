package plugins

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	calls     *prometheus.CounterVec   // plugin, kind, result
	latency   *prometheus.HistogramVec // kind
	rejected  *prometheus.CounterVec   // plugin, reason
	restarts  *prometheus.CounterVec   // plugin
	handovers *prometheus.CounterVec   // plugin, kind

	landlockABI *prometheus.GaugeVec   // no labels: the kernel's Landlock ABI, 0 without Landlock
	unconfined  *prometheus.CounterVec // plugin, result (started, refused)
	leftovers   *prometheus.CounterVec // plugin
	knowledge   *prometheus.CounterVec // plugin, limit
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "calls_total",
			Help: "Plugin calls made, by plugin, kind and result (ok, error, timeout, transport).",
		}, []string{"plugin", "kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "call_duration_seconds",
			Help:    "Duration of plugin calls that reached the plugin, by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "calls_rejected_total",
			Help: "Plugin calls refused before reaching the plugin, by plugin and reason.",
		}, []string{"plugin", "reason"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "restarts_total",
			Help: "Plugin process (re)starts after a crash, hang or breaker trip, by plugin.",
		}, []string{"plugin"}),
		handovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "handovers_total",
			Help: "Audited hand-overs of customer content to plugins, by plugin and kind.",
		}, []string{"plugin", "kind"}),
		landlockABI: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "sandbox_landlock_abi",
			Help: "Landlock ABI version the kernel offers to confine plugins; 0 means plugins cannot be confined.",
		}, nil),
		unconfined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "unconfined_starts_total",
			Help: "Plugin starts without Landlock, by plugin and result (started: allowed by configuration; refused).",
		}, []string{"plugin", "result"}),
		leftovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "leftover_processes_killed_total",
			Help: "Processes a plugin started and left running that its sandbox ended, by plugin.",
		}, []string{"plugin"}),
		knowledge: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "plugins", Name: "knowledge_refused_total",
			Help: "Knowledge syncs cut short or articles refused at a configured limit, by plugin and limit.",
		}, []string{"plugin", "limit"}),
	}
	// A second host on the same registry (the store's keys plugin) shares
	// the first one's collectors: its series differ by plugin name.
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	if m.rejected, err = register(reg, m.rejected); err != nil {
		return nil, err
	}
	if m.restarts, err = register(reg, m.restarts); err != nil {
		return nil, err
	}
	if m.handovers, err = register(reg, m.handovers); err != nil {
		return nil, err
	}
	if m.landlockABI, err = register(reg, m.landlockABI); err != nil {
		return nil, err
	}
	if m.unconfined, err = register(reg, m.unconfined); err != nil {
		return nil, err
	}
	if m.leftovers, err = register(reg, m.leftovers); err != nil {
		return nil, err
	}
	if m.knowledge, err = register(reg, m.knowledge); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("plugins: register metrics: %w", err)
	}
	return c, nil
}
