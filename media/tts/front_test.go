package tts_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/espeak"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/tts/internal/roundtrip"
	"github.com/earshot/earshot/media/tts/ttshttp"
	"github.com/earshot/earshot/media/tts/ttshttp/ttshttptest"
)

// recorder wraps a real engine and records the text it was asked to say.
type recorder struct {
	tts.Engine
	mu    sync.Mutex
	texts []string
}

func (r *recorder) Synthesize(ctx context.Context, req tts.Request, fn func([]int16) error) error {
	r.mu.Lock()
	r.texts = append(r.texts, req.Text)
	r.mu.Unlock()
	return r.Engine.Synthesize(ctx, req, fn)
}

func (r *recorder) said() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.texts, " ")
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.texts)
}

type rig struct {
	front  *tts.Front
	reg    *prometheus.Registry
	flite  *recorder
	espeak *recorder
	http   *recorder
	srv    *ttshttptest.Server
}

func newRig(t *testing.T, mod func(*tts.Config)) *rig {
	t.Helper()
	fe, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite (Debian libflite1): %v", err)
	}
	ee, err := espeak.New(espeak.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("espeak-ng (Debian libespeak-ng1): %v", err)
	}
	// The neural server is ttshttptest's loopback stand-in: no neural
	// speech server can run here (no weights can be had).
	srv := ttshttptest.New(t)
	hc := ttshttp.DefaultConfig()
	hc.URL, hc.Model = srv.URL, "kokoro"
	hc.FirstByteTimeout, hc.StallTimeout = 400*time.Millisecond, 400*time.Millisecond
	he, err := ttshttp.New(hc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{reg: prometheus.NewRegistry(), flite: &recorder{Engine: fe}, espeak: &recorder{Engine: ee},
		http: &recorder{Engine: he}, srv: srv}
	cfg := tts.DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	r.front, err = tts.New(cfg, nil, r.reg, r.flite, r.espeak, r.http)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func speak(t *testing.T, f *tts.Front, p tts.Prompt) []int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pcm []int16
	if err := f.Speak(ctx, p, func(c []int16) error {
		pcm = append(pcm, c...)
		return nil
	}); err != nil {
		t.Fatalf("Speak(%q): %v", p.Text, err)
	}
	return pcm
}

// TestSpeakCardEnding: the normaliser's digits reach the engine and are
// heard back by PocketSphinx.
func TestSpeakCardEnding(t *testing.T) {
	r := newRig(t, nil)
	rec, err := roundtrip.NewRecognizer(1)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer rec.Close()
	pcm := speak(t, r.front, tts.Prompt{Text: "Your card ending in 4211 is active.", Rate: 16000})
	if got, want := r.flite.said(), "Your card ending in four two one one is active."; got != want {
		t.Errorf("engine asked to say %q, want %q", got, want)
	}
	got, err := roundtrip.Transcribe(rec, pcm, 16000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heard %q", got)
	if h := roundtrip.Heard(got, []string{"card", "ending", "four", "two", "one", "active"}); h < 4 {
		t.Errorf("heard %q, want most of the card ending", got)
	}
}

// TestBotVoicesAndLexicon: a bot's lexicon applies to its prompts only,
// its voice per language wins over the site's, and other languages go
// to eSpeak NG.
func TestBotVoicesAndLexicon(t *testing.T) {
	r := newRig(t, func(c *tts.Config) {
		c.Bots = map[string]tts.Bot{"billing": {Lexicon: map[string]string{"IBAN": "eye ban"},
			Voices: map[string]tts.Voice{"en": {Engine: tts.EngineFlite, Voice: "cmu_us_rms"}}}}
	})
	speak(t, r.front, tts.Prompt{Bot: "billing", Text: "Please read me your IBAN.", Rate: 8000})
	speak(t, r.front, tts.Prompt{Bot: "other", Text: "Please read me your IBAN.", Rate: 8000})
	if got := r.flite.said(); got != "Please read me your eye ban. Please read me your IBAN." {
		t.Errorf("flite said %q", got)
	}
	speak(t, r.front, tts.Prompt{Bot: "billing", Text: "Gracias por llamar.", Lang: "es", Rate: 8000})
	if got := r.espeak.said(); got != "Gracias por llamar." {
		t.Errorf("espeak said %q, want the Spanish prompt unnormalised", got)
	}
	if err := r.front.SetBot("bad", tts.Bot{Voices: map[string]tts.Voice{"en": {Engine: "sapi"}}}); err == nil {
		t.Error("SetBot accepted an unknown engine")
	}
	if err := r.front.SetBot("billing", tts.Bot{Lexicon: map[string]string{"IBAN": "i b a n"}}); err != nil {
		t.Fatal(err)
	}
	speak(t, r.front, tts.Prompt{Bot: "billing", Text: "Your IBAN.", Rate: 8000})
	if got := r.flite.said(); !strings.HasSuffix(got, "Your i b a n.") {
		t.Errorf("after SetBot flite said %q", got)
	}
}

// TestStaticPromptCache: a static prompt is synthesised once and then
// served from memory, sample for sample; dynamic prompts are not cached.
func TestStaticPromptCache(t *testing.T) {
	r := newRig(t, nil)
	p := tts.Prompt{Bot: "b", Text: "Thank you for calling. How can I help?", Rate: 8000, Static: true}
	a := speak(t, r.front, p)
	b := speak(t, r.front, p)
	if r.flite.calls() != 2 { // two sentences, once
		t.Errorf("engine called %d times for a static prompt said twice, want 2", r.flite.calls())
	}
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("cached audio %d samples, synthesised %d", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("cached audio differs at sample %d", i)
		}
	}
	if hits := testutil.ToFloat64(metric(t, r, "earshot_tts_cache_hits_total")); hits != 1 {
		t.Errorf("cache hits %v, want 1", hits)
	}
	speak(t, r.front, tts.Prompt{Bot: "b", Text: "Your balance is $12.", Rate: 8000})
	speak(t, r.front, tts.Prompt{Bot: "b", Text: "Your balance is $12.", Rate: 8000})
	if r.flite.calls() != 4 {
		t.Errorf("a dynamic prompt was served from the cache (%d engine calls, want 4)", r.flite.calls())
	}
	// Another rate, voice or bot is another entry.
	speak(t, r.front, tts.Prompt{Bot: "b", Text: p.Text, Rate: 16000, Static: true})
	speak(t, r.front, tts.Prompt{Bot: "c", Text: p.Text, Rate: 8000, Static: true})
	if r.flite.calls() != 8 {
		t.Errorf("%d engine calls, want 8", r.flite.calls())
	}
}

// metric returns the collector behind a metric name (as a Gatherer view).
func metric(t *testing.T, r *rig, name string) prometheus.Collector {
	t.Helper()
	return gathered{r.reg, name}
}

type gathered struct {
	reg  *prometheus.Registry
	name string
}

func (g gathered) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(g, ch) }
func (g gathered) Collect(ch chan<- prometheus.Metric) {
	cs, _ := g.reg.Gather()
	for _, mf := range cs {
		if mf.GetName() != g.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, "", nil, nil), prometheus.CounterValue, v)
		}
	}
}

// TestFallback: a neural server that hangs, hangs mid-audio or fails
// hands the turn to the built-in voice; the caller still hears the whole
// prompt, in bounded time, and the fallback is counted by reason.
func TestFallback(t *testing.T) {
	r := newRig(t, func(c *tts.Config) {
		c.Bots = map[string]tts.Bot{"neural": {Voices: map[string]tts.Voice{"en": {Engine: tts.EngineHTTP, Voice: "cmu_us_awb"}}}}
	})
	rec, err := roundtrip.NewRecognizer(1)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer rec.Close()
	for _, c := range []struct {
		fault  ttshttptest.Fault
		reason string
	}{{ttshttptest.Hang, "timeout"}, {ttshttptest.HangMidStream, "timeout"}, {ttshttptest.Status500, "server"}, {ttshttptest.WrongContentType, "server"}} {
		r.srv.SetFault(c.fault)
		before := r.flite.calls()
		pcm := speak(t, r.front, tts.Prompt{Bot: "neural", Text: "Please tell me your account number.", Rate: 16000})
		if r.flite.calls() != before+1 {
			t.Errorf("fault %d: the built-in voice was asked %d times, want 1", c.fault, r.flite.calls()-before)
		}
		got, err := roundtrip.Transcribe(rec, pcm, 16000)
		if err != nil {
			t.Fatal(err)
		}
		if h := roundtrip.Heard(got, []string{"please", "tell", "account", "number"}); h < 2 {
			t.Errorf("fault %d: heard %q after the fallback", c.fault, got)
		}
		n := testutil.ToFloat64(fallbacks(t, r, c.reason))
		if n == 0 {
			t.Errorf("fault %d: no fallback counted as %s", c.fault, c.reason)
		}
	}
	// A healthy server is used again on the next turn.
	r.srv.SetFault(ttshttptest.OK)
	before := r.flite.calls()
	speak(t, r.front, tts.Prompt{Bot: "neural", Text: "Goodbye.", Rate: 8000})
	if r.flite.calls() != before {
		t.Error("the built-in voice spoke although the server was healthy")
	}
}

func fallbacks(t *testing.T, r *rig, reason string) prometheus.Collector {
	t.Helper()
	return labelled{r.reg, "earshot_tts_fallbacks_total", "reason", reason}
}

type labelled struct {
	reg               *prometheus.Registry
	name, label, want string
}

func (l labelled) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(l, ch) }
func (l labelled) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := l.reg.Gather()
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != l.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == l.label && lp.GetValue() == l.want {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(l.name, "", nil, nil), prometheus.CounterValue, sum)
}

// TestLongPromptDoesNotBlock: a 10,000-character prompt is spoken
// sentence by sentence; while its receiver is busy with it, another
// call's prompt is synthesised to the end.
func TestLongPromptDoesNotBlock(t *testing.T) {
	r := newRig(t, nil)
	long := ""
	for len(long) < 10000 {
		long += "Your statement for the month of March is now available online. "
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- r.front.Speak(ctx, tts.Prompt{Text: long, Rate: 8000}, func([]int16) error {
			once.Do(func() { close(started) })
			<-release
			return nil
		})
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no first chunk of the long prompt")
	}
	short := speak(t, r.front, tts.Prompt{Text: "One moment please.", Rate: 8000})
	select {
	case err := <-done:
		t.Fatalf("the long prompt ended (%v) before the short one was allowed to", err)
	default:
	}
	if len(short) < 4000 {
		t.Errorf("short prompt beside the long one: %d samples", len(short))
	}
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("long prompt after cancel: %v", err)
	}
	if n := r.flite.calls(); n > 10 {
		t.Errorf("%d sentences synthesised after cancelling the long prompt in its first", n)
	}
	if n := len(tts.Sentences(long, tts.DefaultMaxChunkChars)); n < 100 {
		t.Errorf("the long prompt is %d chunks", n)
	}
}

// TestSpeakRefusals: bad prompts get clear errors and are counted.
func TestSpeakRefusals(t *testing.T) {
	r := newRig(t, func(c *tts.Config) { c.OtherLanguages = ""; c.MaxPromptChars = 100 })
	nop := func([]int16) error { return nil }
	ctx := context.Background()
	if err := r.front.Speak(ctx, tts.Prompt{Text: "hi", Rate: 44100}, nop); err == nil {
		t.Error("rate 44100 accepted")
	}
	if err := r.front.Speak(ctx, tts.Prompt{Text: strings.Repeat("a", 101), Rate: 8000}, nop); !errors.Is(err, tts.ErrTooLong) {
		t.Errorf("long prompt: %v", err)
	}
	if err := r.front.Speak(ctx, tts.Prompt{Text: "hola", Lang: "es", Rate: 8000}, nop); err == nil {
		t.Error("a language with no voice was spoken")
	}
	if err := r.front.Speak(ctx, tts.Prompt{Text: " \x00 ", Rate: 8000}, nop); !errors.Is(err, tts.ErrEmpty) {
		t.Errorf("empty prompt: %v", err)
	}
	stop := errors.New("caller hung up")
	if err := r.front.Speak(ctx, tts.Prompt{Text: "Hello there. Goodbye.", Rate: 8000}, func([]int16) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("receiver error: %v, want it returned", err)
	}
	if n := testutil.ToFloat64(labelled{r.reg, "earshot_tts_prompts_refused_total", "reason", "too_long"}); n != 1 {
		t.Errorf("too_long refusals %v, want 1", n)
	}
	if n := testutil.ToFloat64(labelled{r.reg, "earshot_tts_fallbacks_total", "reason", "error"}); n != 0 {
		t.Errorf("a receiver error caused a fallback")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := tts.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*tts.Config){
		"unknown engine":    func(c *tts.Config) { c.Voices["fr"] = tts.Voice{Engine: "polly"} },
		"neural fallback":   func(c *tts.Config) { c.Fallback = tts.Voice{Engine: tts.EngineHTTP} },
		"bad voice":         func(c *tts.Config) { c.Voices["en"] = tts.Voice{Engine: tts.EngineFlite, Voice: "a b"} },
		"bad lexicon":       func(c *tts.Config) { c.Bots = map[string]tts.Bot{"x": {Lexicon: map[string]string{"": "y"}}} },
		"zero timeout":      func(c *tts.Config) { c.StallTimeout = 0 },
		"negative cache":    func(c *tts.Config) { c.CacheBytes = -1 },
		"other not engine":  func(c *tts.Config) { c.OtherLanguages = "festival" },
		"zero prompt chars": func(c *tts.Config) { c.MaxPromptChars = 0 },
	} {
		c := tts.DefaultConfig()
		c.Voices = map[string]tts.Voice{"en": c.Voices["en"]}
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}
