package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/tts"
	ttsengines "github.com/earshot/earshot/media/tts/engines"
	"github.com/earshot/earshot/media/voice"
	"github.com/earshot/earshot/store"
)

// VoiceConfig configures the calls the virtual agents answer (media.voice):
// the turn-taking defaults (a bot's voice section overrides them) and
// where hand-overs go. The voices are the tts: section's.
type VoiceConfig struct {
	// TransferTargets maps a queue to the SIP URI a handed-over call is
	// transferred to (REFER); a queue without one ends the call with the
	// hand-over's reason.
	TransferTargets map[string]string `yaml:"transfer_targets"`
	// Recognizer is how bot calls are recognised: "fast" (default)
	// PocketSphinx with the fast search, whatever the queue's engine, for
	// the caller's turn latency and the number of calls a machine holds;
	// "queue" the queue's engine (media.engine, media.queues.*.engine).
	Recognizer string `yaml:"recognizer"`
	// WarmCalls is how many bot calls' recognisers are made ready at start
	// (each holds a decoder, about 90 MB); 0 makes them on the first calls,
	// which then answer their first turn late. The bots' fixed prompts are
	// synthesised ahead at start and at publish either way.
	WarmCalls int `yaml:"warm_calls"`
	// MaxCalls bounds the bot calls open at once (all sources). Bot calls
	// do not count against media.pipeline.max_engagements: one recognised
	// party each, and with the fast recogniser a fraction of a listened
	// call's CPU; the pipeline's backlog check still refuses them when
	// recognition falls behind.
	MaxCalls     int `yaml:"max_calls"`
	voice.Config `yaml:",inline"`
}

// DefaultMaxBotCalls is media.voice.max_calls by default: the bot calls
// a 2-core machine holds in real time with the fast recogniser (see
// TestEvalBotLatency in media/sip and the note in README's voice section).
const DefaultMaxBotCalls = 8

// Recognisers of bot calls (media.voice.recognizer).
const (
	voiceRecognizerFast  = "fast"
	voiceRecognizerQueue = "queue"
)

// DefaultVoiceConfig returns the defaults.
func DefaultVoiceConfig() VoiceConfig {
	return VoiceConfig{Recognizer: voiceRecognizerFast, WarmCalls: 2, MaxCalls: DefaultMaxBotCalls, Config: voice.DefaultConfig()}
}

// UnmarshalYAML decodes a present section over the defaults.
func (c *VoiceConfig) UnmarshalYAML(unmarshal func(any) error) error {
	type plain VoiceConfig
	p := plain(DefaultVoiceConfig())
	if err := unmarshal(&p); err != nil {
		return err
	}
	*c = VoiceConfig(p)
	return nil
}

var transferRE = regexp.MustCompile(`^(sips?|tel):[^\s<>"]+$`)

// Validate checks the section.
func (c VoiceConfig) Validate() error {
	for q, t := range c.TransferTargets {
		if !transferRE.MatchString(t) {
			return fmt.Errorf("voice: transfer_targets.%s: %q is not a SIP or tel URI", q, t)
		}
	}
	if c.Recognizer != voiceRecognizerFast && c.Recognizer != voiceRecognizerQueue {
		return fmt.Errorf("voice: recognizer must be %s or %s, got %q", voiceRecognizerFast, voiceRecognizerQueue, c.Recognizer)
	}
	if c.WarmCalls < 0 || c.WarmCalls > 64 {
		return fmt.Errorf("voice: warm_calls must be within 0-64, got %d", c.WarmCalls)
	}
	if c.MaxCalls < 1 || c.MaxCalls > 1000 {
		return fmt.Errorf("voice: max_calls must be within 1-1000, got %d", c.MaxCalls)
	}
	return c.Config.Validate()
}

// voiceStatusError refuses a bot call with a SIP status.
type voiceStatusError struct {
	status int
	msg    string
}

func (e *voiceStatusError) Error() string  { return e.msg }
func (e *voiceStatusError) SIPStatus() int { return e.status }
func (e *voiceStatusError) StatusCode() int {
	if e.status == 404 {
		return 404
	}
	return 503
}

// voiceOpener opens the engagements of bot calls: a voice engagement in
// the bot's queue, fed like any call (transcribed, stored sealed,
// analysed, redacted), whose caller turns drive the bot's session through
// the voice runtime.
type voiceOpener struct {
	m *mediaRouter
}

var _ voice.Opener = voiceOpener{}

// synthesizer returns a bot's voice: the speech front (built on first
// use from the tts: section) with the bot's voice and lexicon.
func (m *mediaRouter) synthesizer(def bot.Definition) (tts.Engine, error) {
	m.ttsOnce.Do(func() { m.tts, m.ttsErr = ttsengines.New(m.d.cfg.TTS, m.log, m.reg) })
	if m.ttsErr != nil {
		return nil, fmt.Errorf("speech synthesis: %w", m.ttsErr)
	}
	var b tts.Bot
	if v := def.Voice; v != nil {
		b.Lexicon = v.Lexicon
		if v.Engine != "" {
			lang := cmp.Or(v.Lang, def.Language, "en")
			b.Voices = map[string]tts.Voice{lang: {Engine: v.Engine, Voice: v.Voice}}
		}
	}
	if err := m.tts.SetBot(def.ID, b); err != nil {
		return nil, fmt.Errorf("speech synthesis: bot %s: %w", def.ID, err)
	}
	return m.tts.ForBot(def.ID), nil
}

func (o voiceOpener) OpenBot(ctx context.Context, call voice.Call) (ingest.Engagement, error) {
	d := o.m.d
	b := d.bots
	rec, err := d.store.Bot(call.Bot)
	if err != nil || rec.Published == 0 {
		b.m.refused.WithLabelValues("unpublished").Inc()
		return nil, &voiceStatusError{404, "bot " + call.Bot + " has no published version"}
	}
	e, err := b.engine(ctx, call.Bot, rec.Published)
	if err != nil {
		return nil, err
	}
	def := e.Definition()
	if !d.controls.EnabledForQueue(featureVirtualAgent, def.Queue) {
		b.m.refused.WithLabelValues("feature_off").Inc()
		return nil, &voiceStatusError{480, errBotFeatureOff.Error()}
	}
	cfg := o.settings(def)
	synth, err := o.m.synthesizer(def)
	if err != nil {
		return nil, &voiceStatusError{503, err.Error()}
	}
	if max := int64(d.cfg.Media.Voice.MaxCalls); o.m.voiceCalls.Add(1) > max {
		o.m.voiceCalls.Add(-1)
		o.m.voiceMetrics.Refused(call.Source, "max_calls")
		return nil, busyError{fmt.Errorf("voice: %d bot calls are open (media.voice.max_calls)", max)}
	}
	vc := &voiceCall{release: func() { o.m.voiceCalls.Add(-1) }}
	params := map[string]string{"queue": def.Queue, "direction": "inbound"}
	x := openExtras{
		flags: []string{flagBotPrefix + call.Bot, flagVersionPrefix + strconv.Itoa(rec.Published), "voice_bot"},
		onSpeechStart: func(party string) {
			if c := vc.conv.Load(); c != nil && party == string(ingest.PartyCustomer) {
				c.SpeechStarted()
			}
		},
		tap:      vc.hear,
		engine:   o.m.voiceEngine(),
		ownLimit: true,
	}
	live, pe, err := o.m.openWith(ctx, call.Source, nil, params, "", x)
	if err != nil {
		vc.release()
		return nil, err
	}
	vc.pe = pe
	live.Publish("voice.call", map[string]any{"bot": call.Bot, "version": rec.Published, "source": call.Source})
	now := time.Now()
	cctx, cancel := context.WithCancel(d.hub.Context())
	conv := &conversation{svc: b, bot: call.Bot, version: rec.Published, queue: def.Queue, live: live,
		ctx: cctx, cancel: cancel, done: make(chan struct{}), voice: true}
	conv.sess = e.NewSession(live.ID(), now)
	conv.lastActivity.Store(now.UnixNano())
	conv.active.Store(true)
	b.mu.Lock()
	b.convs[live.ID()] = conv
	b.mu.Unlock()
	vc.ing = &ingestEngagement{live: live, pe: pe}
	brain := &botBrain{c: conv, target: d.cfg.Media.Voice.TransferTargets[def.Queue], noInputEnd: noInputEnd(def)}
	static := staticPrompts(e, cfg)
	rt, err := voice.Start(cctx, cfg, call, voice.Deps{Brain: brain, TTS: synth, Transcript: &voiceTranscript{c: conv, pe: pe},
		Metrics: o.m.voiceMetrics, Logger: b.log, Static: func(text string) bool { return static[text] },
		Heard: func() (time.Time, bool) { return pe.Heard(string(ingest.PartyCustomer)) }})
	if err != nil {
		close(conv.done)
		vc.Close(err)
		return nil, err
	}
	vc.conv.Store(rt)
	go func() {
		<-rt.Done()
		close(conv.done)
	}()
	return vc, nil
}

// settings are a bot's turn-taking settings: the section's defaults with
// the bot's voice section over them.
func (o voiceOpener) settings(def bot.Definition) voice.Config {
	cfg := o.m.d.cfg.Media.Voice.Config
	cfg.Lang = def.Language
	v := def.Voice
	if v == nil {
		return cfg
	}
	if v.Lang != "" {
		cfg.Lang = v.Lang
	}
	if v.EndOfTurn != 0 {
		cfg.EndOfTurn = time.Duration(v.EndOfTurn)
	}
	if v.NoInput != 0 {
		cfg.NoInput = time.Duration(v.NoInput)
	}
	if v.NoInputRetries != nil {
		cfg.NoInputRetries = *v.NoInputRetries
	}
	if v.NoInputPrompt != "" {
		cfg.NoInputPrompt = v.NoInputPrompt
	}
	if v.BargeIn != nil {
		cfg.BargeIn = *v.BargeIn
	}
	return cfg
}

func noInputEnd(def bot.Definition) string {
	if def.Voice != nil && def.Voice.NoInputEnd != "" {
		return def.Voice.NoInputEnd
	}
	return "handover"
}

// voiceCall is the engagement a bot call's protocol feeds: the caller's
// audio goes to the pipeline as for any call; its segments and digits go
// to the voice runtime too.
type voiceCall struct {
	ing  *ingestEngagement
	pe   *pipeline.Engagement
	conv atomic.Pointer[voice.Conversation]
	// release gives the call's place under media.voice.max_calls back,
	// once.
	release   func()
	closeOnce sync.Once
}

var (
	_ ingest.Engagement   = (*voiceCall)(nil)
	_ ingest.DTMFReceiver = (*voiceCall)(nil)
	_ ingest.Ender        = (*voiceCall)(nil)
	_ ingest.Keeper       = (*voiceCall)(nil)
)

func (v *voiceCall) AddParty(p ingest.Party, f codec.Format, channel int) (ingest.Sink, error) {
	return v.ing.AddParty(p, f, channel)
}

func (v *voiceCall) Ended() <-chan struct{} { return v.ing.Ended() }
func (v *voiceCall) KeepAlive()             { v.ing.KeepAlive() }

// Close ends the conversation (the call is over), then the engagement.
func (v *voiceCall) Close(err error) {
	if c := v.conv.Load(); c != nil {
		c.Close()
	}
	v.ing.Close(err)
	v.closeOnce.Do(v.release)
}

// DTMF passes a digit to the bot. The event records only that a key was
// pressed: a bot's digits are slot values (account numbers, PINs), kept
// sealed with its result.
func (v *voiceCall) DTMF(p ingest.Party, digit string) {
	v.ing.live.Publish("dtmf", map[string]any{"party": string(p), "masked": true})
	if c := v.conv.Load(); c != nil {
		c.DTMF(digit)
	}
}

// hear passes the caller's segments to the runtime.
func (v *voiceCall) hear(s pipeline.Segment) {
	c := v.conv.Load()
	if c == nil || s.Party != string(ingest.PartyCustomer) || s.Revises != 0 {
		return
	}
	end := time.Now()
	if o := v.pe.Origin(); !o.IsZero() {
		end = o.Add(time.Duration(s.EndMs) * time.Millisecond)
	}
	c.Hear(voice.Heard{Text: s.Text, Final: s.Final, End: end})
}

// botBrain is a bot session seen by the voice runtime.
type botBrain struct {
	c          *conversation
	target     string
	noInputEnd string
}

func (b *botBrain) Greet(context.Context) voice.Reply {
	return b.reply(b.c.sess.Greeting())
}

// earlyConfidence is the intent detector's confidence above which a
// partial hypothesis starts the intent's flow before the caller's turn
// has ended.
const earlyConfidence = 0.9

// early reports whether the session may act on a partial hypothesis:
// a request for a person (answered the same at any step), or an intent
// read with high confidence at a step waiting for one, whose answer is a
// flow (a knowledge-base answer would answer the words heard so far, not
// the caller's whole question). Anything else waits for the whole turn.
func early(p bot.Peek) bool {
	if p.HumanRequest {
		return true
	}
	return p.Waiting == bot.WaitingIntent && p.Intent != nil && p.Intent.InScope &&
		p.Answer == "flow" && p.Intent.Confidence >= earlyConfidence
}

func (b *botBrain) Hear(ctx context.Context, in voice.Input) voice.Reply {
	c := b.c
	agentic := true
	if in.Partial {
		if !c.active.Load() || !early(c.sess.Peek(in.Text)) {
			return voice.Reply{Defer: true}
		}
		// Decided on the detector's reading, not the model's.
		agentic = false
	}
	c.lastActivity.Store(time.Now().UnixNano())
	if !c.active.Load() {
		return voice.Reply{}
	}
	switch {
	case !c.svc.d.controls.EnabledForQueue(featureVirtualAgent, c.queue):
		return b.reply(c.sess.Handover("virtual_agent_off", c.sess.Unavailable()))
	case in.Kind == voice.InputNoInput && b.noInputEnd == "end":
		return voice.Reply{End: "no_input"}
	case in.Kind == voice.InputNoInput:
		return b.reply(c.sess.Handover("no_input", c.sess.Unavailable()))
	}
	return b.reply(c.sess.Handle(ctx, bot.Input{Text: in.Text, Time: in.At, Agentic: agentic}))
}

// reply turns a bot turn into what the runtime does: its messages spoken
// (the speech front applies the bot's lexicon), DTMF collection when the slot it asks for
// takes digits, the hand-over to the queue's transfer target.
func (b *botBrain) reply(t bot.Turn) voice.Reply {
	var r voice.Reply
	for _, m := range t.Messages {
		r.Say = append(r.Say, m.Text)
	}
	if _, _, dt, ok := b.c.sess.Asking(); ok && dt != nil {
		r.Digits = &voice.DigitSpec{Max: dt.Max, Terminator: dt.Terminator}
	}
	switch {
	case t.Handover != nil:
		b.c.active.Store(false)
		b.c.mu.Lock()
		b.c.handover, b.c.handedAt = t.Handover, time.Now().UTC()
		b.c.mu.Unlock()
		r.Handover = &voice.Handover{Reason: t.Handover.Reason, Target: b.target}
	case t.End != "":
		b.c.active.Store(false)
		r.End = t.End
	}
	return r
}

// voiceTranscript stores the bot's prompts as the engagement's bot
// segments, timed on its media clock, and publishes the hand-over with the
// bot's transcript and slots for the agent.
type voiceTranscript struct {
	c  *conversation
	pe *pipeline.Engagement

	mu sync.Mutex
	// +checklocks:mu
	lastEnd int64
}

func (t *voiceTranscript) BotSaid(text string, start, end time.Time) {
	o := t.pe.Origin()
	if o.IsZero() {
		o = t.c.live.Engagement().Start
	}
	s, e := start.Sub(o).Milliseconds(), end.Sub(o).Milliseconds()
	t.mu.Lock()
	s = max(s, 0, t.lastEnd)
	e = max(e, s)
	t.lastEnd = e
	t.mu.Unlock()
	seg := store.Segment{Speaker: string(inference.PartyBot), StartMs: s, EndMs: e, Text: text}
	if err := t.c.live.SubmitWait(t.c.ctx, seg); err != nil && t.c.ctx.Err() == nil && !errors.Is(err, hub.ErrNotLive) {
		t.c.svc.log.Error("bot prompt not stored", "engagement", t.c.live.ID(), "err", err)
	}
	t.c.live.Publish(EventBotMessage, botMessage{Text: text, Kind: "voice"})
}

func (t *voiceTranscript) Ended(kind, reason string, transferred bool) {
	c := t.c
	if kind != "handover" {
		return
	}
	c.mu.Lock()
	h := c.handover
	c.mu.Unlock()
	if h == nil {
		h = &bot.Handover{Reason: reason, Slots: c.sess.Slots()}
	}
	e := c.live.Engagement()
	flags := append(slices.Clone(e.Flags), flagHandover)
	if err := c.svc.d.store.SetFlags(context.WithoutCancel(c.ctx), e.ID, flags); err != nil {
		c.svc.log.Error("hand-over flag not stored", "engagement", e.ID, "err", err)
	}
	c.live.Publish(EventBotHandover, map[string]any{"bot": c.bot, "version": c.version, "reason": h.Reason, "intent": h.Intent,
		"slots": h.Slots, "transferred": transferred})
}

// voiceEngine names the recogniser of bot calls for the pipeline ("" for
// the queue's engine).
func (m *mediaRouter) voiceEngine() string {
	if m.d.cfg.Media.Voice.Recognizer == voiceRecognizerFast {
		return enginePocketSphinxFast
	}
	return ""
}

// staticPrompts are the texts a bot call may take from the speech cache:
// the bot's fixed wording and the no-input reprompt.
func staticPrompts(e *bot.Engine, cfg voice.Config) map[string]bool {
	out := map[string]bool{}
	for _, p := range e.StaticPrompts() {
		out[p] = true
	}
	if cfg.NoInputPrompt != "" {
		out[cfg.NoInputPrompt] = true
	}
	return out
}

// warmBot asks for a bot's calls to be made ready (after a publish); a
// full queue drops the request, the first call then does the work.
func (m *mediaRouter) warmBot(id string) {
	select {
	case m.warmQ <- id:
	default:
	}
}

// runWarm readies bot calls ahead of them, so that a call's first turn
// is answered as fast as the next: at start the recognisers of
// media.voice.warm_calls calls and every published bot that answers
// calls (its intent model, its voice, the speech of its fixed prompts);
// then each bot published after. A bot answers calls when a SIP address
// routes to it or its definition has a voice section.
func (m *mediaRouter) runWarm(ctx context.Context) error {
	vc := m.d.cfg.Media.Voice
	sipBots := map[string]bool{}
	for _, id := range m.d.cfg.Media.SIP.Bots {
		sipBots[id] = true
	}
	warmed := false
	warm := func(id string) {
		start := time.Now()
		rec, err := m.d.store.Bot(id)
		if err != nil || rec.Published == 0 {
			return
		}
		if !sipBots[id] {
			// Only a bot with a voice section answers calls: its engine
			// (a trained intent model) is not built for chat bots here.
			v, err := m.d.store.BotVersion(id, rec.Published)
			if err != nil {
				return
			}
			if def, err := bot.Decode(v.Definition, bot.JSON); err != nil || def.Voice == nil {
				return
			}
		}
		e, err := m.d.bots.engine(ctx, id, rec.Published)
		if err != nil {
			m.voiceMetrics.Warmed(false)
			m.log.Warn("bot not warmed for calls", "bot", id, "err", err)
			return
		}
		def := e.Definition()
		if !warmed && vc.WarmCalls > 0 {
			warmed = true
			opts := stt.StreamOptions{Narrowband: true, Profile: def.Queue, Engine: m.voiceEngine()}
			if err := voice.WarmRecognizer(ctx, m.engine, opts, vc.WarmCalls); err != nil {
				m.log.Warn("bot call recognisers not warmed", "err", err)
			}
		}
		synth, err := m.synthesizer(def)
		if err != nil {
			m.voiceMetrics.Warmed(false)
			m.log.Warn("bot voice not warmed", "bot", id, "err", err)
			return
		}
		cfg := voiceOpener{m}.settings(def)
		static := slices.Sorted(maps.Keys(staticPrompts(e, cfg)))
		rates := []int{8000} // SIP, Twilio, a G.711 widget call
		if def.Widget.Enabled {
			rates = append(rates, 16000) // the widget's Opus call
		}
		err = voice.WarmSpeech(ctx, synth, voice.Prompts{Voice: cfg.Voice, Lang: cfg.Lang, Rates: rates, Static: static, ChunkChars: cfg.ChunkChars})
		m.voiceMetrics.Warmed(err == nil)
		if err != nil {
			m.log.Warn("bot prompts not synthesised ahead", "bot", id, "err", err)
			return
		}
		m.log.Info("bot calls warmed", "bot", id, "version", rec.Published, "prompts", len(static), "took", time.Since(start).Round(time.Millisecond))
	}
	bots, err := m.d.store.Bots(ctx)
	if err != nil && ctx.Err() == nil {
		m.log.Warn("bots not warmed for calls", "err", err)
	}
	for _, b := range bots {
		if ctx.Err() != nil {
			return nil
		}
		warm(b.ID)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-m.warmQ:
			warm(id)
		}
	}
}
