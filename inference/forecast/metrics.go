package forecast

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	fits       *prometheus.CounterVec
	fitSeconds prometheus.Histogram
	importRows *prometheus.CounterVec
	backtests  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		fits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "forecast", Name: "fits_total",
			Help: "Model fits by kind (short, long) and result (ok, too_short, bad_input, bad_config, error).",
		}, []string{"kind", "result"}),
		fitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "forecast", Name: "fit_seconds",
			Help:    "Time to fit a short-term model.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		importRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "forecast", Name: "import_rows_total",
			Help: "CSV history rows by result (accepted, rejected). A file with any rejected row imports nothing.",
		}, []string{"result"}),
		backtests: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "forecast", Name: "backtests_total",
			Help: "Rolling-origin backtests run.",
		}),
	}
	for _, c := range []prometheus.Collector{m.fits, m.fitSeconds, m.importRows, m.backtests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("forecast: register metrics: %w", err)
		}
	}
	return m, nil
}

func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTooShort):
		return "too_short"
	case errors.Is(err, ErrBadInput):
		return "bad_input"
	case errors.Is(err, ErrBadConfig):
		return "bad_config"
	default:
		return "error"
	}
}
