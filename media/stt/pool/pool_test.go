package pool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/stt/whisperhttp/whispertest"
)

// The Whisper-class servers in these tests are stand-ins (whispertest):
// no Whisper model weights can be had where Earshot is tested, so they
// answer like the real servers without recognising anything.

func testPool(t *testing.T, cfg Config) (*Pool, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p, err := New(cfg, nil, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

func cfgFor(servers ...ServerConfig) Config {
	c := DefaultConfig()
	c.Servers = servers
	c.Timeout = 2 * time.Second
	return c
}

// clock is a settable time source for the breaker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCapacity: the pool never has more requests in flight than the
// servers' limits, refuses at once (without waiting) beyond them, counts
// the refusals, and spreads requests by load.
func TestCapacity(t *testing.T) {
	a := whispertest.New(t, whispertest.WhisperCpp)
	b := whispertest.New(t, whispertest.OpenAI)
	for _, s := range []*whispertest.Server{a, b} {
		s.SetLatency(300 * time.Millisecond)
	}
	p, _ := testPool(t, cfgFor(
		ServerConfig{Name: "a", URL: a.URL, API: "whisper.cpp", MaxInFlight: 1},
		ServerConfig{Name: "b", URL: b.URL, API: "openai", Model: "small.en", MaxInFlight: 2}))
	if p.Capacity() != 3 {
		t.Fatalf("Capacity = %d, want 3", p.Capacity())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused, done := 0, 0
	for range 10 {
		t0 := time.Now()
		l, err := p.Acquire()
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Acquire: %v", err)
			}
			if d := time.Since(t0); d > 100*time.Millisecond {
				t.Errorf("a refusal took %s: Acquire must not wait", d)
			}
			refused++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := l.Transcribe(context.Background(), make([]int16, 16000)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			done++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if done != 3 || refused != 7 {
		t.Errorf("%d transcribed, %d refused; want 3 and 7", done, refused)
	}
	if a.MaxInFlight() > 1 || b.MaxInFlight() > 2 {
		t.Errorf("in flight at once: a %d (limit 1), b %d (limit 2)", a.MaxInFlight(), b.MaxInFlight())
	}
	if a.Calls() != 1 || b.Calls() != 2 {
		t.Errorf("calls: a %d, b %d; want 1 and 2", a.Calls(), b.Calls())
	}
	if n := testutil.ToFloat64(p.m.skipped.WithLabelValues(reasonBusy)); n != 7 {
		t.Errorf("skipped{busy} = %v, want 7", n)
	}
	// Released: the slots are free again.
	l, err := p.Acquire()
	if err != nil {
		t.Fatalf("Acquire after the requests ended: %v", err)
	}
	l.Release()
	l.Release() // twice is harmless
	if n := testutil.ToFloat64(p.m.inFlight.WithLabelValues("b")); n != 0 {
		t.Errorf("in_flight{b} = %v after release, want 0", n)
	}
}

// TestBreaker: consecutive failures take a server out; after open_for one
// trial request may go; a failed trial keeps it out, a good one brings it
// back. Every step is in the metrics.
func TestBreaker(t *testing.T) {
	srv := whispertest.New(t, whispertest.WhisperCpp)
	srv.SetFault(whispertest.Status500)
	cfg := cfgFor(ServerConfig{Name: "s", URL: srv.URL, API: "whisper.cpp", MaxInFlight: 4})
	p, _ := testPool(t, cfg)
	clk := &clock{t: time.Unix(1e9, 0)}
	p.now = clk.now
	transcribe := func() error {
		l, err := p.Acquire()
		if err != nil {
			return err
		}
		_, _, err = l.Transcribe(context.Background(), make([]int16, 8000))
		return err
	}
	for i := range cfg.FailureThreshold {
		if err := transcribe(); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("request %d: err = %v, want the server's error", i, err)
		}
	}
	if err := transcribe(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after %d failures: err = %v, want ErrUnavailable (breaker open)", cfg.FailureThreshold, err)
	}
	check := func(name string, c prometheus.Collector, want float64) {
		t.Helper()
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("requests{status}", p.m.requests.WithLabelValues("s", "status"), 3)
	check("breaker_opened", p.m.opened.WithLabelValues("s"), 1)
	check("server_up", p.m.up.WithLabelValues("s"), 0)
	check("skipped{open}", p.m.skipped.WithLabelValues(reasonOpen), 1)

	// After open_for: one trial. It fails: out again for open_for.
	clk.add(cfg.OpenFor)
	l, err := p.Acquire()
	if err != nil {
		t.Fatalf("trial after open_for: %v", err)
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second request during the trial: %v, want ErrUnavailable", err)
	}
	l.Transcribe(context.Background(), make([]int16, 8000))
	if _, err := p.Acquire(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after a failed trial: %v, want ErrUnavailable", err)
	}
	// The server recovers; the next trial brings it back.
	srv.SetFault(whispertest.OK)
	clk.add(cfg.OpenFor)
	if err := transcribe(); err != nil {
		t.Fatalf("good trial: %v", err)
	}
	check("server_up after a good trial", p.m.up.WithLabelValues("s"), 1)
	for range 3 {
		if err := transcribe(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	check("requests{ok}", p.m.requests.WithLabelValues("s", "ok"), 4)
}

// TestFaults: each way a server fails is counted by kind; a hanging
// server is cut off at the pool's timeout.
func TestFaults(t *testing.T) {
	srv := whispertest.New(t, whispertest.OpenAI)
	cfg := cfgFor(ServerConfig{Name: "s", URL: srv.URL, API: "openai", Model: "m", MaxInFlight: 1})
	cfg.Timeout = 300 * time.Millisecond
	cfg.FailureThreshold = 100
	p, _ := testPool(t, cfg)
	for _, tt := range []struct {
		fault   whispertest.Fault
		outcome string
	}{
		{whispertest.Status503, "status"},
		{whispertest.WrongContentType, "bad_response"},
		{whispertest.Malformed, "bad_response"},
		{whispertest.Hang, "timeout"},
		{whispertest.OK, "ok"},
	} {
		srv.SetFault(tt.fault)
		l, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_, _, err = l.Transcribe(context.Background(), make([]int16, 8000))
		if (err == nil) != (tt.outcome == "ok") {
			t.Errorf("fault %d: err = %v", tt.fault, err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("fault %d took %s, beyond the timeout", tt.fault, d)
		}
	}
	for outcome, want := range map[string]float64{"status": 1, "bad_response": 2, "timeout": 1, "ok": 1} {
		if got := testutil.ToFloat64(p.m.requests.WithLabelValues("s", outcome)); got != want {
			t.Errorf("requests{%s} = %v, want %v", outcome, got, want)
		}
	}
}

// TestHealthChecks: a server that fails its health check is taken out at
// once; once it passes again after open_for it is back.
func TestHealthChecks(t *testing.T) {
	up := whispertest.New(t, whispertest.WhisperCpp)
	down := whispertest.New(t, whispertest.WhisperCpp)
	cfg := cfgFor(ServerConfig{Name: "up", URL: up.URL, API: "whisper.cpp"}, ServerConfig{Name: "down", URL: down.URL, API: "whisper.cpp"})
	p, _ := testPool(t, cfg)
	clk := &clock{t: time.Unix(1e9, 0)}
	p.now = clk.now
	down.SetDown(true)
	p.CheckHealth(context.Background())
	if n := testutil.ToFloat64(p.m.up.WithLabelValues("down")); n != 0 {
		t.Fatalf("server_up{down} = %v, want 0", n)
	}
	// Every request now goes to the healthy server.
	for range 3 {
		l, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if l.Server() != "up" {
			t.Errorf("request sent to %s, which failed its health check", l.Server())
		}
		l.Release()
	}
	down.SetDown(false)
	p.CheckHealth(context.Background())
	if n := testutil.ToFloat64(p.m.up.WithLabelValues("down")); n != 0 {
		t.Errorf("back before open_for: server_up = %v", n)
	}
	clk.add(cfg.OpenFor)
	p.CheckHealth(context.Background())
	if n := testutil.ToFloat64(p.m.up.WithLabelValues("down")); n != 1 {
		t.Errorf("after open_for and a passing check: server_up = %v, want 1", n)
	}
	if n := testutil.ToFloat64(p.m.health.WithLabelValues("down", "fail")); n != 1 {
		t.Errorf("health_checks{down,fail} = %v, want 1", n)
	}
	// Run checks until cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestLocalOnly: a third-party server is not used while local-models-only
// is on.
func TestLocalOnly(t *testing.T) {
	srv := whispertest.New(t, whispertest.OpenAI)
	p, _ := testPool(t, cfgFor(ServerConfig{Name: "cloud", URL: srv.URL, API: "openai", Model: "m", ThirdParty: true}))
	on := true
	p.SetLocalOnly(func() bool { return on })
	if _, err := p.Acquire(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("third-party server with local-models-only on: %v", err)
	}
	if n := testutil.ToFloat64(p.m.skipped.WithLabelValues(reasonLocalOnly)); n != 1 {
		t.Errorf("skipped{local_only} = %v, want 1", n)
	}
	on = false
	l, err := p.Acquire()
	if err != nil {
		t.Fatalf("with local-models-only off: %v", err)
	}
	l.Release()
}

func TestConfigValidate(t *testing.T) {
	good := ServerConfig{URL: "http://127.0.0.1:8080", API: "whisper.cpp"}
	for name, mut := range map[string]func(*Config){
		"no servers":  func(c *Config) { c.Servers = nil },
		"bad api":     func(c *Config) { c.Servers[0].API = "grpc" },
		"bad url":     func(c *Config) { c.Servers[0].URL = "ftp://x" },
		"same name":   func(c *Config) { c.Servers = append(c.Servers, good) },
		"timeout":     func(c *Config) { c.Timeout = 0 },
		"threshold":   func(c *Config) { c.FailureThreshold = 0 },
		"utterances":  func(c *Config) { c.MaxUtterance = c.MinUtterance },
		"health path": func(c *Config) { c.HealthPath = "health" },
	} {
		c := cfgFor(good)
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
	if err := cfgFor(good).Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
}
