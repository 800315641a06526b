package ttshttp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/internal/roundtrip"
	"github.com/earshot/earshot/media/tts/ttshttp/ttshttptest"
)

// The server in these tests is ttshttptest's stand-in (no neural speech
// server can run here: no weights can be had); it speaks the same API
// with Flite underneath and misbehaves on demand.

func newEngine(t *testing.T, srv *ttshttptest.Server, mod func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URL, cfg.Model = srv.URL, "kokoro"
	// Loose enough for a loaded machine (the stand-in synthesises with
	// Flite), tight enough that the 2 s latency case below times out.
	cfg.FirstByteTimeout, cfg.StallTimeout = 1200*time.Millisecond, 1200*time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func collect(ctx context.Context, e tts.Engine, req tts.Request) ([]int16, error) {
	var pcm []int16
	err := e.Synthesize(ctx, req, func(c []int16) error {
		pcm = append(pcm, c...)
		return nil
	})
	return pcm, err
}

// TestRoundTrip: both response formats, resampled from the server's
// 24 kHz to 16 and 8 kHz, are heard saying the prompt.
func TestRoundTrip(t *testing.T) {
	srv := ttshttptest.New(t)
	rec, err := roundtrip.NewRecognizer(1)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer rec.Close()
	want := []string{"thank", "calling", "please", "tell", "account", "number"}
	for _, c := range []struct {
		format string
		rate   int
	}{{FormatWAV, 16000}, {FormatPCM, 16000}, {FormatWAV, 8000}} {
		e := newEngine(t, srv, func(cfg *Config) { cfg.Format = c.format })
		pcm, err := collect(context.Background(), e, tts.Request{Text: "Thank you for calling. Please tell me your account number.", Voice: "cmu_us_rms", Rate: c.rate})
		if err != nil {
			t.Fatalf("%s at %d Hz: %v", c.format, c.rate, err)
		}
		if secs := float64(len(pcm)) / float64(c.rate); secs < 1.5 || secs > 8 {
			t.Errorf("%s at %d Hz: %.2f s of audio", c.format, c.rate, secs)
		}
		if c.rate == 8000 {
			pcm = roundtrip.MuLaw(pcm)
		}
		got, err := roundtrip.Transcribe(rec, pcm, c.rate)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %d Hz: %q", c.format, c.rate, got)
		if h := roundtrip.Heard(got, want); h*2 < len(want) {
			t.Errorf("%s at %d Hz: heard %q, want half of %v", c.format, c.rate, got, want)
		}
	}
	if srv.Bad() != 0 {
		t.Errorf("the server refused %d requests as malformed", srv.Bad())
	}
	if srv.Calls() != 6 {
		t.Errorf("%d requests for 3 two-sentence prompts, want 6 (one per sentence)", srv.Calls())
	}
}

// TestFaults: each way a server fails gives its own error, in bounded
// time, and latency within the timeout is no fault.
func TestFaults(t *testing.T) {
	srv := ttshttptest.New(t)
	e := newEngine(t, srv, nil)
	for _, c := range []struct {
		fault   ttshttptest.Fault
		latency time.Duration
		want    error
	}{
		{ttshttptest.OK, 200 * time.Millisecond, nil},
		{ttshttptest.Status500, 0, ErrStatus},
		{ttshttptest.Status503, 0, ErrStatus},
		{ttshttptest.WrongContentType, 0, ErrContentType},
		{ttshttptest.Hang, 0, ErrTimeout},
		{ttshttptest.HangMidStream, 0, ErrTimeout},
		{ttshttptest.OK, 2 * time.Second, ErrTimeout},
	} {
		srv.SetFault(c.fault)
		srv.SetLatency(c.latency)
		pcm, err := collect(context.Background(), e, tts.Request{Text: "Your balance is forty two dollars.", Rate: 8000})
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("fault %d latency %s: %v, want %v", c.fault, c.latency, err, c.want)
		}
		if c.want == nil && len(pcm) < 8000 {
			t.Errorf("fault %d: %d samples", c.fault, len(pcm))
		}
		if c.fault == ttshttptest.HangMidStream && len(pcm) == 0 {
			t.Error("hang mid-stream: the audio before the hang was not handed on")
		}
	}
}

// TestSlowReceiver: a receiver slower than StallTimeout (paced playback)
// is not taken for a stalled server.
func TestSlowReceiver(t *testing.T) {
	srv := ttshttptest.New(t)
	e := newEngine(t, srv, func(c *Config) { c.StallTimeout = time.Second })
	calls := 0
	err := e.Synthesize(context.Background(), tts.Request{Text: "Your balance is forty two dollars and ten cents.", Rate: 8000}, func([]int16) error {
		calls++
		if calls == 2 {
			time.Sleep(2500 * time.Millisecond) // a receiver busy playing, not a synchronisation
		}
		return nil
	})
	if err != nil || calls < 3 {
		t.Errorf("Synthesize = %v after %d chunks", err, calls)
	}
}

// TestCancelMidPrompt: cancelling stops the audio and returns the
// context's error; no further chunks arrive.
func TestCancelMidPrompt(t *testing.T) {
	srv := ttshttptest.New(t)
	e := newEngine(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := e.Synthesize(ctx, tts.Request{Text: strings.Repeat("Your payment has been received. ", 20), Rate: 8000}, func([]int16) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Errorf("Synthesize = %v after %d chunks, want context.Canceled after 2", err, calls)
	}
	if srv.Calls() > 2 {
		t.Errorf("%d sentences requested after cancelling in the first", srv.Calls())
	}
}

// TestBusy: requests beyond MaxInFlight fail at once.
func TestBusy(t *testing.T) {
	srv := ttshttptest.New(t)
	srv.SetFault(ttshttptest.Hang)
	e := newEngine(t, srv, func(c *Config) { c.MaxInFlight = 1; c.FirstByteTimeout = 5 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := collect(ctx, e, tts.Request{Text: "Hello.", Rate: 8000})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Calls() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := collect(context.Background(), e, tts.Request{Text: "Hello.", Rate: 8000}); !errors.Is(err, ErrBusy) {
		t.Errorf("second request: %v, want ErrBusy", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.URL = "http://127.0.0.1:8880"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"url":     func(c *Config) { c.URL = "ftp://x" },
		"format":  func(c *Config) { c.Format = "mp3" },
		"rate":    func(c *Config) { c.PCMRate = 4000 },
		"speed":   func(c *Config) { c.Speed = 9 },
		"timeout": func(c *Config) { c.StallTimeout = 0 },
		"flight":  func(c *Config) { c.MaxInFlight = 0 },
	} {
		c := ok
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}
