package daemon

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/voice"
	"github.com/earshot/earshot/store"
)

// Bot calls over the web: a Twilio bidirectional Media Stream aimed at a
// bot (GET /api/v1/bots/{id}/voice/twilio, an ingest token whose queues
// include the bot's queue, through source websocket), and the voice
// widget's WebRTC call (POST /chat/{bot}/voice, the bot's public key, an
// allowed origin and the widget's limits, as the chat widget). Both reuse
// the ingest servers (limits, metrics, bad-input handling) and hand their
// two-way leg to the voice runtime (voiceOpener).

// Sources of web bot calls (voice.Call.Source), and the ingest source an
// ingest token's scope names for them.
const (
	sourceTwilio = "twilio"
	sourceWebRTC = "webrtc"
)

// feedSource is the token source that governs a call from source.
func feedSource(source string) string {
	switch source {
	case sourceTwilio:
		return sourceWebSocket
	case sourceWebRTC:
		return sourceWHIP
	}
	return source
}

// botCall is what a web bot call's route learned before the protocol
// server took over, carried in the request's context to the opener.
type botCall struct {
	bot string
	// public: the widget's route checked the bot's key and origin; the
	// call has no authenticated caller.
	public bool
	// release frees the widget's slot once the call's engagement closes.
	release func()
}

type botCallKey struct{}

func withBotCall(ctx context.Context, bc *botCall) context.Context {
	return context.WithValue(ctx, botCallKey{}, bc)
}

func botCallFrom(ctx context.Context) *botCall {
	bc, _ := ctx.Value(botCallKey{}).(*botCall)
	return bc
}

// publicBotCall reports whether ctx carries a widget call, whose key and
// origin were checked instead of a token.
func publicBotCall(ctx context.Context) bool {
	bc := botCallFrom(ctx)
	return bc != nil && bc.public
}

// errNoLeg refuses a bot stream that cannot carry audio back (a raw PCM
// stream on the Twilio route).
var errNoLeg = &scopeError{"a bot call needs a Twilio Media Stream (two-way audio)"}

// openBotCall opens the engagement of a web bot call through the voice
// runtime.
func (m *mediaRouter) openBotCall(ctx context.Context, bc *botCall, source, caller string, leg voice.Leg) (ingest.Engagement, error) {
	if leg == nil {
		return nil, errNoLeg
	}
	eng, err := voiceOpener{m}.OpenBot(ctx, voice.Call{Bot: bc.bot, Source: source, Caller: caller, Leg: leg})
	if err != nil {
		return nil, err
	}
	if bc.release == nil {
		return eng, nil
	}
	return &releasing{Engagement: eng, release: bc.release}, nil
}

// releasing calls release when the engagement closes; it passes on the
// optional interfaces the ingest servers use.
type releasing struct {
	ingest.Engagement
	release func()
}

func (e *releasing) Close(err error) {
	e.Engagement.Close(err)
	e.release()
}

func (e *releasing) Ended() <-chan struct{} { return ingest.EndedOf(e.Engagement) }

func (e *releasing) KeepAlive() {
	if k, ok := e.Engagement.(ingest.Keeper); ok {
		k.KeepAlive()
	}
}

func (e *releasing) DTMF(p ingest.Party, digit string) {
	if d, ok := e.Engagement.(ingest.DTMFReceiver); ok {
		d.DTMF(p, digit)
	}
}

func (d *Daemon) voiceWebRoutes() []route {
	return []route{
		{"GET", "/api/v1/bots/{id}/voice/twilio", ingestRoles, "Twilio bidirectional Media Stream answered by the bot (token's queues must include the bot's queue, source websocket)", d.twilioBotStream},
		{"POST", "/chat/{bot}/voice", nil, "The voice widget's WebRTC call (SDP offer in, answer out): the bot's public key, an allowed origin, rate limits", d.widgetVoice},
		{"PATCH", "/chat/{bot}/voice/{id}", nil, "The voice widget's call: trickle ICE candidates", d.widgetVoiceSession},
		{"DELETE", "/chat/{bot}/voice/{id}", nil, "The voice widget's call: hang up", d.widgetVoiceSession},
		{"OPTIONS", "/chat/{bot}/voice", nil, "CORS preflight of the voice widget's call from an allowed site", d.widgetVoicePreflight},
		{"OPTIONS", "/chat/{bot}/voice/{id}", nil, "CORS preflight of the voice widget's hang-up and trickle from an allowed site", d.widgetVoicePreflight},
	}
}

// twilioBotStream serves a Twilio stream that the bot answers. The
// token's scope is checked against the bot's queue now and whenever
// tokens or scopes change (the stream ends when it no longer holds).
func (d *Daemon) twilioBotStream(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	rec, err := d.store.Bot(id)
	if err != nil || rec.Published == 0 {
		d.bots.m.refused.WithLabelValues("unpublished").Inc()
		d.metrics.badInput.WithLabelValues(r.Pattern).Inc()
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such published bot")
		return
	}
	e, err := d.bots.engine(r.Context(), id, rec.Published)
	if err != nil {
		d.botStartError(w, r, err)
		return
	}
	queue := e.Definition().Queue
	if !d.checkFeed(w, r, p, queue, sourceWebSocket) {
		return
	}
	ctx, release := d.holdPrincipal(r.Context(), "websocket", p, ingestRoles, func(_ context.Context, fresh *Principal) error {
		return fresh.mayFeed(queue, sourceWebSocket)
	})
	defer release()
	d.media.ws.ServeHTTP(w, r.WithContext(withBotCall(ctx, &botCall{bot: id})))
}

// widgetCalls maps the voice widget's open WebRTC sessions to their bots.
type widgetCalls struct {
	mu sync.Mutex
	// +checklocks:mu
	byID map[string]string
}

func (c *widgetCalls) bot(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

func (c *widgetCalls) set(id, bot string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]string{}
	}
	if bot == "" {
		delete(c.byID, id)
		return
	}
	c.byID[id] = bot
}

// widgetVoice starts the voice widget's call: the same checks and limits
// as the chat widget's connection (the bot's key, an allowed origin, open
// calls per bot, new calls per address per minute), then the WHIP server's
// two-way session.
func (d *Daemon) widgetVoice(w http.ResponseWriter, r *http.Request, _ *Principal) {
	id := r.PathValue("bot")
	b, def, ok := d.widgetBotOrRefuse(w, r, id)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("key")), []byte(b.WidgetKey)) != 1 {
		d.widgetRefuse(w, r, http.StatusForbidden, "key", "the bot's public key is missing or out of date")
		return
	}
	if !originAllowed(r, def.Widget.AllowedOrigins) {
		d.widgetRefuse(w, r, http.StatusForbidden, "origin", fmt.Sprintf("origin %q may not call this bot", r.Header.Get("Origin")))
		return
	}
	allowCORS(w, r)
	if !d.bots.limits.openWidget(id, def.Widget.MaxSessions) {
		d.widgetRefuse(w, r, http.StatusServiceUnavailable, "capacity", "the bot is at capacity; try again shortly")
		return
	}
	if !d.bots.limits.newSession(remoteAddr(r), def.Widget.SessionsPerMinute, time.Now()) {
		d.bots.limits.closeWidget(id)
		d.widgetRefuse(w, r, http.StatusTooManyRequests, "rate", "too many new calls from this address")
		return
	}
	var sessionID string
	done := make(chan struct{})
	release := sync.OnceFunc(func() {
		close(done)
		d.bots.limits.closeWidget(id)
		if sessionID != "" {
			d.media.voiceWidgets.set(sessionID, "")
		}
	})
	d.media.whipVoice.ServeHTTP(w, r.WithContext(withBotCall(r.Context(), &botCall{bot: id, public: true, release: release})))
	loc := w.Header().Get("Location")
	if loc == "" {
		release() // refused: the WHIP server counted and answered it
		return
	}
	sessionID = path.Base(loc)
	d.media.voiceWidgets.set(sessionID, id)
	if err := d.store.AppendAudit(r.Context(), store.AuditEntry{Actor: "widget", Action: "bot.voice_call", Target: "bot:" + id,
		Detail: map[string]string{"session": sessionID}}); err != nil {
		d.logger.Error("audit append failed", "action", "bot.voice_call", "err", err)
	}
	go d.watchWidgetCall(id, sessionID, b.WidgetKey, r, done) // #nosec G118 -- the call outlives its POST; the watcher ends with the call (done)
}

// watchWidgetCall ends a widget call when its bot's key is rotated, the
// bot is unpublished or its widget turned off, or the call's origin is no
// longer allowed.
func (d *Daemon) watchWidgetCall(id, session, key string, r *http.Request, done <-chan struct{}) {
	tick := time.NewTicker(recheckInterval)
	defer tick.Stop()
	origin := r.Header.Get("Origin")
	for {
		select {
		case <-done:
			return
		case <-d.changes.C():
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nb, ndef, _, err := d.widgetBot(ctx, id)
		cancel()
		switch {
		case err != nil:
		case nb.WidgetKey != key:
			err = errors.New("key rotated")
		case !originStillAllowed(r, origin, ndef.Widget.AllowedOrigins):
			err = errors.New("origin no longer allowed")
		}
		if err != nil {
			d.media.whip.End(session, "withdrawn")
			return
		}
	}
}

func originStillAllowed(r *http.Request, origin string, allowed []string) bool {
	o := normalizeOrigin(origin)
	if o == ownOrigin(r) {
		return true
	}
	for _, a := range normalizeAll(allowed) {
		if a == o {
			return true
		}
	}
	return false
}

// widgetVoiceSession passes a PATCH or DELETE on a widget call to the WHIP
// server when the session is that bot's widget call.
func (d *Daemon) widgetVoiceSession(w http.ResponseWriter, r *http.Request, _ *Principal) {
	if d.media.voiceWidgets.bot(r.PathValue("id")) != r.PathValue("bot") {
		d.widgetRefuse(w, r, http.StatusNotFound, "unknown_call", "no such call")
		return
	}
	if _, def, _, err := d.widgetBot(r.Context(), r.PathValue("bot")); err == nil && originAllowed(r, def.Widget.AllowedOrigins) {
		allowCORS(w, r)
	}
	d.media.whipVoice.ServeHTTP(w, r)
}

// widgetVoicePreflight answers a browser's CORS preflight for a site in
// the bot's widget.allowed_origins (the call's POST carries an SDP body,
// and the widget reads the answer's Location).
func (d *Daemon) widgetVoicePreflight(w http.ResponseWriter, r *http.Request, _ *Principal) {
	_, def, ok := d.widgetBotOrRefuse(w, r, r.PathValue("bot"))
	if !ok {
		return
	}
	if !originAllowed(r, def.Widget.AllowedOrigins) {
		d.widgetRefuse(w, r, http.StatusForbidden, "origin", fmt.Sprintf("origin %q may not call this bot", r.Header.Get("Origin")))
		return
	}
	allowCORS(w, r)
	w.Header().Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// allowCORS lets the request's (already checked) origin read the answer.
func allowCORS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", normalizeOrigin(r.Header.Get("Origin")))
	w.Header().Set("Access-Control-Expose-Headers", "Location")
	w.Header().Add("Vary", "Origin")
}
