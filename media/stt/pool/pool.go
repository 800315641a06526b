package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/whisperhttp"
)

// ErrUnavailable is returned by Acquire when no server can take an
// utterance now; the wrapped text says why (busy, open, local_only).
var ErrUnavailable = errors.New("pool: no server available")

// Reasons an utterance is not sent, as counted in skipped_total.
const (
	reasonBusy      = "busy"       // every usable server is at its limit
	reasonOpen      = "open"       // every server's breaker is open
	reasonLocalOnly = "local_only" // only third-party servers, and local-models-only is on
)

type breaker int

const (
	closed breaker = iota
	open
)

// server is one member of the pool.
type server struct {
	cfg  ServerConfig
	name string
	c    *whisperhttp.Client
	max  int

	mu       sync.Mutex
	inFlight int       // +checklocks:mu
	failures int       // consecutive failures +checklocks:mu
	state    breaker   // +checklocks:mu
	openedAt time.Time // +checklocks:mu
	trial    bool      // a half-open trial request is in flight +checklocks:mu
}

// Pool is a set of Whisper-class servers. It is safe for concurrent use.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	servers []*server
	next    atomic.Uint64 // round-robin start among equals
	// localOnly reports whether third-party models are blocked (nil: never).
	localOnly atomic.Pointer[func() bool]
	now       func() time.Time
}

// New returns a pool of cfg.Servers. hc, when not nil, is the HTTP client
// for every server (its Timeout is left alone; each request is bounded
// by cfg.Timeout through its context). A nil logger discards; reg may be
// nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, hc *http.Client) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{}
	}
	p := &Pool{cfg: cfg, log: logger.With("component", "stt_pool"), m: m, now: time.Now}
	for _, sc := range cfg.Servers {
		c, err := whisperhttp.NewClient(whisperhttp.Config{URL: sc.URL, API: sc.API, Model: sc.Model, Language: cfg.Language, Timeout: cfg.Timeout}, hc)
		if err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		max := sc.MaxInFlight
		if max == 0 {
			max = 1
		}
		s := &server{cfg: sc, name: sc.name(), c: c, max: max}
		p.servers = append(p.servers, s)
		m.up.WithLabelValues(s.name).Set(1)
		m.inFlight.WithLabelValues(s.name).Set(0)
		m.capacity.WithLabelValues(s.name).Set(float64(max))
	}
	return p, nil
}

// SetLocalOnly installs the local-models-only switch: while it reports
// true, third-party servers are not used.
func (p *Pool) SetLocalOnly(f func() bool) { p.localOnly.Store(&f) }

// Capacity is the number of requests the pool may have in flight.
func (p *Pool) Capacity() int {
	n := 0
	for _, s := range p.servers {
		n += s.max
	}
	return n
}

// Lease is a reserved request slot on one server. Use it once with
// Transcribe, or give it back with Release.
type Lease struct {
	p     *Pool
	s     *server
	trial bool
	done  atomic.Bool
}

// Acquire reserves a slot on the usable server with the most room,
// without waiting. It returns ErrUnavailable (wrapped, counted) when no
// server can take a request now.
func (p *Pool) Acquire() (*Lease, error) {
	localOnly := false
	if f := p.localOnly.Load(); f != nil {
		localOnly = (*f)()
	}
	now := p.now()
	start := int(p.next.Add(1))
	var (
		best      *server
		bestTrial bool
		bestLoad  float64
		sawBusy   bool
		sawOpen   bool
		sawLocal  bool
	)
	for i := range p.servers {
		s := p.servers[(start+i)%len(p.servers)]
		if localOnly && s.cfg.ThirdParty {
			sawLocal = true
			continue
		}
		s.mu.Lock()
		usable, trial := false, false
		switch {
		case s.state == closed && s.inFlight < s.max:
			usable = true
		case s.state == closed:
			sawBusy = true
		case now.Sub(s.openedAt) >= p.cfg.OpenFor && !s.trial && s.inFlight < s.max:
			usable, trial = true, true // half-open: one trial request
		default:
			sawOpen = true
		}
		load := float64(s.inFlight) / float64(s.max)
		s.mu.Unlock()
		if usable && (best == nil || load < bestLoad) {
			best, bestTrial, bestLoad = s, trial, load
		}
	}
	if best != nil {
		best.mu.Lock()
		// Re-check under the lock: another Acquire may have taken the slot.
		ok := best.inFlight < best.max && (best.state == closed || (bestTrial && !best.trial))
		if ok {
			best.inFlight++
			if bestTrial {
				best.trial = true
			}
		}
		n := best.inFlight
		best.mu.Unlock()
		if ok {
			p.m.inFlight.WithLabelValues(best.name).Set(float64(n))
			return &Lease{p: p, s: best, trial: bestTrial}, nil
		}
		sawBusy = true
	}
	reason := reasonBusy
	switch {
	case sawBusy:
	case sawOpen:
		reason = reasonOpen
	case sawLocal:
		reason = reasonLocalOnly
	}
	p.m.skipped.WithLabelValues(reason).Inc()
	return nil, fmt.Errorf("%w: %s", ErrUnavailable, reason)
}

// Server names the leased server.
func (l *Lease) Server() string { return l.s.name }

// Release gives the slot back unused.
func (l *Lease) Release() {
	if l.done.Swap(true) {
		return
	}
	l.s.mu.Lock()
	l.s.inFlight--
	if l.trial {
		l.s.trial = false
	}
	n := l.s.inFlight
	l.s.mu.Unlock()
	l.p.m.inFlight.WithLabelValues(l.s.name).Set(float64(n))
}

// Transcribe sends one utterance (16 kHz mono PCM) to the leased server,
// bounded by the pool's timeout, records the outcome (metrics, circuit
// breaker) and releases the slot. Word times are relative to the
// utterance.
func (l *Lease) Transcribe(ctx context.Context, pcm []int16) (string, []stt.Word, error) {
	if l.done.Load() {
		return "", nil, errors.New("pool: lease already used")
	}
	p, s := l.p, l.s
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	t0 := p.now()
	text, words, err := s.c.Transcribe(ctx, pcm)
	p.m.latency.WithLabelValues(s.name).Observe(time.Since(t0).Seconds())
	outcome := outcomeOf(ctx, err)
	p.m.requests.WithLabelValues(s.name, outcome).Inc()
	switch outcome {
	case "ok":
		p.succeeded(s)
	case "cancelled":
		// The caller gave up (the engagement ended): says nothing of the server.
	default:
		p.failed(s, l.trial, outcome, err)
	}
	l.Release()
	return text, words, err
}

func outcomeOf(ctx context.Context, err error) string {
	var te interface{ Timeout() bool }
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()):
		return "timeout"
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return "cancelled"
	case errors.Is(err, whisperhttp.ErrStatus):
		return "status"
	case errors.Is(err, whisperhttp.ErrBadResponse):
		return "bad_response"
	}
	return "error"
}

func (p *Pool) succeeded(s *server) {
	s.mu.Lock()
	wasOpen := s.state == open
	s.failures, s.state = 0, closed
	s.mu.Unlock()
	if wasOpen {
		p.log.Info("whisper server back", "server", s.name)
		p.m.up.WithLabelValues(s.name).Set(1)
	}
}

func (p *Pool) failed(s *server, trial bool, outcome string, err error) {
	s.mu.Lock()
	s.failures++
	opened := false
	if (trial || s.failures >= p.cfg.FailureThreshold) && (s.state == closed || trial) {
		opened = s.state == closed
		s.state, s.openedAt = open, p.now()
	}
	failures := s.failures
	s.mu.Unlock()
	if opened {
		p.m.opened.WithLabelValues(s.name).Inc()
		p.m.up.WithLabelValues(s.name).Set(0)
		p.log.Warn("whisper server taken out of the pool", "server", s.name, "failures", failures, "last", outcome, "err", err)
	}
}

// Run checks every server's health each HealthInterval until ctx is done.
// A server that fails its check is taken out (breaker open) at once; one
// that passes after OpenFor is put back.
func (p *Pool) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.HealthInterval)
	defer t.Stop()
	for {
		p.CheckHealth(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CheckHealth runs one round of health checks, one server after another.
func (p *Pool) CheckHealth(ctx context.Context) {
	for _, s := range p.servers {
		cctx, cancel := context.WithTimeout(ctx, min(p.cfg.Timeout, p.cfg.HealthInterval))
		err := s.c.Health(cctx, p.cfg.HealthPath)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.m.health.WithLabelValues(s.name, "fail").Inc()
			s.mu.Lock()
			opened := s.state == closed
			if opened {
				s.state = open
			}
			if opened || !s.trial {
				s.openedAt = p.now()
			}
			s.mu.Unlock()
			if opened {
				p.m.opened.WithLabelValues(s.name).Inc()
				p.m.up.WithLabelValues(s.name).Set(0)
				p.log.Warn("whisper server failed its health check; taken out of the pool", "server", s.name, "err", err)
			}
			continue
		}
		p.m.health.WithLabelValues(s.name, "ok").Inc()
		s.mu.Lock()
		back := s.state == open && p.now().Sub(s.openedAt) >= p.cfg.OpenFor
		if back {
			s.state, s.failures = closed, 0
		}
		s.mu.Unlock()
		if back {
			p.m.up.WithLabelValues(s.name).Set(1)
			p.log.Info("whisper server passed its health check; back in the pool", "server", s.name)
		}
	}
}
