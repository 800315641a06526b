package tts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Causes engines wrap in their errors, so that the front counts its
// fallbacks by reason.
var (
	ErrTimeout = errors.New("tts: engine timed out")    // no audio in time
	ErrBusy    = errors.New("tts: engine busy")         // refused for load
	ErrServer  = errors.New("tts: engine server error") // error status, not audio, malformed audio
	// ErrTooLong is returned for a prompt over Config.MaxPromptChars.
	ErrTooLong = errors.New("tts: prompt too long")
)

// Engine names.
const (
	EngineFlite   = "flite"
	EngineEspeak  = "espeak-ng"
	EngineHTTP    = "tts-http"
	engineCache   = "cache"
	defaultLang   = "en"
	maxVoiceBytes = 64
)

// builtIn reports whether an engine runs in-process (and needs no
// watchdog and no fallback).
func builtIn(engine string) bool { return engine == EngineFlite || engine == EngineEspeak }

// Voice names an engine and one of its voices.
type Voice struct {
	Engine string `json:"engine"` // flite, espeak-ng or tts-http
	Voice  string `json:"voice"`  // the engine's voice; "" for the engine's default
}

func (v Voice) String() string { return v.Engine + "/" + v.Voice }

func (v Voice) validate(field string) error {
	switch {
	case v.Engine != EngineFlite && v.Engine != EngineEspeak && v.Engine != EngineHTTP:
		return fmt.Errorf("tts: %s.engine must be %s, %s or %s, got %q", field, EngineFlite, EngineEspeak, EngineHTTP, v.Engine)
	case len(v.Voice) > maxVoiceBytes || strings.ContainsAny(v.Voice, " \t\n\"'<>"):
		return fmt.Errorf("tts: %s.voice %q is not a voice name", field, v.Voice)
	}
	return nil
}

// Bot is a bot's speech: its voices by language and its pronunciation
// lexicon. The runtime sets it from the bot's definition (SetBot).
type Bot struct {
	// Voices maps a language ("en", "es", "pt-br") to the bot's voice in
	// it; languages not listed use the site's (Config.Voices).
	Voices map[string]Voice `json:"voices,omitempty"`
	// Lexicon maps written forms to spoken forms (see Lexicon).
	Lexicon map[string]string `json:"lexicon,omitempty"`
}

// Validate checks a bot's speech settings.
func (b Bot) Validate() error {
	for lang, v := range b.Voices {
		if err := v.validate("voices." + lang); err != nil {
			return err
		}
	}
	_, err := NewLexicon(b.Lexicon)
	return err
}

// Config configures the front.
type Config struct {
	// Voices is the site's voice per language; English not listed is
	// spoken by Fallback.
	Voices map[string]Voice `json:"voices"`
	// OtherLanguages is the engine for languages neither the bot nor
	// Voices lists, speaking the language by name (eSpeak NG's voices are
	// named by language); "" refuses them.
	OtherLanguages string `json:"other_languages"`
	// Fallback is the built-in English voice that takes over a turn when
	// the chosen engine fails or hangs (other languages fall back to
	// OtherLanguages).
	Fallback Voice `json:"fallback"`
	// Bots holds bots' speech settings known at start (SetBot changes
	// them at run time).
	Bots map[string]Bot `json:"bots,omitempty"`
	// DayFirst reads 06/12/2026 as the 6th of December.
	DayFirst bool `json:"day_first_dates"`
	// MaxPromptChars refuses longer prompts (default 20000).
	MaxPromptChars int `json:"max_prompt_chars"`
	// MaxChunkChars bounds one synthesis call (default
	// DefaultMaxChunkChars); prompts are spoken sentence by sentence.
	MaxChunkChars int `json:"max_chunk_chars"`
	// CacheEntries and CacheBytes bound the in-memory cache of static
	// prompts (default 512 entries, 64 MiB; 0 entries turns it off);
	// prompts over CacheMaxChars (default 600) are not cached.
	CacheEntries  int   `json:"cache_entries"`
	CacheBytes    int64 `json:"cache_bytes"`
	CacheMaxChars int   `json:"cache_max_chars"`
	// FirstAudioTimeout and StallTimeout watch engines that are not
	// built in (tts-http): no audio within FirstAudioTimeout of a chunk's
	// start (default 3 s), or none for StallTimeout after the last
	// (default 3 s), and the built-in voice takes over.
	FirstAudioTimeout time.Duration `json:"first_audio_timeout"`
	StallTimeout      time.Duration `json:"stall_timeout"`
}

// DefaultConfig returns the defaults: Flite's default voice for English
// (chosen by the eval), eSpeak NG for other languages.
func DefaultConfig() Config {
	return Config{
		Voices:         map[string]Voice{defaultLang: {Engine: EngineFlite, Voice: DefaultEnglishVoice}},
		OtherLanguages: EngineEspeak,
		Fallback:       Voice{Engine: EngineFlite, Voice: DefaultEnglishVoice},
		MaxPromptChars: 20000, MaxChunkChars: DefaultMaxChunkChars,
		CacheEntries: 512, CacheBytes: 64 << 20, CacheMaxChars: 600,
		FirstAudioTimeout: 3 * time.Second, StallTimeout: 3 * time.Second,
	}
}

// DefaultEnglishVoice is Flite's voice with the lowest round-trip word
// error rate on the development half of the TTS eval
// (media/tts/eval_test.go: 24 of its 50 prompts, by hash), as the mean of
// the WER at 16 kHz and at 8 kHz mu-law (the criterion fixed before the
// run): cmu_us_rms 22.2 / 46.1 % (mean 34.2), cmu_us_kal16 24.9 / 52.6
// (38.8), cmu_us_awb 21.8 / 64.5 (43.2), cmu_us_slt 21.5 / 78.5 (50.0);
// eSpeak NG's English 78.2 / 89.8. At 16 kHz alone the four are close;
// the telephone rate decides.
const DefaultEnglishVoice = "cmu_us_rms"

// Validate checks the configuration.
func (c Config) Validate() error {
	for lang, v := range c.Voices {
		if err := v.validate("voices." + lang); err != nil {
			return err
		}
	}
	if c.OtherLanguages != "" && !builtIn(c.OtherLanguages) && c.OtherLanguages != EngineHTTP {
		return fmt.Errorf("tts: other_languages must be an engine name or empty, got %q", c.OtherLanguages)
	}
	if err := c.Fallback.validate("fallback"); err != nil {
		return err
	}
	if !builtIn(c.Fallback.Engine) {
		return fmt.Errorf("tts: fallback must be a built-in engine (%s or %s), got %q", EngineFlite, EngineEspeak, c.Fallback.Engine)
	}
	for id, b := range c.Bots {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("tts: bots.%s: %w", id, err)
		}
	}
	switch {
	case c.MaxPromptChars <= 0 || c.MaxChunkChars <= 0:
		return errors.New("tts: max_prompt_chars and max_chunk_chars must be positive")
	case c.CacheEntries < 0 || c.CacheBytes < 0 || c.CacheMaxChars < 0:
		return errors.New("tts: cache_entries, cache_bytes and cache_max_chars must not be negative")
	case c.FirstAudioTimeout <= 0 || c.StallTimeout <= 0:
		return errors.New("tts: first_audio_timeout and stall_timeout must be positive")
	}
	return nil
}

// Prompt is one thing a bot says.
type Prompt struct {
	Bot  string // the bot's ID ("" for none: the site's voices, no lexicon)
	Text string
	Lang string // BCP 47; "" for English
	Rate int    // 8000 or 16000
	// Static marks a prompt whose text is fixed in the bot's definition
	// (greetings, menus, reprompts): its audio is cached.
	Static bool
	// Voice, when set, overrides the bot's and site's choice.
	Voice Voice
}

type botState struct {
	voices  map[string]Voice
	lexicon *Lexicon
}

// Front is what the voice runtime speaks through: it picks the engine
// and voice per bot and language, applies the bot's lexicon and the
// normaliser, speaks sentence by sentence, serves static prompts from
// its cache and falls back to the built-in voice when an engine fails.
// It is safe for concurrent use.
type Front struct {
	cfg     Config
	logger  *slog.Logger
	engines map[string]Engine
	norm    Normalizer
	cache   *cache
	m       *metrics

	mu   sync.RWMutex
	bots map[string]botState
}

// New returns the front over the engines (by their Name()); every engine
// the configuration names must be given.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, engines ...Engine) (*Front, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Front{cfg: cfg, logger: logger, engines: map[string]Engine{}, norm: Normalizer{DayFirst: cfg.DayFirst},
		cache: newCache(cfg.CacheEntries, cfg.CacheBytes), bots: map[string]botState{}}
	for _, e := range engines {
		f.engines[e.Name()] = e
	}
	need := []string{cfg.Fallback.Engine}
	if cfg.OtherLanguages != "" {
		need = append(need, cfg.OtherLanguages)
	}
	for _, v := range cfg.Voices {
		need = append(need, v.Engine)
	}
	for _, n := range need {
		if f.engines[n] == nil {
			return nil, fmt.Errorf("tts: engine %q is configured but not available", n)
		}
	}
	for id, b := range cfg.Bots {
		if err := f.SetBot(id, b); err != nil {
			return nil, err
		}
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, f)
	if err != nil {
		return nil, err
	}
	f.m = m
	return f, nil
}

// SetBot sets (or replaces) a bot's voices and lexicon.
func (f *Front) SetBot(id string, b Bot) error {
	if err := b.Validate(); err != nil {
		return err
	}
	for lang, v := range b.Voices {
		if f.engines[v.Engine] == nil {
			return fmt.Errorf("tts: voices.%s: engine %q is not available", lang, v.Engine)
		}
	}
	lex, err := NewLexicon(b.Lexicon)
	if err != nil {
		return err
	}
	voices := make(map[string]Voice, len(b.Voices))
	for l, v := range b.Voices {
		voices[strings.ToLower(l)] = v
	}
	f.mu.Lock()
	f.bots[id] = botState{voices: voices, lexicon: lex}
	f.mu.Unlock()
	return nil
}

// RemoveBot forgets a bot's settings.
func (f *Front) RemoveBot(id string) {
	f.mu.Lock()
	delete(f.bots, id)
	f.mu.Unlock()
}

// choose returns the voice for a bot and language.
func (f *Front) choose(b botState, lang string) (Voice, bool) {
	base, _, _ := strings.Cut(lang, "-")
	for _, m := range []map[string]Voice{b.voices, f.cfg.Voices} {
		if v, ok := m[lang]; ok {
			return v, true
		}
		if v, ok := m[base]; ok {
			return v, true
		}
	}
	switch {
	case isEnglish(lang):
		return f.cfg.Fallback, true
	case f.cfg.OtherLanguages != "":
		return Voice{Engine: f.cfg.OtherLanguages}, true
	}
	return Voice{}, false
}

func isEnglish(lang string) bool { return lang == "en" || strings.HasPrefix(lang, "en-") }

// Speak says p, calling fn with successive chunks of 16-bit mono samples
// at p.Rate as each is ready (the first after the first sentence). It
// returns when the prompt is done, when ctx ends (ctx.Err()), or with
// fn's error. When the chosen engine fails or hangs, the built-in voice
// says the rest of the turn (counted in fallbacks_total); only a failure
// of the built-in voice itself is returned.
func (f *Front) Speak(ctx context.Context, p Prompt, fn func(pcm []int16) error) error {
	if p.Rate != 8000 && p.Rate != 16000 {
		f.m.refused.WithLabelValues("bad_rate").Inc()
		return fmt.Errorf("tts: rate must be 8000 or 16000, got %d", p.Rate)
	}
	if len(p.Text) > f.cfg.MaxPromptChars {
		f.m.refused.WithLabelValues("too_long").Inc()
		return fmt.Errorf("%w: %d characters, at most %d", ErrTooLong, len(p.Text), f.cfg.MaxPromptChars)
	}
	lang := strings.ToLower(p.Lang)
	if lang == "" {
		lang = defaultLang
	}
	f.mu.RLock()
	b := f.bots[p.Bot]
	f.mu.RUnlock()
	v := p.Voice
	if v.Engine == "" {
		var ok bool
		if v, ok = f.choose(b, lang); !ok {
			f.m.refused.WithLabelValues("no_voice").Inc()
			return fmt.Errorf("tts: no voice for language %q", lang)
		}
	} else if err := v.validate("voice"); err != nil {
		return err
	}
	text := b.lexicon.Apply(StripControl(p.Text))
	if isEnglish(lang) {
		text = f.norm.Normalize(text)
	}
	if strings.TrimSpace(text) == "" {
		return ErrEmpty
	}
	start := time.Now()
	first := true
	out := fn
	var key cacheKey
	var kept []int16
	cacheable := p.Static && f.cfg.CacheEntries > 0 && len(text) <= f.cfg.CacheMaxChars
	if cacheable {
		key = keyOf(p.Bot, v.Engine, v.Voice, lang, p.Rate, text)
		if pcm, ok := f.cache.get(key); ok {
			f.m.cacheHits.Inc()
			return f.replay(ctx, pcm, p.Rate, fn)
		}
		f.m.cacheMisses.Inc()
		out = func(pcm []int16) error {
			kept = append(kept, pcm...)
			return fn(pcm)
		}
	}
	fellBack := false
	for _, sentence := range Sentences(text, f.cfg.MaxChunkChars) {
		req := Request{Text: sentence, Voice: v.Voice, Lang: lang, Rate: p.Rate}
		err := f.synth(ctx, v, req, func(pcm []int16) error {
			if first {
				first = false
				f.m.firstAudio.WithLabelValues(v.Engine).Observe(time.Since(start).Seconds())
			}
			return out(pcm)
		})
		var rerr receiverError
		switch {
		case err == nil:
			continue
		case errors.As(err, &rerr):
			return rerr.err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		fb := f.fallbackFor(lang)
		if fellBack || v == fb {
			return err
		}
		// The sentence is said again, whole, by the built-in voice, and
		// so is the rest of the turn.
		f.m.fallbacks.WithLabelValues(v.Engine, reason(err)).Inc()
		f.logger.Warn("tts: engine failed; the built-in voice takes over the turn",
			"engine", v.Engine, "voice", v.Voice, "fallback", fb.String(), "bot", p.Bot, "err", err)
		fellBack, v = true, fb
		req.Voice = v.Voice
		if err := f.synth(ctx, v, req, out); err != nil {
			if errors.As(err, &rerr) {
				return rerr.err
			}
			return err
		}
	}
	if cacheable && !fellBack && len(kept) > 0 {
		f.cache.put(key, kept)
	}
	return nil
}

// fallbackFor returns the built-in voice for a language.
func (f *Front) fallbackFor(lang string) Voice {
	if isEnglish(lang) || f.cfg.OtherLanguages == "" || !builtIn(f.cfg.OtherLanguages) {
		return f.cfg.Fallback
	}
	return Voice{Engine: f.cfg.OtherLanguages}
}

func reason(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrServer):
		return "server"
	}
	return "error"
}

// receiverError carries fn's error through an engine, so that it is told
// from the engine's own failures.
type receiverError struct{ err error }

func (r receiverError) Error() string { return r.err.Error() }
func (r receiverError) Unwrap() error { return r.err }

// errStalled is the watchdog's cause.
var errStalled = fmt.Errorf("tts: engine stalled (%w)", ErrTimeout)

// synth speaks one chunk with v, watching engines that are not built in,
// and counts it.
func (f *Front) synth(ctx context.Context, v Voice, req Request, fn func([]int16) error) error {
	e := f.engines[v.Engine]
	if e == nil {
		return fmt.Errorf("tts: engine %q is not available", v.Engine)
	}
	voice := v.Voice
	if voice == "" {
		voice = "default"
	}
	start := time.Now()
	var inFn time.Duration
	var samples int64
	sctx := ctx
	var dog *time.Timer
	if !builtIn(v.Engine) {
		var cancel context.CancelCauseFunc
		sctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		dog = time.AfterFunc(f.cfg.FirstAudioTimeout, func() { cancel(errStalled) })
		defer dog.Stop()
	}
	err := e.Synthesize(sctx, req, func(pcm []int16) error {
		if dog != nil {
			dog.Stop()
		}
		t := time.Now()
		err := fn(pcm)
		inFn += time.Since(t)
		samples += int64(len(pcm))
		if err != nil {
			return receiverError{err}
		}
		if dog != nil {
			dog.Reset(f.cfg.StallTimeout)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(sctx), errStalled) {
		err = errStalled
	}
	secs := float64(samples) / float64(req.Rate)
	f.m.audioSeconds.WithLabelValues(v.Engine, voice).Add(secs)
	var rerr receiverError
	switch {
	case err == nil:
		f.m.syntheses.WithLabelValues(v.Engine, voice, "ok").Inc()
		if secs > 0 {
			f.m.rtf.WithLabelValues(v.Engine).Observe((time.Since(start) - inFn).Seconds() / secs)
		}
	case errors.As(err, &rerr), ctx.Err() != nil:
		f.m.syntheses.WithLabelValues(v.Engine, voice, "canceled").Inc()
	default:
		f.m.syntheses.WithLabelValues(v.Engine, voice, "failed").Inc()
	}
	return err
}

// replay hands cached audio on in 100 ms chunks (copies).
func (f *Front) replay(ctx context.Context, pcm []int16, rate int, fn func([]int16) error) error {
	f.m.audioSeconds.WithLabelValues(engineCache, "").Add(float64(len(pcm)) / float64(rate))
	step := rate / 10
	for off := 0; off < len(pcm); off += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(append([]int16(nil), pcm[off:min(off+step, len(pcm))]...)); err != nil {
			return err
		}
	}
	return nil
}

// ForBot returns the front as a tts.Engine speaking as bot: Request.Voice,
// if set, is "engine/voice" overriding the bot's choice.
func (f *Front) ForBot(bot string) Engine { return botEngine{f: f, bot: bot} }

type botEngine struct {
	f   *Front
	bot string
}

func (b botEngine) Name() string { return "tts" }

func (b botEngine) Synthesize(ctx context.Context, req Request, fn func(pcm []int16) error) error {
	p := Prompt{Bot: b.bot, Text: req.Text, Lang: req.Lang, Rate: req.Rate, Static: req.Static}
	if req.Voice != "" {
		eng, voice, _ := strings.Cut(req.Voice, "/")
		p.Voice = Voice{Engine: eng, Voice: voice}
	}
	return b.f.Speak(ctx, p, fn)
}
