package guard

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	held      *prometheus.GaugeVec
	withdrawn *prometheus.CounterVec
	rechecks  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "guard", Name: "connections",
			Help: "Long-lived connections whose principal is re-checked on every change, by kind."}, []string{"kind"}),
		withdrawn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "guard", Name: "withdrawn_total",
			Help: "Long-lived connections ended because their principal no longer passed its check or its credentials expired, by kind."}, []string{"kind"}),
		rechecks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "guard", Name: "rechecks_total",
			Help: "Full re-checks of every connection (on a change or the periodic sweep)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.held, m.withdrawn, m.rechecks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("guard: register metrics: %w", err)
		}
	}
	return m, nil
}
