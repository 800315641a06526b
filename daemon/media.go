package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/daemon/guard"
	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/media/analyze"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/stt/pool"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/voice"
	"github.com/earshot/earshot/media/whip"
	"github.com/earshot/earshot/media/wsstream"
	"github.com/earshot/earshot/store"
)

// MediaConfig configures speech-to-text and the ingest paths.
type MediaConfig struct {
	// Engine is the speech-to-text engine: pocketsphinx (default),
	// whisper-http (the Whisper-class servers of Whisper transcribe each
	// utterance, PocketSphinx when none can), two-pass (PocketSphinx live,
	// each final revised by a server) or none (audio is received and
	// counted, nothing is recognised: for capacity tests of the ingest
	// paths).
	Engine       string              `yaml:"engine"`
	PocketSphinx pocketsphinx.Config `yaml:"pocketsphinx"`
	// Whisper is the pool of Whisper-class servers of whisper-http and
	// two-pass.
	Whisper pool.Config `yaml:"whisper"`
	// Queues overrides settings per queue ID (engine).
	Queues map[string]QueueMediaConfig `yaml:"queues"`
	// DomainLM builds a language model per queue from the site's text.
	DomainLM  DomainLMConfig  `yaml:"domain_lm"`
	Pipeline  pipeline.Config `yaml:"pipeline"`
	WHIP      whip.Config     `yaml:"whip"`
	WebSocket wsstream.Config `yaml:"websocket"`
	SIP       SIPConfig       `yaml:"sip"`   // SIP and SIPREC ingest, see sip.go
	Voice     VoiceConfig     `yaml:"voice"` // bot calls, see voice.go
	// MaxUploadBytes bounds an uploaded file. Default 256 MiB.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
}

// DefaultMediaConfig returns the media defaults.
func DefaultMediaConfig() MediaConfig {
	return MediaConfig{
		Engine:         "pocketsphinx",
		PocketSphinx:   pocketsphinx.DefaultConfig(),
		Whisper:        pool.DefaultConfig(),
		DomainLM:       DefaultDomainLMConfig(),
		Pipeline:       pipeline.DefaultConfig(),
		WHIP:           whip.DefaultConfig(),
		WebSocket:      wsstream.DefaultConfig(),
		Voice:          DefaultVoiceConfig(),
		MaxUploadBytes: 256 << 20,
	}
}

// Validate checks the media configuration.
func (c MediaConfig) Validate() error {
	if err := validEngine(c.Engine, len(c.Whisper.Servers)); err != nil {
		return err
	}
	local := c.Engine != engineNone
	for id, q := range c.Queues {
		if q.Engine == "" {
			continue
		}
		if err := validEngine(q.Engine, len(c.Whisper.Servers)); err != nil {
			return fmt.Errorf("queues.%s.%w", id, err)
		}
		local = local || q.Engine != engineNone
	}
	if local {
		if err := c.PocketSphinx.Validate(); err != nil {
			return err
		}
	}
	if len(c.Whisper.Servers) > 0 {
		if err := c.Whisper.Validate(); err != nil {
			return fmt.Errorf("whisper: %w", err)
		}
	}
	if err := c.DomainLM.Validate(); err != nil {
		return err
	}
	if c.MaxUploadBytes < 1<<20 {
		return fmt.Errorf("max_upload_bytes must be at least 1 MiB, got %d", c.MaxUploadBytes)
	}
	for _, v := range []interface{ Validate() error }{c.Pipeline, c.WHIP, c.WebSocket, c.SIP, c.Voice} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// silentEngine recognises nothing: engine "none".
type silentEngine struct{}

func (silentEngine) NewStream(context.Context, stt.StreamOptions) (stt.Stream, error) {
	return silentStream{}, nil
}
func (silentEngine) Name() string { return "none" }

type silentStream struct{}

func (silentStream) Write([]int16) ([]stt.Result, error) { return nil, nil }
func (silentStream) EndUtterance() ([]stt.Result, error) { return nil, nil }
func (silentStream) Close() error                        { return nil }

// mediaRouter wires the ingest paths to the engagement hub: every session
// opens a hub engagement and a pipeline engagement, and a bridge goroutine
// moves transcript segments from the pipeline into the hub.
type mediaRouter struct {
	d        *Daemon
	engine   *engines
	lm       *lmRunner
	pipeline *pipeline.Pipeline
	analyzer *analyze.Analyzer
	whip     *whip.Server
	// whipHandler serves the WHIP routes under /api/v1/ingest/whip.
	whipHandler http.Handler
	ws          *wsstream.Server
	bridges     sync.WaitGroup
	// Bot calls (voice.go): the speech synthesisers, made on first use.
	voiceMetrics *voice.Metrics
	ttsOnce      sync.Once
	tts          *tts.Front
	ttsErr       error
	log          *slog.Logger
	reg          prometheus.Registerer

	// whipVoice serves the voice widget's calls under /chat/{bot}/voice
	// (voice_web.go); voiceWidgets maps them to their bots.
	whipVoice    http.Handler
	voiceWidgets widgetCalls
	// warmQ are the bots to make ready for calls (voice.go, runWarm).
	warmQ chan string
	// voiceCalls counts the open bot calls (media.voice.max_calls).
	voiceCalls atomic.Int64

	mu sync.Mutex
	// whipOwners ties each open WHIP session to the token that created it.
	// +checklocks:mu
	whipOwners map[string]string
}

func newMediaRouter(d *Daemon, cfg MediaConfig, logger *slog.Logger, reg prometheus.Registerer) (*mediaRouter, error) {
	m := &mediaRouter{d: d, whipOwners: map[string]string{}, log: logger, reg: reg, warmQ: make(chan string, 16)}
	m.engine = newEngines(cfg, logger, reg, d.controls.LocalModelsOnly)
	var err error
	if cfg.DomainLM.Enabled {
		if m.lm, err = startLM(d, cfg, m.engine, logger, reg); err != nil {
			return nil, err
		}
	}
	if m.pipeline, err = pipeline.New(cfg.Pipeline, logger, reg, m.engine); err != nil {
		return nil, err
	}
	if m.analyzer, err = analyze.New(m.pipeline, logger, reg); err != nil {
		return nil, err
	}
	if m.whip, err = whip.New(cfg.WHIP, logger, reg, whipOpener{m}); err != nil {
		return nil, err
	}
	m.whipHandler = m.whip.Handler("/api/v1/ingest/whip")
	m.whipVoice = m.whip.VoiceHandler("/chat/{bot}/voice")
	if m.voiceMetrics, err = voice.NewMetrics(reg); err != nil {
		m.whip.Close()
		return nil, err
	}
	if m.ws, err = wsstream.New(cfg.WebSocket, logger, reg, wsOpener{m}); err != nil {
		m.whip.Close()
		return nil, err
	}
	return m, nil
}

// close ends every ingest session, waits until their last segments
// reached the hub, and releases the recognisers.
func (m *mediaRouter) close() {
	m.whip.Close()
	m.ws.Close()
	m.bridges.Wait()
	m.lm.close()
	m.engine.Close()
}

// fieldError is an engagement metadata error naming its field; ingest
// servers send its text to the client.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string   { return e.field + ": " + e.msg }
func (e *fieldError) StatusCode() int { return http.StatusBadRequest }

// busyError makes a hub refusal look like the pipeline's, which the
// ingest servers map to 503 / 1013.
type busyError struct{ err error }

func (e busyError) Error() string { return e.err.Error() }
func (e busyError) Unwrap() []error {
	return []error{e.err, pipeline.ErrBusy}
}

// engagementFromQuery reads engagement metadata from ingest query
// parameters (and, for WebSocket streams, the platform's custom
// parameters, which the query overrides).
func (d *Daemon) engagementFromQuery(q url.Values, params map[string]string) (store.Engagement, error) {
	get := func(k string) string {
		if v := q.Get(k); v != "" {
			return v
		}
		return params[k]
	}
	req := engagementRequest{Account: get("account"), Queue: get("queue"), Agent: get("agent"),
		CustomerRef: get("customer_ref"), Channel: "voice", Direction: get("direction")}
	if req.Direction == "" {
		req.Direction = "inbound"
	}
	return d.validateEngagement(req)
}

// scopeError refuses an ingest session outside its caller's scope; ingest
// servers send its text to the client with its status.
type scopeError struct{ msg string }

func (e *scopeError) Error() string   { return e.msg }
func (e *scopeError) StatusCode() int { return http.StatusForbidden }

// open starts a voice engagement for an ingest session. The caller in ctx
// must be allowed to feed the engagement's queue through source, wherever
// the queue came from (query, Twilio customParameters, stream metadata);
// SIP calls carry no caller and are checked against the SIP section's
// queues by their opener.
func (m *mediaRouter) open(ctx context.Context, source string, q url.Values, params map[string]string, remote string) (*hub.Live, *pipeline.Engagement, error) {
	return m.openWith(ctx, source, q, params, remote, openExtras{})
}

// openExtras are what a bot call adds to an ingest engagement: its flags,
// and taps on the caller's speech starts and segments for the voice
// runtime.
type openExtras struct {
	flags         []string
	onSpeechStart func(party string)
	tap           func(pipeline.Segment)
	engine        string // the recogniser's engine, "" for the queue's
	ownLimit      bool   // bounded by media.voice.max_calls, not the pipeline's max_engagements
}

func (m *mediaRouter) openWith(ctx context.Context, source string, q url.Values, params map[string]string, remote string, x openExtras) (*hub.Live, *pipeline.Engagement, error) {
	d := m.d
	e, err := d.engagementFromQuery(q, params)
	if err != nil {
		d.hub.CountRefused("invalid")
		return nil, nil, err
	}
	e.Flags = append(e.Flags, x.flags...)
	if p := PrincipalFrom(ctx); p != nil {
		if err := p.mayFeed(e.Queue, feedSource(source)); err != nil {
			d.hub.CountRefused("scope")
			d.metrics.authFails.WithLabelValues("ingest_scope").Inc()
			return nil, nil, &scopeError{"queue " + e.Queue + " through " + source + " is " + err.Error()}
		}
	} else if source != "sip" && !publicBotCall(ctx) {
		d.hub.CountRefused("scope")
		return nil, nil, &scopeError{"no authenticated caller"}
	}
	audit := store.AuditEntry{Actor: "ingest:" + source, Action: "engagement.create", Target: "queue:" + e.Queue,
		Detail: map[string]string{"source": source, "remote": remote}}
	holder := ""
	if p := PrincipalFrom(ctx); p != nil {
		audit.Actor = p.User.ID
		audit.Detail["token"] = p.Token.ID
		holder = p.Token.ID
	}
	live, err := d.hub.StartAs(ctx, e, source, holder, audit)
	if err != nil {
		if errors.Is(err, hub.ErrBusy) {
			return nil, nil, busyError{err}
		}
		return nil, nil, err
	}
	pe, err := m.pipeline.Open(d.hub.Context(), pipeline.OpenOptions{ID: live.ID(), Source: source, Profile: e.Queue, Engine: x.engine, OwnLimit: x.ownLimit,
		OnSpeechStart: x.onSpeechStart})
	if err != nil {
		live.End("refused")
		return nil, nil, err
	}
	live.Touch() // the media clock starts now: Open may have waited for a recogniser
	d.quality.origins.Store(live.ID(), pe.Origin)
	m.bridges.Add(1)
	go func() {
		defer m.bridges.Done()
		defer d.quality.origins.Delete(live.ID())
		m.bridge(live, pe, x.tap)
	}()
	return live, pe, nil
}

// bridge moves the pipeline's segments into the hub until the pipeline
// closes its channel, then ends the engagement.
func (m *mediaRouter) bridge(live *hub.Live, pe *pipeline.Engagement, tap func(pipeline.Segment)) {
	for s := range pe.Segments() {
		live.Touch()
		if tap != nil {
			tap(s)
		}
		switch {
		case s.Revises != 0:
			// A second recogniser's transcript of an utterance replaces
			// its first final (two-pass).
			live.Revise(s.Revises, storeSegment(s))
		case s.Final:
			live.SubmitKeyed(s.Seq, storeSegment(s))
		default:
			live.Submit(storeSegment(s))
		}
	}
	live.End("media_end")
}

func storeSegment(s pipeline.Segment) store.Segment {
	seg := store.Segment{Speaker: s.Party, StartMs: s.StartMs, EndMs: s.EndMs, Text: s.Text, Final: s.Final}
	for _, w := range s.Words {
		seg.Words = append(seg.Words, store.Word{Text: w.Text, StartMs: w.StartMs, EndMs: w.EndMs, Confidence: float32(min(max(w.Confidence, 0), 1))})
	}
	return seg
}

// touchParty marks the engagement alive on every packet, holding off the
// media timeout.
type touchParty struct {
	ingest.Sink
	live *hub.Live
}

func (t *touchParty) WriteRTP(seq uint16, ts uint32, payload []byte) error {
	t.live.Touch()
	return t.Sink.WriteRTP(seq, ts, payload)
}

func (t *touchParty) Write(payload []byte) error {
	t.live.Touch()
	return t.Sink.Write(payload)
}

// Unwrap lets ingest.Place reach the pipeline party.
func (t *touchParty) Unwrap() ingest.Sink { return t.Sink }

type whipOpener struct{ m *mediaRouter }

func (o whipOpener) Open(ctx context.Context, meta whip.Meta) (ingest.Engagement, error) {
	if bc := botCallFrom(ctx); bc != nil {
		return o.m.openBotCall(ctx, bc, sourceWebRTC, "", meta.Leg)
	}
	live, pe, err := o.m.open(ctx, sourceWHIP, meta.Query, nil, meta.RemoteAddr)
	if err != nil {
		return nil, err
	}
	e := &ingestEngagement{live: live, pe: pe}
	if fc := feedConnFrom(ctx); fc != nil {
		fc.set(e)
	}
	return e, nil
}

type wsOpener struct{ m *mediaRouter }

func (o wsOpener) Open(ctx context.Context, meta wsstream.Meta) (ingest.Engagement, error) {
	if bc := botCallFrom(ctx); bc != nil {
		return o.m.openBotCall(ctx, bc, sourceTwilio, meta.Params["from"], meta.Leg)
	}
	live, pe, err := o.m.open(ctx, sourceWebSocket, meta.Query, meta.Params, meta.RemoteAddr)
	if err != nil {
		return nil, err
	}
	e := &ingestEngagement{live: live, pe: pe}
	if fc := feedConnFrom(ctx); fc != nil {
		fc.set(e)
	}
	return e, nil
}

// bindWHIP ties WHIP session id, whose engagement is e, to the token of p:
// only that token (or an administrator) may manage it, and the session
// ends as soon as that token may no longer feed its queue.
func (m *mediaRouter) bindWHIP(id string, p *Principal, e *ingestEngagement) {
	fc := &feedConn{source: sourceWHIP}
	fc.set(e)
	ctx, release := m.d.holdPrincipal(context.Background(), "whip", p, ingestRoles, fc.stillFeeds)
	stop := context.AfterFunc(ctx, func() {
		if guard.Withdrawn(ctx) {
			m.whip.End(id, "withdrawn")
		}
	})
	m.mu.Lock()
	m.whipOwners[id] = p.Token.ID
	m.mu.Unlock()
	end := func() {
		stop()
		release()
		m.mu.Lock()
		delete(m.whipOwners, id)
		m.mu.Unlock()
	}
	if !e.onClose(end) {
		end() // the session ended already
	}
}

// mayManageWHIP reports whether p may trickle to or end WHIP session id:
// the token that created it may, and administrators.
func (m *mediaRouter) mayManageWHIP(id string, p *Principal) bool {
	if p.Role() == RoleAdmin {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	owner, ok := m.whipOwners[id]
	return ok && owner == p.Token.ID
}

// ingestEngagement connects an ingest session (WHIP, WebSocket, SIP) to
// its hub engagement and pipeline engagement.
type ingestEngagement struct {
	live *hub.Live
	pe   *pipeline.Engagement

	mu sync.Mutex
	// +checklocks:mu
	closed bool
	// +checklocks:mu
	closers []func()
}

// onClose runs f when the session closes; false (and f not kept) when it
// has closed already.
func (e *ingestEngagement) onClose(f func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.closers = append(e.closers, f)
	return true
}

var (
	_ ingest.Engagement   = (*ingestEngagement)(nil)
	_ ingest.DTMFReceiver = (*ingestEngagement)(nil)
	_ ingest.Ender        = (*ingestEngagement)(nil)
	_ ingest.Keeper       = (*ingestEngagement)(nil)
)

// Ended is closed when the hub ends the engagement (media timeout,
// shutdown, or the daemon ending it): the ingest session then ends its
// call, stream or WHIP session.
func (e *ingestEngagement) Ended() <-chan struct{} { return e.live.Stopped() }

// KeepAlive holds off the hub's media timeout while a session is silent
// within its protocol's own limit (a SIP call on hold).
func (e *ingestEngagement) KeepAlive() { e.live.Touch() }

// AddParty adds the party to the pipeline engagement; its segments carry
// the party as speaker.
func (e *ingestEngagement) AddParty(p ingest.Party, f codec.Format, channel int) (ingest.Sink, error) {
	sink, err := ingest.FromPipeline(e.pe).AddParty(p, f, channel)
	if err != nil {
		return nil, err
	}
	return &touchParty{Sink: sink, live: e.live}, nil
}

// partyName maps the parties named by an upload to transcript speakers.
func partyName(n string) string {
	switch inference.Party(n) {
	case inference.PartyCustomer, inference.PartyAgent, inference.PartyBot:
		return n
	}
	return "mixed"
}

func (e *ingestEngagement) Close(err error) {
	e.mu.Lock()
	e.closed = true
	fs := e.closers
	e.closers = nil
	e.mu.Unlock()
	for _, f := range fs {
		f()
	}
	e.pe.Close()
}

// DTMF records a DTMF digit as an event; digits are sensitive and never
// enter the transcript text. During a payment step the event says only
// that a key was pressed: the digits are a card's.
func (e *ingestEngagement) DTMF(p ingest.Party, digit string) {
	if e.live.PaymentStep() {
		e.live.Publish("dtmf", map[string]any{"party": string(p), "masked": true})
		return
	}
	e.live.Publish("dtmf", map[string]string{"party": string(p), "digit": digit})
}
