package forecast

import (
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Service is the package's entry point for the daemon: the functions of this
// package with the site's default Config, metrics and logging (queue names
// and counts only, never content). It holds no mutable state and is safe for
// concurrent use.
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
	return &Service{cfg: cfg, log: logger.With("component", "forecast"), m: m}, nil
}

// Config returns the site's default model settings.
func (s *Service) Config() Config { return s.cfg }

// ImportCSV reads history (see ReadCSV) and counts accepted and rejected rows.
func (s *Service) ImportCSV(r io.Reader, opt ImportOptions) (map[string]*Series, ImportReport, error) {
	set, rep, err := ReadCSV(r, opt)
	if err != nil {
		s.m.importRows.WithLabelValues("rejected").Add(float64(max(rep.BadRows, 1)))
		s.log.Warn("history import rejected", "rows", rep.Rows, "bad_rows", rep.BadRows)
		return nil, rep, err
	}
	s.m.importRows.WithLabelValues("accepted").Add(float64(rep.Rows))
	s.log.Info("history imported", "rows", rep.Rows, "queues", rep.Queues, "intervals", rep.Points)
	return set, rep, nil
}

// Fit fits the short-term model with cfg, or the service's Config when cfg
// is nil.
func (s *Service) Fit(series *Series, cfg *Config) (*Model, error) {
	c := s.cfg
	if cfg != nil {
		c = *cfg
	}
	m, err := Fit(series, c)
	s.m.fits.WithLabelValues("short", resultLabel(err)).Inc()
	if err != nil {
		return nil, err
	}
	s.m.fitSeconds.Observe(m.FitDuration.Seconds())
	s.log.Debug("model fitted", "queue", m.Queue, "version", m.Version, "seconds", m.FitDuration.Seconds())
	return m, nil
}

// LongTerm runs the monthly forecast (see LongTerm) with the service's
// Config when cfg is nil.
func (s *Service) LongTerm(series *Series, cfg *Config, lt LongTermConfig) (*LongTermForecast, error) {
	c := s.cfg
	if cfg != nil {
		c = *cfg
	}
	f, err := LongTerm(series, c, lt)
	s.m.fits.WithLabelValues("long", resultLabel(err)).Inc()
	return f, err
}

// Backtest runs a rolling-origin backtest (see Backtest) with the service's
// Config when cfg is nil.
func (s *Service) Backtest(series *Series, cfg *Config, bt BacktestConfig) (*BacktestResult, error) {
	c := s.cfg
	if cfg != nil {
		c = *cfg
	}
	s.m.backtests.Inc()
	return Backtest(series, c, bt)
}
