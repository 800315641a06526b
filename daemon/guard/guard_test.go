package guard

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestRegistry(t *testing.T, cfg Config) (*Registry, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

// done waits up to a second for ctx to end.
func done(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(time.Second):
		return false
	}
}

func TestChangedWithdrawsWhatNoLongerPasses(t *testing.T) {
	r, _ := newTestRegistry(t, DefaultConfig())
	var allowA, allowB atomic.Bool
	allowA.Store(true)
	allowB.Store(true)
	check := func(b *atomic.Bool) Check {
		return func(context.Context) error {
			if b.Load() {
				return nil
			}
			return errors.New("revoked")
		}
	}
	a, releaseA := r.Hold(context.Background(), "events", time.Time{}, check(&allowA))
	defer releaseA()
	b, releaseB := r.Hold(context.Background(), "websocket", time.Time{}, check(&allowB))
	defer releaseB()
	r.Changed()
	if a.Err() != nil || b.Err() != nil {
		t.Fatal("a passing check withdrew a connection")
	}
	allowB.Store(false)
	r.Changed()
	if !done(b) || !Withdrawn(b) {
		t.Fatalf("b after a failed check: err %v, cause %v; want withdrawn", b.Err(), context.Cause(b))
	}
	if a.Err() != nil {
		t.Error("a was withdrawn by b's failure")
	}
	if n := testutil.ToFloat64(r.m.withdrawn.WithLabelValues("websocket")); n != 1 {
		t.Errorf("withdrawn{websocket} = %v, want 1", n)
	}
	// Withdrawn once, however often the check fails again.
	r.Changed()
	if n := testutil.ToFloat64(r.m.withdrawn.WithLabelValues("websocket")); n != 1 {
		t.Errorf("withdrawn{websocket} after a second change = %v, want 1", n)
	}
	releaseB()
	if r.Held() != 1 || testutil.ToFloat64(r.m.held.WithLabelValues("websocket")) != 0 {
		t.Errorf("after release: %d held, gauge %v; want 1 and 0", r.Held(), testutil.ToFloat64(r.m.held.WithLabelValues("websocket")))
	}
}

func TestExpiryAndRelease(t *testing.T) {
	r, _ := newTestRegistry(t, DefaultConfig())
	ok := func(context.Context) error { return nil }
	ctx, release := r.Hold(context.Background(), "whip", time.Now().Add(50*time.Millisecond), ok)
	defer release()
	if !done(ctx) || !Withdrawn(ctx) {
		t.Fatalf("a connection past its credentials' expiry: err %v, cause %v; want withdrawn", ctx.Err(), context.Cause(ctx))
	}
	ctx2, release2 := r.Hold(context.Background(), "whip", time.Now().Add(time.Hour), ok)
	release2()
	release2() // idempotent
	if !done(ctx2) || Withdrawn(ctx2) {
		t.Errorf("a released connection: err %v, cause %v; want cancelled, not withdrawn", ctx2.Err(), context.Cause(ctx2))
	}
	parent, cancel := context.WithCancel(context.Background())
	ctx3, release3 := r.Hold(parent, "events", time.Time{}, ok)
	defer release3()
	cancel()
	if !done(ctx3) || Withdrawn(ctx3) {
		t.Errorf("a connection whose parent ended: cause %v; want not withdrawn", context.Cause(ctx3))
	}
}

func TestSweepCatchesUnannouncedChanges(t *testing.T) {
	r, _ := newTestRegistry(t, Config{Sweep: 20 * time.Millisecond, CheckTimeout: time.Second})
	var allow atomic.Bool
	allow.Store(true)
	ctx, release := r.Hold(context.Background(), "events", time.Time{}, func(context.Context) error {
		if allow.Load() {
			return nil
		}
		return errors.New("disabled")
	})
	defer release()
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go r.Run(runCtx)
	allow.Store(false)
	if !done(ctx) || !Withdrawn(ctx) {
		t.Fatal("the sweep did not withdraw a connection whose check fails")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Sweep: 0, CheckTimeout: time.Second}, {Sweep: time.Second}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}
