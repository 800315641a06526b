package voice

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
)

// front is the speech front over Earshot's Flite engine (cgo, Debian
// libflite1), with its metrics on reg.
func front(t *testing.T, reg *prometheus.Registry) *tts.Front {
	t.Helper()
	fl, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("Flite (Debian flite1-dev): %v", err)
	}
	cfg := tts.DefaultConfig()
	cfg.OtherLanguages = ""
	f, err := tts.New(cfg, nil, reg, fl)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil || n == 0 {
		return 0
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestWarmSpeech: the fixed prompts synthesised ahead are served from the
// front's cache when a call says them (marked static, in the same chunks);
// a prompt not marked static is synthesised again; with no fixed prompt
// the voice is still loaded, and nothing is cached.
func TestWarmSpeech(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := front(t, reg)
	synth := f.ForBot("bank")
	const prompt = "Please enter your account number on the keypad."
	if err := WarmSpeech(t.Context(), synth, Prompts{Rates: []int{8000}}); err != nil {
		t.Fatal(err)
	}
	if v := counter(t, reg, "earshot_tts_cache_misses_total"); v != 0 {
		t.Errorf("a warm-up without fixed prompts looked in the cache %v times", v)
	}
	if err := WarmSpeech(t.Context(), synth, Prompts{Rates: []int{8000}, Static: []string{prompt}, ChunkChars: 20}); err != nil {
		t.Fatal(err)
	}
	chunks := Chunks(prompt, 20)
	if v := counter(t, reg, "earshot_tts_cache_misses_total"); v != float64(len(chunks)) {
		t.Errorf("cache misses %v after the warm-up, want one per chunk (%d)", v, len(chunks))
	}
	samples := 0
	for _, c := range chunks {
		err := synth.Synthesize(t.Context(), tts.Request{Text: c, Rate: 8000, Static: true}, func(pcm []int16) error {
			samples += len(pcm)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if v := counter(t, reg, "earshot_tts_cache_hits_total"); v != float64(len(chunks)) {
		t.Errorf("cache hits %v, want every chunk of the warmed prompt (%d)", v, len(chunks))
	}
	if samples < 8000 {
		t.Errorf("the cached prompt has %d samples, want over a second of speech", samples)
	}
	if err := synth.Synthesize(t.Context(), tts.Request{Text: chunks[0], Rate: 8000}, func([]int16) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if v := counter(t, reg, "earshot_tts_cache_hits_total"); v != float64(len(chunks)) {
		t.Errorf("a prompt not marked static was served from the cache (hits %v)", v)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := WarmSpeech(ctx, synth, Prompts{Rates: []int{8000}, Static: []string{"Something else."}}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled warm-up returned %v", err)
	}
}

// counting wraps an engine, counting its open streams.
type counting struct {
	stt.Engine
	open, most int
}

func (c *counting) NewStream(ctx context.Context, o stt.StreamOptions) (stt.Stream, error) {
	s, err := c.Engine.NewStream(ctx, o)
	if err != nil {
		return nil, err
	}
	c.open++
	c.most = max(c.most, c.open)
	return &countedStream{Stream: s, c: c}, nil
}

type countedStream struct {
	stt.Stream
	c *counting
}

func (s *countedStream) Close() error {
	s.c.open--
	return s.Stream.Close()
}

// TestWarmRecognizer: warming holds that many PocketSphinx streams (real
// models, Debian pocketsphinx-en-us) open at once, so the pool makes that
// many decoders, then gives them all back; asking for more than the pool
// holds warms what fits.
func TestWarmRecognizer(t *testing.T) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders, cfg.Warm, cfg.Search = 2, 0, pocketsphinx.SearchFast
	ps, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us, libpocketsphinx-dev): %v", err)
	}
	defer ps.Close()
	e := &counting{Engine: ps}
	opts := stt.StreamOptions{Narrowband: true}
	if err := WarmRecognizer(t.Context(), e, opts, 3); err != nil {
		t.Fatalf("WarmRecognizer beyond the pool: %v", err)
	}
	if e.most != 2 || e.open != 0 {
		t.Errorf("warm-up held %d streams at most and left %d open, want 2 and 0", e.most, e.open)
	}
	// Both decoders are back in the pool: two streams open at once.
	var open []stt.Stream
	for range 2 {
		s, err := ps.NewStream(t.Context(), opts)
		if err != nil {
			t.Fatalf("stream after the warm-up: %v", err)
		}
		open = append(open, s)
	}
	for _, s := range open {
		s.Close()
	}
	if err := WarmRecognizer(t.Context(), closedEngine{}, opts, 1); err == nil {
		t.Error("a recogniser that opens no stream warmed without error")
	}
}

type closedEngine struct{}

func (closedEngine) Name() string { return "closed" }
func (closedEngine) NewStream(context.Context, stt.StreamOptions) (stt.Stream, error) {
	return nil, errors.New("engine closed")
}
