package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrWithdrawn is the cause of the context of a connection whose check
// failed or whose credentials expired. Its text is what a client may be
// told: it does not say why.
var ErrWithdrawn = errors.New("access withdrawn")

// Check reports whether a connection may go on: nil if so, else why not
// (for the log; the client is told ErrWithdrawn only). It runs on the
// goroutine that calls Changed or Run, must not block for long, and must
// be safe to call concurrently with the connection itself.
type Check func(ctx context.Context) error

// Config tunes a Registry.
type Config struct {
	// Sweep is how often Run re-checks every connection even when nobody
	// called Changed.
	Sweep time.Duration
	// CheckTimeout bounds one check.
	CheckTimeout time.Duration
}

// DefaultConfig returns the defaults: a sweep every 30 s, 5 s per check.
func DefaultConfig() Config {
	return Config{Sweep: 30 * time.Second, CheckTimeout: 5 * time.Second}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Sweep <= 0:
		return fmt.Errorf("guard: sweep must be positive, got %s", c.Sweep)
	case c.CheckTimeout <= 0:
		return fmt.Errorf("guard: check_timeout must be positive, got %s", c.CheckTimeout)
	}
	return nil
}

// Registry holds the checks of the open long-lived connections. Its
// methods are safe for concurrent use.
type Registry struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu sync.Mutex
	// +checklocks:mu
	holds map[uint64]*hold
	// +checklocks:mu
	next uint64
	// checking serialises full re-checks, so that two changes in a row do
	// not run every check twice at once.
	checking sync.Mutex
}

type hold struct {
	kind   string
	check  Check
	ctx    context.Context
	cancel context.CancelCauseFunc
	expiry *time.Timer
	once   sync.Once // withdrawal
}

// New returns an empty registry. A nil logger discards logs; a nil reg
// registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Registry{cfg: cfg, log: logger.With("component", "guard"), m: m, holds: map[uint64]*hold{}}, nil
}

// Hold registers a connection of the given kind (events, websocket, whip,
// upload, ...) with its check, and returns the context it must run under
// and a release function to call when it ends (idempotent). The context is
// cancelled, with cause ErrWithdrawn, when a re-check fails or at expires
// (the zero time: never); it also ends with parent.
func (r *Registry) Hold(parent context.Context, kind string, expires time.Time, check Check) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	h := &hold{kind: kind, check: check, ctx: ctx, cancel: cancel}
	r.mu.Lock()
	r.next++
	id := r.next
	r.holds[id] = h
	r.mu.Unlock()
	r.m.held.WithLabelValues(kind).Inc()
	if !expires.IsZero() {
		h.expiry = time.AfterFunc(time.Until(expires), func() { r.withdraw(h, errors.New("credentials expired")) })
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.holds, id)
			r.mu.Unlock()
			if h.expiry != nil {
				h.expiry.Stop()
			}
			r.m.held.WithLabelValues(kind).Dec()
			cancel(context.Canceled)
		})
	}
	return ctx, release
}

// withdraw cancels a connection's context once, counting it.
func (r *Registry) withdraw(h *hold, why error) {
	if h.ctx.Err() != nil {
		return // released or ended with its parent
	}
	h.once.Do(func() {
		h.cancel(ErrWithdrawn)
		r.m.withdrawn.WithLabelValues(h.kind).Inc()
		r.log.Info("connection withdrawn", "kind", h.kind, "why", why.Error())
	})
}

// Changed re-runs every connection's check now and withdraws those that
// fail; it returns when all have run. Call it after any change to who may
// do what.
func (r *Registry) Changed() {
	r.checking.Lock()
	defer r.checking.Unlock()
	r.mu.Lock()
	all := make([]*hold, 0, len(r.holds))
	for _, h := range r.holds {
		all = append(all, h)
	}
	r.mu.Unlock()
	r.m.rechecks.Inc()
	for _, h := range all {
		if h.ctx.Err() != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CheckTimeout)
		err := h.check(ctx)
		cancel()
		if err != nil {
			r.withdraw(h, err)
		}
	}
}

// Held is the number of connections registered now.
func (r *Registry) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.holds)
}

// Run re-checks every connection each Sweep until ctx is done.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Changed()
		}
	}
}

// Withdrawn reports whether ctx (a context returned by Hold, or one
// derived from it) ended because access was withdrawn.
func Withdrawn(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrWithdrawn)
}
