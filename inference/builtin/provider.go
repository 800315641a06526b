package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
	"github.com/prometheus/client_golang/prometheus"
)

// ProviderName is the Provenance.Provider of every built-in result.
const ProviderName = "builtin"

// Config holds the built-in models' few knobs.
type Config struct {
	// PositiveThreshold and NegativeThreshold split the lexicon model's
	// compound score (-1..1) into labels.
	PositiveThreshold float64 `json:"positive_threshold"`
	NegativeThreshold float64 `json:"negative_threshold"`
	// IntentThreshold is the confidence below which no intent is reported.
	IntentThreshold float64 `json:"intent_threshold"`
	// Seed makes training deterministic.
	Seed uint64 `json:"seed"`
	// TrainWorkers bounds training goroutines; 0 means all cores.
	TrainWorkers int `json:"train_workers"`
	// SummarySentences is the number of sentences an engagement summary keeps.
	SummarySentences int `json:"summary_sentences"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		PositiveThreshold: 0.5,
		NegativeThreshold: -0.05,
		IntentThreshold:   0.3,
		Seed:              1,
		SummarySentences:  3,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.PositiveThreshold <= c.NegativeThreshold:
		return fmt.Errorf("builtin: positive_threshold (%g) must exceed negative_threshold (%g)", c.PositiveThreshold, c.NegativeThreshold)
	case c.PositiveThreshold >= 1 || c.NegativeThreshold <= -1:
		return errors.New("builtin: sentiment thresholds must lie inside (-1, 1)")
	case c.IntentThreshold < 0 || c.IntentThreshold >= 1:
		return fmt.Errorf("builtin: intent_threshold must be in [0, 1), got %g", c.IntentThreshold)
	case c.TrainWorkers < 0:
		return fmt.Errorf("builtin: train_workers must not be negative, got %d", c.TrainWorkers)
	case c.SummarySentences < 1 || c.SummarySentences > 20:
		return fmt.Errorf("builtin: summary_sentences must be in 1..20, got %d", c.SummarySentences)
	}
	return nil
}

// Provider is the built-in provider. It implements the inference
// capability interfaces; it is safe for concurrent use, and its trainable
// models are replaced atomically while requests are being served.
type Provider struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics

	sentiment   atomic.Pointer[sentimentModel]
	intents     atomic.Pointer[intentModel]
	disposition atomic.Pointer[dispositionModel]
	matchers    matcherCache
}

var (
	_ inference.SentimentAnalyzer     = (*Provider)(nil)
	_ inference.IntentDetector        = (*Provider)(nil)
	_ inference.Summarizer            = (*Provider)(nil)
	_ inference.NoteWriter            = (*Provider)(nil)
	_ inference.TaskExtractor         = (*Provider)(nil)
	_ inference.DispositionClassifier = (*Provider)(nil)
	_ inference.KeywordExtractor      = (*Provider)(nil)
	_ inference.TopicDetector         = (*Provider)(nil)
)

// New returns a provider with the shipped models: the lexicon sentiment
// model, no intents (until trained) and a disposition model that matches
// codes by their names, descriptions and examples (until trained).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, logger: logger.With("component", "builtin"), metrics: m}
	sm, err := newLexiconSentiment()
	if err != nil {
		return nil, err
	}
	p.sentiment.Store(sm)
	p.intents.Store(&intentModel{})
	p.disposition.Store(&dispositionModel{})
	return p, nil
}

// trainText trains a linear text model, with metrics and a log line that
// names only the model and counts.
func (p *Provider) trainText(ctx context.Context, name string, ex []textclass.Example) (*textclass.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tc := textclass.DefaultTrainConfig()
	tc.Seed = p.cfg.Seed
	tc.Workers = p.cfg.TrainWorkers
	start := time.Now()
	m, err := textclass.TrainContext(ctx, tc, ex)
	if ctx.Err() != nil {
		p.metrics.trains.WithLabelValues(name, "cancelled").Inc()
		return nil, ctx.Err()
	}
	if err != nil {
		p.metrics.trains.WithLabelValues(name, "error").Inc()
		return nil, err
	}
	d := time.Since(start)
	p.metrics.trains.WithLabelValues(name, "ok").Inc()
	p.metrics.trainDur.WithLabelValues(name).Observe(d.Seconds())
	p.logger.Info("model trained", "model", name, "examples", len(ex), "labels", len(m.Labels), "duration", d)
	return m, nil
}
