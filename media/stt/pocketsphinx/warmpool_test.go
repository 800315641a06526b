package pocketsphinx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/media/stt"
)

// poolState is the pool as the top-up sees it.
type poolState struct {
	total, making int
	free          []int // by slot
	running       bool
}

func (e *Engine) poolState() poolState {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := poolState{total: e.total, making: e.warm.makingLocked(), running: e.warm.running}
	for _, f := range e.free {
		s.free = append(s.free, len(f))
	}
	return s
}

// waitPool polls the pool until ok holds (decoders take seconds to make
// on a loaded machine: the deadline is generous, the poll short).
func waitPool(t *testing.T, e *Engine, what string, ok func(poolState) bool) poolState {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := e.poolState()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: pool %+v", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func idle(s poolState) bool { return !s.running && s.making == 0 }

func newWarmEngine(t *testing.T, max int) *Engine {
	t.Helper()
	return newEngine(t, func(c *Config) { c.MaxDecoders, c.Warm = max, 1 })
}

func open(t *testing.T, e *Engine, narrow bool) stt.Stream {
	t.Helper()
	s, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: narrow})
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	return s
}

// TestWarmPoolTopsUp: after a stream takes the warm decoder another is
// made without any caller asking, so the next stream finds it free;
// the top-up stops at MaxDecoders, and a stream beyond it gets ErrBusy.
func TestWarmPoolTopsUp(t *testing.T) {
	e := newWarmEngine(t, 3)
	wb := slot(wideband, 0)
	if s := e.poolState(); s.total != 1 || s.free[wb] != 1 || !idle(s) {
		t.Fatalf("after New: %+v, want one warm wideband decoder", s)
	}
	s1 := open(t, e, false)
	defer s1.Close()
	if s := e.poolState(); s.total != 2 || s.free[wb]+s.making != 1 {
		t.Fatalf("after the first stream: %+v, want one decoder made or being made besides its own", s)
	}
	waitPool(t, e, "top-up after the first stream", func(s poolState) bool { return idle(s) && s.free[wb] == 1 })

	s2 := open(t, e, false)
	defer s2.Close()
	if made, failed, waited := e.DecoderPool(); made != 1 || failed != 0 || waited != 0 {
		t.Errorf("after two streams: made %d, failed %d, waited %d; want 1, 0, 0", made, failed, waited)
	}
	s := waitPool(t, e, "top-up after the second stream", func(s poolState) bool { return idle(s) && s.free[wb] == 1 })
	if s.total != 3 {
		t.Errorf("pool %+v, want 3 decoders", s)
	}

	s3 := open(t, e, false)
	defer s3.Close()
	// The pool is full: nothing more is made.
	if s := e.poolState(); s.total != 3 || !idle(s) || s.free[wb] != 0 {
		t.Errorf("full pool: %+v, want 3 decoders in use and none being made", s)
	}
	if _, err := e.NewStream(context.Background(), stt.StreamOptions{}); !errors.Is(err, stt.ErrBusy) {
		t.Fatalf("stream beyond max_decoders: %v, want ErrBusy", err)
	}
	if made, _, waited := e.DecoderPool(); made != 2 || waited != 0 {
		t.Errorf("made %d, waited %d; want 2, 0", made, waited)
	}
}

// TestWarmPoolNarrowband: the first narrowband stream makes its decoder
// on its own path (a wait counted); from then on a narrowband decoder
// is kept warm too, and the next narrowband stream finds it.
func TestWarmPoolNarrowband(t *testing.T) {
	e := newWarmEngine(t, 3)
	nb := slot(narrowband, 0)
	s1 := open(t, e, true)
	defer s1.Close()
	if _, _, waited := e.DecoderPool(); waited != 1 {
		t.Errorf("first narrowband stream: waited %d, want 1", waited)
	}
	s := waitPool(t, e, "narrowband top-up", func(s poolState) bool { return idle(s) && s.free[nb] == 1 })
	if s.total != 3 || s.free[slot(wideband, 0)] != 1 {
		t.Errorf("pool %+v, want the warm wideband decoder, the stream's and a warm narrowband one", s)
	}
	s2 := open(t, e, true)
	defer s2.Close()
	if made, _, waited := e.DecoderPool(); made != 1 || waited != 1 {
		t.Errorf("second narrowband stream: made %d, waited %d; want 1, 1", made, waited)
	}
}

// TestWarmPoolBurst: streams opened at once, one more than
// MaxDecoders, while the top-up runs: the pool never holds more than
// MaxDecoders decoders, made or being made, and exactly one stream gets
// ErrBusy.
func TestWarmPoolBurst(t *testing.T) {
	const max = 3
	e := newWarmEngine(t, max)
	var over atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if s := e.poolState(); s.total > max {
				over.Store(int64(s.total))
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var streams []stt.Stream
	var busy int
	for range max + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.NewStream(context.Background(), stt.StreamOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, stt.ErrBusy):
				busy++
			case err != nil:
				t.Errorf("NewStream: %v", err)
			default:
				streams = append(streams, s)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := over.Load(); n > 0 {
		t.Errorf("pool held %d decoders, above max_decoders %d", n, max)
	}
	if len(streams) != max || busy != 1 {
		t.Errorf("%d streams opened, %d busy; want %d and 1", len(streams), busy, max)
	}
	if s := e.poolState(); s.total != max || !idle(s) {
		t.Errorf("after the burst: %+v", s)
	}
	for _, s := range streams {
		s.Close()
	}
	if s := e.poolState(); s.total != max || s.free[slot(wideband, 0)] != max {
		t.Errorf("after closing: %+v, want all %d free", s, max)
	}
}

// TestWarmPoolCloseWhileMaking: Close during a background decoder's
// making waits for it and closes it: no decoder counted, no goroutine
// (a decoder's thread, the top-up's) left.
func TestWarmPoolCloseWhileMaking(t *testing.T) {
	base := runtime.NumGoroutine()
	e := newWarmEngine(t, 2)
	s := open(t, e, false)
	if st := e.poolState(); st.making != 1 {
		t.Fatalf("after the first stream: %+v, want one decoder being made", st)
	}
	e.Close()
	if st := e.poolState(); st.total != 1 || !idle(st) {
		t.Errorf("after Close: %+v, want only the stream's decoder", st)
	}
	if _, err := e.NewStream(context.Background(), stt.StreamOptions{}); err == nil || errors.Is(err, stt.ErrBusy) {
		t.Errorf("NewStream after Close: %v, want the engine closed", err)
	}
	s.Close()
	if st := e.poolState(); st.total != 0 {
		t.Errorf("after the stream's Close: %d decoders", st.total)
	}
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the engine", runtime.NumGoroutine(), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWarmPoolFailure: a decoder that cannot be made in the background
// is logged and counted, and the next stream makes its own.
func TestWarmPoolFailure(t *testing.T) {
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Search, cfg.WarpSelection, cfg.MaxDecoders, cfg.Warm = SearchFast, nil, 3, 1
	e, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	wb := slot(wideband, 0)
	good := e.args[wb]
	e.args[wb] = mergeArgs(good, []string{"-hmm", t.TempDir()}) // no acoustic model there
	s1 := open(t, e, false)
	defer s1.Close()
	waitPool(t, e, "failed top-up", idle)
	if made, failed, _ := e.DecoderPool(); made != 0 || failed != 1 {
		t.Errorf("made %d, failed %d; want 0, 1", made, failed)
	}
	if st := e.poolState(); st.total != 1 {
		t.Errorf("after the failure: %+v, want the stream's decoder alone", st)
	}
	if !bytes.Contains(logs.Bytes(), []byte("warm decoder not made")) {
		t.Errorf("no warning logged: %q", logs.String())
	}
	e.mu.Lock()
	e.args[wb] = good
	e.mu.Unlock()
	s2 := open(t, e, false)
	defer s2.Close()
	if _, _, waited := e.DecoderPool(); waited != 1 {
		t.Errorf("stream after the failure: waited %d, want 1 (made on its path)", waited)
	}
	waitPool(t, e, "top-up after the failure", func(s poolState) bool { return idle(s) && s.free[wb] == 1 })
}
