package wfm

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	schedules       *prometheus.CounterVec
	scheduleSeconds prometheus.Histogram
	brokenRules     prometheus.Counter
	rosterRows      *prometheus.CounterVec
	intraday        *prometheus.CounterVec
	whatIf          *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		schedules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "schedules_total",
			Help: "Schedules made, by result (ok, bad_input, canceled, error).",
		}, []string{"result"}),
		scheduleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "schedule_seconds",
			Help:    "Time to make a schedule.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 9),
		}),
		brokenRules: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "unavoidable_violations_total",
			Help: "Hard rules broken in schedules made because no schedule could keep them (each explained in the schedule).",
		}),
		rosterRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "roster_rows_total",
			Help: "Roster CSV rows by result (accepted, rejected). A file with any rejected row imports nothing.",
		}, []string{"result"}),
		intraday: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "intraday_plans_total",
			Help: "Intraday gap and adjustment plans, by result.",
		}, []string{"result"}),
		whatIf: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "wfm", Name: "what_if_total",
			Help: "What-if staffing questions answered, by result.",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.schedules, m.scheduleSeconds, m.brokenRules, m.rosterRows, m.intraday, m.whatIf} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("wfm: register metrics: %w", err)
		}
	}
	return m, nil
}

func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrBadInput):
		return "bad_input"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "error"
	}
}
