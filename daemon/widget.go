package daemon

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/store"
)

// The web widget: a page at /chat/{bot}, the script at
// /chat/{bot}/widget.js that a site puts on its own pages, and the
// WebSocket at /chat/{bot}/ws. All three are public: the page carries the
// bot's public key, never a staff token. The connection is refused unless
// the key is the bot's current one, the bot is published with its widget
// enabled, the browser's origin is the daemon's own page or one of the
// bot's allowed origins, and the virtual agent is on for the bot's queue;
// each client and each bot is rate limited.

var (
	//go:embed widget/widget.js
	widgetJS []byte
	//go:embed widget/page.html
	widgetPageSrc string
	widgetPage    = template.Must(template.New("page").Parse(widgetPageSrc))
)

// widgetBot loads a bot for its widget and checks what does not depend on
// the caller: published, widget enabled, virtual agent on. It returns the
// refusal's metric reason and message when refused.
func (d *Daemon) widgetBot(ctx context.Context, id string) (store.Bot, bot.Definition, string, error) {
	b, err := d.store.Bot(id)
	if err != nil {
		return b, bot.Definition{}, "unknown", errors.New("no such bot")
	}
	if b.Published == 0 {
		return b, bot.Definition{}, "unpublished", errBotNotPublished
	}
	e, err := d.bots.engine(ctx, id, b.Published)
	if err != nil {
		return b, bot.Definition{}, "unavailable", errors.New("the bot is not available")
	}
	def := e.Definition()
	if !def.Widget.Enabled {
		return b, def, "widget_off", errors.New("the bot's web widget is not enabled")
	}
	if !d.controls.EnabledForQueue(featureVirtualAgent, def.Queue) {
		return b, def, "feature_off", errBotFeatureOff
	}
	return b, def, "", nil
}

// widgetBotOrRefuse is widgetBot for a widget connection: a refusal is
// answered (404 for an unknown bot, 403 otherwise) and counted, and ok is
// false.
func (d *Daemon) widgetBotOrRefuse(w http.ResponseWriter, r *http.Request, id string) (store.Bot, bot.Definition, bool) {
	b, def, reason, err := d.widgetBot(r.Context(), id)
	if err != nil {
		status := http.StatusForbidden
		if reason == "unknown" {
			status = http.StatusNotFound
		}
		d.widgetRefuse(w, r, status, reason, err.Error())
		return b, def, false
	}
	return b, def, true
}

func (d *Daemon) widgetPage(w http.ResponseWriter, r *http.Request, _ *Principal) {
	b, def, reason, err := d.widgetBot(r.Context(), r.PathValue("bot"))
	if err != nil {
		d.bots.m.refused.WithLabelValues(reason).Inc()
		writeProblem(w, r, http.StatusNotFound, "not-found", "no chat here: "+err.Error())
		return
	}
	title := def.Widget.Title
	if title == "" {
		title = def.Name
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	ancestors := "'self'"
	for _, o := range def.Widget.AllowedOrigins {
		if n := normalizeOrigin(o); n != "" {
			ancestors += " " + n
		}
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors "+ancestors)
	widgetPage.Execute(w, map[string]string{"Bot": b.ID, "Key": b.WidgetKey, "Title": title, "Lang": def.Language})
}

func (d *Daemon) widgetScript(w http.ResponseWriter, r *http.Request, _ *Principal) {
	if _, err := d.store.Bot(r.PathValue("bot")); err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot")
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.Write(widgetJS)
}

// widgetRefuse answers a refused widget connection (before the upgrade).
func (d *Daemon) widgetRefuse(w http.ResponseWriter, r *http.Request, status int, reason, detail string) {
	d.bots.m.refused.WithLabelValues(reason).Inc()
	d.metrics.badInput.WithLabelValues(r.Pattern).Inc()
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	writeProblem(w, r, status, "chat-refused", detail)
}

func (d *Daemon) widgetSocket(w http.ResponseWriter, r *http.Request, _ *Principal) {
	id := r.PathValue("bot")
	q := r.URL.Query()
	b, def, ok := d.widgetBotOrRefuse(w, r, id)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("key")), []byte(b.WidgetKey)) != 1 {
		d.widgetRefuse(w, r, http.StatusForbidden, "key", "the bot's public key is missing or out of date")
		return
	}
	if !originAllowed(r, def.Widget.AllowedOrigins) {
		d.widgetRefuse(w, r, http.StatusForbidden, "origin", fmt.Sprintf("origin %q may not open this bot's chat", r.Header.Get("Origin")))
		return
	}
	if !isUpgrade(r) {
		d.widgetRefuse(w, r, http.StatusUpgradeRequired, "malformed", "this route is a WebSocket: send an upgrade request")
		return
	}
	var c *conversation
	secret := ""
	if cid := q.Get("conversation"); cid != "" {
		c = d.bots.conv(cid)
		if c == nil || c.bot != id || !c.widget || !resumeMatches(c.resume, q.Get("resume")) {
			d.widgetRefuse(w, r, http.StatusNotFound, "resume", "that conversation has ended; start a new one")
			return
		}
	}
	if !d.bots.limits.openWidget(id, def.Widget.MaxSessions) {
		d.widgetRefuse(w, r, http.StatusServiceUnavailable, "capacity", "the chat is at capacity; try again shortly")
		return
	}
	defer d.bots.limits.closeWidget(id)
	if c == nil {
		if !d.bots.limits.newSession(remoteAddr(r), def.Widget.SessionsPerMinute, time.Now()) {
			d.widgetRefuse(w, r, http.StatusTooManyRequests, "rate", "too many new conversations from this address")
			return
		}
		audit := store.AuditEntry{Actor: "widget"}
		var err error
		if c, err = d.bots.start(r.Context(), id, "widget", startRequest{}, true, audit); err != nil {
			d.botStartError(w, r, err)
			return
		}
		var hash string
		secret, hash = newResumeSecret()
		c.resume = hash
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		return
	}
	defer ws.CloseNow()
	origin := r.Header.Get("Origin")
	own := ownOrigin(r)
	s := &chatSession{b: d.bots, ws: ws, c: c, client: clientBucket(def.Widget.MessagesPerMinute),
		botRate: d.bots.limits.botBucket(id, def.Widget.BotMessagesPerSecond), maxChars: def.Widget.MaxMessageChars,
		after: parseAfter(r),
		recheck: func(ctx context.Context) error {
			nb, ndef, _, err := d.widgetBot(ctx, id)
			if err != nil {
				return err
			}
			if nb.WidgetKey != b.WidgetKey {
				return errors.New("the bot's public key was rotated")
			}
			o := normalizeOrigin(origin)
			if o != own && !strings.Contains(" "+strings.Join(normalizeAll(ndef.Widget.AllowedOrigins), " ")+" ", " "+o+" ") {
				return errors.New("this site is no longer allowed")
			}
			return nil
		}}
	s.serve(d.streams, secret)
}

func normalizeAll(os []string) []string {
	out := make([]string, 0, len(os))
	for _, o := range os {
		out = append(out, normalizeOrigin(o))
	}
	return out
}
