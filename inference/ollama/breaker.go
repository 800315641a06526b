package ollama

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// breaker is a circuit breaker in front of the server. After threshold
// consecutive failures (connection errors, timeouts) it opens: calls fall
// back at once instead of each waiting for its own timeout. After retryAfter
// one caller is let through to run a health check (half-open); success
// closes the breaker, failure opens it for another retryAfter.
type breaker struct {
	threshold  int
	retryAfter time.Duration
	now        func() time.Time
	gauge      prometheus.Gauge

	mu sync.Mutex
	// +checklocks:mu
	failures int
	// +checklocks:mu
	openUntil time.Time // zero while closed
	// +checklocks:mu
	probing bool
}

func newBreaker(threshold int, retryAfter time.Duration, gauge prometheus.Gauge) *breaker {
	return &breaker{threshold: threshold, retryAfter: retryAfter, now: time.Now, gauge: gauge}
}

// allow reports whether a call may go to the server; probe means that the
// caller must first run a health check and report it with probed.
func (b *breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true, false
	case b.probing || b.now().Before(b.openUntil):
		return false, false
	default:
		b.probing = true
		return true, true
	}
}

// probed reports the result of the health check that allow asked for.
func (b *breaker) probed(healthy bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if healthy {
		// Closed, but on probation: a server that answers health checks
		// yet fails calls (a stuck model runner) reopens the breaker at
		// its next failure instead of costing threshold more timeouts.
		b.closeLocked()
		b.failures = b.threshold - 1
	} else {
		b.openUntil = b.now().Add(b.retryAfter)
	}
}

// success records a call that reached a working server.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked()
}

// failure records a call that found the server down or too slow; opened
// tells whether it opened the breaker.
func (b *breaker) failure() (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.failures >= b.threshold {
		if b.openUntil.IsZero() {
			b.gauge.Set(1)
			opened = true
		}
		b.openUntil = b.now().Add(b.retryAfter)
	}
	return opened
}

// open reports whether the breaker is open (or half-open).
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero()
}

// +checklocks:b.mu
func (b *breaker) closeLocked() {
	b.failures = 0
	if !b.openUntil.IsZero() {
		b.gauge.Set(0)
	}
	b.openUntil = time.Time{}
}
