package wfm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Service is the package's entry point for the daemon: the functions of
// this package with the site's default optimiser settings, metrics and
// logging (counts and IDs of queues only, never agents' names). It holds
// no mutable state and is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	m   *metrics
}

// New returns a Service. A nil logger discards; a nil registerer registers
// nowhere.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: logger.With("component", "wfm"), m: m}, nil
}

// Config returns the site's default optimiser settings.
func (s *Service) Config() Config { return s.cfg }

// Schedule makes a schedule (see Solve) with cfg, or the service's Config
// when cfg is nil.
func (s *Service) Schedule(ctx context.Context, p *Problem, cfg *Config) (*Schedule, error) {
	c := s.cfg
	if cfg != nil {
		c = *cfg
	}
	start := time.Now()
	sched, err := Solve(ctx, p, c)
	s.m.schedules.WithLabelValues(resultLabel(err)).Inc()
	if err != nil {
		return nil, err
	}
	s.m.scheduleSeconds.Observe(time.Since(start).Seconds())
	broken := 0
	for _, e := range sched.Explanations {
		if e.Rule == "min_hours" {
			broken++
		}
	}
	s.m.brokenRules.Add(float64(broken))
	s.log.Info("schedule made", "agents", len(p.Roster.Agents), "queues", len(p.Demand), "days", p.Period.Days,
		"shifts", len(sched.Shifts), "under", sched.Stats.Under, "over", sched.Stats.Over,
		"broken_rules", broken, "rounds", sched.Solver.Rounds, "stopped_by", sched.Solver.StoppedBy, "seconds", sched.Solver.Elapsed.D().Seconds())
	return sched, nil
}

// ImportRoster reads a roster CSV (see ReadRosterCSV) and counts accepted
// and rejected rows.
func (s *Service) ImportRoster(r io.Reader) (*Roster, error) {
	ros, err := ReadRosterCSV(r)
	if err != nil {
		bad := 0
		for _, e := range unwrapAll(err) {
			var re *RowError
			if errors.As(e, &re) {
				bad++
			}
		}
		s.m.rosterRows.WithLabelValues("rejected").Add(float64(max(bad, 1)))
		s.log.Warn("roster import rejected", "bad_rows", bad)
		return nil, err
	}
	s.m.rosterRows.WithLabelValues("accepted").Add(float64(len(ros.Agents)))
	return ros, nil
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Intraday plans the rest of now's day (see PlanIntraday).
func (s *Service) Intraday(p *Problem, sched *Schedule, now time.Time, opt IntradayOptions) (*Intraday, error) {
	in, err := PlanIntraday(p, sched, now, opt)
	s.m.intraday.WithLabelValues(resultLabel(err)).Inc()
	return in, err
}

// WhatIf answers a what-if question (see WhatIf).
func (s *Service) WhatIf(in WhatIfInput) (*WhatIfResult, error) {
	r, err := WhatIf(in)
	s.m.whatIf.WithLabelValues(resultLabel(err)).Inc()
	return r, err
}
