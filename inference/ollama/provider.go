package ollama

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
)

// ProviderName is the provider recorded in results' provenance.
const ProviderName = "ollama"

// Fallback holds the implementations the Provider hands a call to when the
// server cannot serve it, normally the built-in provider's. A nil field means
// no fallback for that capability: the call then fails with an error that
// wraps inference.ErrUnavailable.
//
// Embeddings have no fallback on purpose: vectors from another model live in
// another space, and mixing them would corrupt an index.
type Fallback struct {
	Summarizer            inference.Summarizer
	NoteWriter            inference.NoteWriter
	TaskExtractor         inference.TaskExtractor
	DispositionClassifier inference.DispositionClassifier
	KeywordExtractor      inference.KeywordExtractor
	Generator             inference.Generator
}

// FallbackFrom fills a Fallback with every capability that v implements,
// for a built-in provider that implements several of them.
func FallbackFrom(v any) Fallback {
	var fb Fallback
	fb.Summarizer, _ = v.(inference.Summarizer)
	fb.NoteWriter, _ = v.(inference.NoteWriter)
	fb.TaskExtractor, _ = v.(inference.TaskExtractor)
	fb.DispositionClassifier, _ = v.(inference.DispositionClassifier)
	fb.KeywordExtractor, _ = v.(inference.KeywordExtractor)
	fb.Generator, _ = v.(inference.Generator)
	return fb
}

// Provider serves the generative capabilities from an Ollama server, falling
// back to the built-in ones. It is safe for concurrent use.
type Provider struct {
	cfg     Config
	client  *api.Client
	http    *http.Transport
	log     *slog.Logger
	metrics *metrics
	breaker *breaker
	slots   chan struct{}
	fb      Fallback
}

// Interface guards.
var (
	_ inference.Summarizer            = (*Provider)(nil)
	_ inference.NoteWriter            = (*Provider)(nil)
	_ inference.TaskExtractor         = (*Provider)(nil)
	_ inference.DispositionClassifier = (*Provider)(nil)
	_ inference.KeywordExtractor      = (*Provider)(nil)
	_ inference.Generator             = (*Provider)(nil)
	_ inference.Embedder              = (*Provider)(nil)
	_ inference.NextStepWorder        = (*Provider)(nil)
	_ io.Closer                       = (*Provider)(nil)
)

// New returns a Provider for cfg. It does not contact the server: a server
// that is down when the daemon starts only means fallbacks until it is up.
// A nil logger discards logs; a nil reg registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, fb Fallback) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ollama: config: %w", err)
	}
	base, err := cfg.baseURL()
	if err != nil {
		return nil, fmt.Errorf("ollama: config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	// No client-wide timeout: every call carries its own deadline, and a
	// streamed reply may legitimately take longer than any fixed value.
	transport := &http.Transport{
		Proxy:               nil, // never route customer content through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.MaxInFlight,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	cfg.Models = maps.Clone(cfg.Models)
	return &Provider{
		cfg:     cfg,
		client:  api.NewClient(base, &http.Client{Transport: transport}),
		http:    transport,
		log:     logger.With("component", "inference.ollama"),
		metrics: m,
		breaker: newBreaker(cfg.FailureThreshold, cfg.RetryAfter, m.breaker),
		slots:   make(chan struct{}, cfg.MaxInFlight),
		fb:      fb,
	}, nil
}

// Serves reports whether the server is configured to serve feature f.
func (p *Provider) Serves(f Feature) bool {
	_, ok := p.cfg.Models[f]
	return ok
}

// Close releases idle connections to the server; calls in flight finish.
func (p *Provider) Close() error {
	p.http.CloseIdleConnections()
	return nil
}

// Check asks the server whether it is up and has every configured model. It
// is meant for start-up and status reports; calls do not need it.
func (p *Provider) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	list, err := p.client.List(ctx)
	if err != nil {
		return fmt.Errorf("ollama: check: %w: %w", inference.ErrUnavailable, err)
	}
	have := map[string]bool{}
	for _, m := range list.Models {
		have[m.Name], have[m.Model] = true, true
		if base, ok := strings.CutSuffix(m.Name, ":latest"); ok {
			have[base] = true
		}
	}
	var missing []string
	for _, f := range Features {
		if m, ok := p.cfg.Models[f]; ok && !have[m] {
			missing = append(missing, fmt.Sprintf("%s (%s)", m, f))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ollama: check: models not on the server: %s", strings.Join(missing, ", "))
	}
	return nil
}

// errors of the call plumbing
var (
	errCircuitOpen = errors.New("ollama: circuit open after repeated failures")
	errBusy        = errors.New("ollama: no free slot before the timeout")
	errStreamCut   = errors.New("ollama: reply ended before the server said it was done")
)

// session is one call admitted to the server: it holds a slot and the
// call's deadline until end is called.
type session struct {
	p       *Provider
	f       Feature
	model   string
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	release func()
	start   time.Time
	// detached is set by a call that hands the session to a goroutine
	// (a streamed reply), which then ends it and counts the outcome.
	detached bool
}

// begin admits a call to the server for feature f: it consults the breaker
// (running the health check when half-open), sets the feature's timeout and
// takes a slot. On failure it returns the fallback reason.
func (p *Provider) begin(ctx context.Context, f Feature) (*session, string, error) {
	ok, probe := p.breaker.allow()
	if !ok {
		return nil, reasonCircuitOpen, errCircuitOpen
	}
	timeout := p.cfg.timeout(f)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	if probe {
		hctx, hcancel := context.WithTimeout(cctx, min(2*time.Second, timeout))
		err := p.client.Heartbeat(hctx)
		hcancel()
		p.breaker.probed(err == nil)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			return nil, reasonCircuitOpen, fmt.Errorf("ollama: health check: %w", err)
		}
		p.log.Info("server answers again; circuit closed")
	}
	select {
	case p.slots <- struct{}{}:
	case <-cctx.Done():
		cancel()
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, reasonBusy, errBusy
	}
	return &session{
		p: p, f: f, model: p.cfg.Models[f], parent: ctx, ctx: cctx, cancel: cancel,
		release: func() { <-p.slots }, start: time.Now(),
	}, "", nil
}

// end releases the session and classifies err: it returns the fallback
// reason, or "" for success and for a call its caller abandoned.
func (s *session) end(err error) string {
	defer s.release()
	defer s.cancel()
	reason, down := classify(err)
	if s.parent.Err() != nil {
		return "" // the caller gave up; say nothing about the server
	}
	if down {
		if s.p.breaker.failure() {
			s.p.log.Warn("server failing; circuit open, calls fall back without trying it",
				"retry_after", s.p.cfg.RetryAfter.String(), "reason", reason)
		}
	} else {
		s.p.breaker.success()
		s.p.metrics.duration.WithLabelValues(string(s.f)).Observe(time.Since(s.start).Seconds())
	}
	return reason
}

// classify maps a call's error to a fallback reason, and tells whether it
// means the server is down or too slow (which feeds the breaker).
func classify(err error) (reason string, down bool) {
	var se api.StatusError
	var ne net.Error
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return reasonTimeout, true
	case errors.Is(err, ErrSchema):
		return reasonSchema, false
	case errors.As(err, &se):
		return reasonError, se.StatusCode >= 500
	case errors.Is(err, errStreamCut), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return reasonUnavailable, true
	default:
		// The client reports errors sent inside a stream as plain
		// strings: the server answered, so it is up.
		return reasonError, false
	}
}

// serve runs call on the server for feature f and falls back when it fails.
// fallback is nil when there is none.
func serve[T any](p *Provider, ctx context.Context, f Feature, call func(s *session) (T, error), fallback func() (T, error)) (T, error) {
	var zero T
	if !p.Serves(f) {
		if fallback == nil {
			return zero, fmt.Errorf("ollama: %s: no model configured and no fallback: %w", f, inference.ErrUnavailable)
		}
		return fallback()
	}
	s, reason, err := p.begin(ctx, f)
	if err == nil {
		var out T
		out, err = call(s)
		if err == nil && s.detached {
			return out, nil
		}
		reason = s.end(err)
		if err == nil {
			p.metrics.requests.WithLabelValues(string(f), outcomeOK).Inc()
			return out, nil
		}
	}
	if ctx.Err() != nil {
		p.metrics.requests.WithLabelValues(string(f), outcomeError).Inc()
		return zero, fmt.Errorf("ollama: %s: %w", f, ctx.Err())
	}
	return fallBack(p, f, reason, err, fallback)
}

// fallBack counts a failed call and runs its fallback, or returns an
// error wrapping inference.ErrUnavailable when there is none.
func fallBack[T any](p *Provider, f Feature, reason string, err error, fallback func() (T, error)) (T, error) {
	var zero T
	p.metrics.failures.WithLabelValues(string(f), reason).Inc()
	if fallback == nil {
		p.metrics.requests.WithLabelValues(string(f), outcomeError).Inc()
		return zero, fmt.Errorf("ollama: %s: %w: %w", f, inference.ErrUnavailable, err)
	}
	p.metrics.fallbacks.WithLabelValues(string(f), reason).Inc()
	level := slog.LevelWarn
	if reason == reasonCircuitOpen {
		level = slog.LevelDebug // one warning per outage is enough: the one that opened it
	}
	p.log.Log(context.Background(), level, "falling back to the built-in provider",
		"feature", string(f), "reason", reason, "err", err)
	p.metrics.requests.WithLabelValues(string(f), outcomeFallback).Inc()
	return fallback()
}

// invalid counts and returns a caller error.
func (p *Provider) invalid(f Feature, format string, a ...any) error {
	p.metrics.requests.WithLabelValues(string(f), outcomeInvalid).Inc()
	return fmt.Errorf("ollama: %s: %s", f, fmt.Sprintf(format, a...))
}

// options are the model options of one call; numPredict caps the reply.
func (p *Provider) options(numPredict int) map[string]any {
	o := map[string]any{
		"temperature": p.cfg.Temperature,
		"seed":        p.cfg.Seed,
		"num_predict": numPredict,
	}
	if p.cfg.NumCtx > 0 {
		o["num_ctx"] = p.cfg.NumCtx
	}
	if p.cfg.NumThread > 0 {
		o["num_thread"] = p.cfg.NumThread
	}
	return o
}

func (p *Provider) keepAlive() *api.Duration { return &api.Duration{Duration: p.cfg.KeepAlive} }

// chatJSON asks for a reply constrained by schema and returns it once it
// has passed the same schema here.
func (s *session) chatJSON(schema *Schema, system, user string) ([]byte, string, error) {
	format, err := schema.MarshalJSON()
	if err != nil {
		return nil, "", fmt.Errorf("ollama: encode schema: %w", err)
	}
	stream := false
	var reply strings.Builder
	var last api.ChatResponse
	done := false
	err = s.p.client.Chat(s.ctx, &api.ChatRequest{
		Model:     s.model,
		Messages:  []api.Message{{Role: "system", Content: system}, {Role: "user", Content: user}},
		Stream:    &stream,
		Format:    format,
		KeepAlive: s.p.keepAlive(),
		Options:   s.p.options(schema.maxReplyBytes()),
	}, func(r api.ChatResponse) error {
		reply.WriteString(r.Message.Content)
		if r.Done {
			done, last = true, r
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if !done {
		return nil, "", cutShort(s.ctx)
	}
	s.p.countTokens(s.f, last.Metrics)
	if last.DoneReason == "length" {
		return nil, "", fmt.Errorf("%w: reply cut short after %d tokens", ErrSchema, last.EvalCount)
	}
	out := []byte(reply.String())
	if err := schema.Validate(out); err != nil {
		return nil, "", err
	}
	model := last.Model
	if model == "" {
		model = s.model
	}
	return out, model, nil
}

// cutShort explains a reply that ended without the server's final message:
// the API client ends a stream quietly when reading fails, also when ctx
// ends, so the context's error takes precedence.
func cutShort(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errStreamCut
}

func (p *Provider) countTokens(f Feature, m api.Metrics) {
	p.metrics.tokens.WithLabelValues(string(f), "prompt").Add(float64(m.PromptEvalCount))
	p.metrics.tokens.WithLabelValues(string(f), "reply").Add(float64(m.EvalCount))
}

func provenance(model string) inference.Provenance {
	return inference.Provenance{Provider: ProviderName, Model: model}
}
