package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/inference/bot/nlu"
	"github.com/earshot/earshot/inference/builtin/textclass"
	"github.com/earshot/earshot/store"
)

var (
	botReaders    = []Role{RoleAdmin, RoleSupervisor, RoleAnalyst}
	handoverRoles = []Role{RoleAdmin, RoleSupervisor, RoleAgent}
	chatClients   = []Role{RoleAdmin, RoleIngest}
)

func (d *Daemon) botRoutes() []route {
	return []route{
		{"GET", "/api/v1/bots", botReaders, "List the bots (administrators: all; supervisors and analysts: their queues')", d.listBots},
		{"POST", "/api/v1/bots", adminOnly, "Create a bot from a definition (YAML or JSON) as its draft; answers with the draft's problems", d.createBot},
		{"POST", "/api/v1/bots/import", adminOnly, "Import a definition (YAML or JSON): create the bot or replace its draft; ?publish=true publishes it", d.importBot},
		{"GET", "/api/v1/bots/{id}", adminOnly, "A bot: versions, live version, widget key, draft and its problems", d.getBot},
		{"DELETE", "/api/v1/bots/{id}", adminOnly, "Delete a bot and its versions (its conversations stay, as engagements)", d.deleteBot},
		{"PUT", "/api/v1/bots/{id}/draft", adminOnly, "Replace a bot's draft (YAML or JSON); answers with its problems", d.putBotDraft},
		{"POST", "/api/v1/bots/{id}/validate", adminOnly, "Validate the draft: every problem, named", d.validateBot},
		{"POST", "/api/v1/bots/{id}/publish", adminOnly, "Validate, train and publish the draft as the next version (422 naming every problem); ?background=true answers 202 with a publish job", d.publishBot},
		{"GET", "/api/v1/bots/{id}/publishes/{job}", adminOnly, "A background publish's state: queued, running, published (with the version), refused (with the problems) or failed", d.getPublishJob},
		{"POST", "/api/v1/bots/{id}/rollback", adminOnly, "Make an earlier published version live again", d.rollbackBot},
		{"GET", "/api/v1/bots/{id}/versions/{version}", adminOnly, "A published version's definition", d.getBotVersion},
		{"GET", "/api/v1/bots/{id}/export", adminOnly, "Export the draft (or a version) as one YAML or JSON document", d.exportBot},
		{"POST", "/api/v1/bots/{id}/widget-key", adminOnly, "Rotate the widget's public key (open widget conversations are closed)", d.rotateWidgetKey},
		{"POST", "/api/v1/bots/{id}/classify", adminOnly, "Try the live version's intent detector on a message (?version=draft: the draft's)", d.classifyBot},
		{"POST", "/api/v1/bots/{id}/try", adminOnly, "Start a test conversation with the draft: in memory only, no engagement; answers with its ID and the greeting", d.startBotTry},
		{"POST", "/api/v1/bots/{id}/try/{try}", adminOnly, "Say a customer message in a test conversation with the draft; answers with the bot's turn", d.sayBotTry},
		{"DELETE", "/api/v1/bots/{id}/try/{try}", adminOnly, "End a test conversation with the draft", d.endBotTry},
		{"GET", "/api/v1/bots/{id}/report", botReaders, "Reporting per bot and version: containment, hand-overs, fallbacks, intents, slots, skills, topics of unmatched queries (audited)", d.botReport},
		{"POST", "/api/v1/bots/{id}/assist/phrases", adminOnly, "Suggest training phrases for an intent (local model, else built-in)", d.assistPhrases},
		{"POST", "/api/v1/bots/{id}/assist/intents", adminOnly, "Propose intents from the queue's customer messages, clustered and named (audited)", d.assistIntents},
		{"POST", "/api/v1/bots/{id}/assist/flow", adminOnly, "Write a flow from plain-language instructions; the result is validated like any definition", d.assistFlow},
		{"POST", "/api/v1/bots/{id}/assist/kb-queries", adminOnly, "Sample questions per knowledge-base article, and which the bot answers from the right article", d.assistKBQueries},
		{"GET", "/api/v1/bots/{id}/coach", adminOnly, "Messages the bot missed or was unsure of, with the nearest intent (audited)", d.coachSuggestions},
		{"POST", "/api/v1/bots/{id}/coach", adminOnly, "Accept (adds the phrase to the draft) or reject a coach suggestion", d.coachDecide},
		{"POST", "/api/v1/bots/{id}/conversations", chatClients, "Start a conversation with a bot (a chat engagement); customer messages go to /engagements/{id}/messages, replies come as events", d.startBotConversation},
		{"GET", "/api/v1/bots/{id}/chat", chatClients, "WebSocket chat with a bot (JSON messages; token in the header or ?access_token=)", d.botChatSocket},
		{"GET", "/api/v1/handovers", handoverRoles, "Bot conversations waiting for an agent in the caller's queues", d.listHandovers},
		{"GET", "/api/v1/handovers/{id}", handoverRoles, "A handed-over conversation: reason, collected slots, bot transcript and preview (audited)", d.getHandover},
		{"POST", "/api/v1/handovers/{id}/accept", handoverRoles, "Take a handed-over conversation (supervisors may name the agent)", d.acceptHandover},
		{"GET", "/chat/{bot}", nil, "The bot's web chat page (public; no token)", d.widgetPage},
		{"GET", "/chat/{bot}/widget.js", nil, "The embeddable web chat script (public)", d.widgetScript},
		{"GET", "/chat/{bot}/ws", nil, "The web widget's WebSocket: the bot's public key, an allowed origin, rate limits", d.widgetSocket},
	}
}

// botView is a bot as the API shows it.
type botView struct {
	ID             string                 `json:"id"`
	Name           string                 `json:"name,omitempty"`
	Queue          string                 `json:"queue"`
	Published      int                    `json:"published"`
	Versions       []store.BotVersionInfo `json:"versions"`
	HasDraft       bool                   `json:"has_draft"`
	DraftUpdatedAt time.Time              `json:"draft_updated_at,omitzero"`
	WidgetKey      string                 `json:"widget_key,omitempty"`
	WidgetURL      string                 `json:"widget_url,omitempty"`
}

func viewBot(b store.Bot, admin bool) botView {
	v := botView{ID: b.ID, Queue: b.Queue, Published: b.Published, Versions: b.Versions, HasDraft: b.Draft != nil, DraftUpdatedAt: b.DraftUpdatedAt}
	if v.Versions == nil {
		v.Versions = []store.BotVersionInfo{}
	}
	var n struct{ Name string }
	if b.Draft != nil {
		json.Unmarshal(b.Draft, &n)
	}
	v.Name = n.Name
	if admin {
		v.WidgetKey = b.WidgetKey
		v.WidgetURL = "/chat/" + b.ID
	}
	return v
}

// problemsProblem answers a definition refused at publish: RFC 9457 with
// every problem in the "problems" member and the first one's path in
// "field".
func (d *Daemon) problemsProblem(w http.ResponseWriter, r *http.Request, status int, detail string, ps bot.Problems) {
	d.metrics.badInput.WithLabelValues(r.Pattern).Inc()
	field := ""
	if len(ps) > 0 {
		field = ps[0].Path
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Problem
		Problems bot.Problems `json:"problems"`
	}{Problem{Type: problemBase + "invalid-definition", Title: http.StatusText(status), Status: status, Detail: detail, Instance: r.URL.Path, Field: field}, ps})
}

// readDefinition reads a definition from the body: YAML or JSON, by
// Content-Type or by its first character.
func (d *Daemon) readDefinition(w http.ResponseWriter, r *http.Request) (bot.Definition, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bot.MaxDefinitionBytes))
	if err != nil {
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("definition larger than %d bytes", bot.MaxDefinitionBytes), "body")
		return bot.Definition{}, false
	}
	var f bot.Format
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.Contains(ct, "yaml"):
		f = bot.YAML
	case strings.Contains(ct, "json"):
		f = bot.JSON
	}
	def, err := bot.Decode(data, f)
	if err != nil {
		field := "body"
		if _, after, ok := strings.Cut(err.Error(), "unknown field "); ok {
			field = strings.Trim(strings.Fields(after)[0], `"'`)
		}
		d.badRequest(w, r, 400, err.Error(), field)
		return def, false
	}
	return def, true
}

func canonical(def bot.Definition) json.RawMessage {
	raw, _ := json.Marshal(def)
	return raw
}

func (d *Daemon) auditBot(r *http.Request, p *Principal, action, id string) store.AuditEntry {
	return auditEntry(r, p, action, "bot:"+id)
}

func (d *Daemon) listBots(w http.ResponseWriter, r *http.Request, p *Principal) {
	bs, err := d.store.Bots(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := []botView{}
	for _, b := range bs {
		if p.InQueue(b.Queue) {
			out = append(out, viewBot(b, p.Role() == RoleAdmin))
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) createBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	def, ok := d.readDefinition(w, r)
	if !ok {
		return
	}
	d.saveNewBot(w, r, p, def)
}

func (d *Daemon) saveNewBot(w http.ResponseWriter, r *http.Request, p *Principal, def bot.Definition) bool {
	if def.ID == "" {
		d.badRequest(w, r, 400, "id is required", "id")
		return false
	}
	b := store.Bot{ID: def.ID, Queue: def.Queue, Draft: canonical(def), DraftUpdatedAt: time.Now().UTC(), DraftUpdatedBy: p.User.ID, WidgetKey: newWidgetKey()}
	if err := d.store.CreateBot(r.Context(), b, d.auditBot(r, p, "bot.create", def.ID)); err != nil {
		if !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrNotFound) && strings.Contains(err.Error(), "bot id") {
			d.badRequest(w, r, 400, err.Error(), "id")
			return false
		}
		d.storeError(w, r, err)
		return false
	}
	got, _ := d.store.Bot(def.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"bot": viewBot(got, true), "problems": orEmpty(bot.Validate(r.Context(), def, d.bots.env()))})
	return true
}

func orEmpty(ps bot.Problems) bot.Problems {
	if ps == nil {
		return bot.Problems{}
	}
	return ps
}

// lookupBot loads the bot of the path; 404 when missing.
func (d *Daemon) lookupBot(w http.ResponseWriter, r *http.Request) (store.Bot, bool) {
	b, err := d.store.Bot(r.PathValue("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot")
		} else {
			d.storeError(w, r, err)
		}
		return b, false
	}
	return b, true
}

// currentDefinition is the bot's draft, else its live version.
func (d *Daemon) currentDefinition(b store.Bot) (bot.Definition, error) {
	raw := b.Draft
	if raw == nil {
		if b.Published == 0 {
			return bot.Definition{}, errors.New("the bot has neither a draft nor a published version")
		}
		v, err := d.store.BotVersion(b.ID, b.Published)
		if err != nil {
			return bot.Definition{}, err
		}
		raw = v.Definition
	}
	return bot.Decode(raw, bot.JSON)
}

func (d *Daemon) getBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	out := map[string]any{"bot": viewBot(b, true)}
	if b.Draft != nil {
		if def, err := bot.Decode(b.Draft, bot.JSON); err == nil {
			out["draft"] = def
			out["problems"] = orEmpty(bot.Validate(r.Context(), def, d.bots.env()))
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) deleteBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if err := d.store.DeleteBot(r.Context(), id, d.auditBot(r, p, "bot.delete", id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.bots.forget(id)
	d.bots.trials.Forget(id)
	d.changes.Notify()
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) putBotDraft(w http.ResponseWriter, r *http.Request, p *Principal) {
	def, ok := d.readDefinition(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if def.ID == "" {
		def.ID = id
	}
	if def.ID != id {
		d.badRequest(w, r, 400, "id in the definition differs from the path", "id")
		return
	}
	b, err := d.store.UpdateBot(r.Context(), id, func(b *store.Bot) error {
		b.Draft, b.DraftUpdatedAt, b.DraftUpdatedBy = canonical(def), time.Now().UTC(), p.User.ID
		if b.Published == 0 {
			b.Queue = def.Queue
		}
		return nil
	}, d.auditBot(r, p, "bot.draft.update", id))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	d.bots.trials.Forget(id) // they ran on the draft replaced
	writeJSON(w, 200, map[string]any{"bot": viewBot(b, true), "problems": orEmpty(bot.Validate(r.Context(), def, d.bots.env()))})
}

func (d *Daemon) validateBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	def, err := d.currentDefinition(b)
	if err != nil {
		writeProblem(w, r, http.StatusConflict, "no-definition", err.Error())
		return
	}
	ps := orEmpty(bot.Validate(r.Context(), def, d.bots.env()))
	writeJSON(w, 200, map[string]any{"valid": len(ps.Errors()) == 0, "problems": ps})
}

// publishMu serialises publishes, so that the version an engine is built
// for is the one the store gives.
var publishMu sync.Mutex

func (d *Daemon) publishBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	if b.Draft == nil {
		writeProblem(w, r, http.StatusConflict, "no-draft", "the bot has no draft to publish")
		return
	}
	def, err := bot.Decode(b.Draft, bot.JSON)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "draft")
		return
	}
	switch r.URL.Query().Get("background") {
	case "", "false":
		d.publish(w, r, p, def)
	case "true":
		d.publishInBackground(w, r, p, def)
	default:
		d.badRequest(w, r, 400, "background must be true or false", "background")
	}
}

// publish validates, trains and stores def as the bot's next version;
// with ?background=true (publishBot only) it answers 202 at once and the
// work goes on in a publish job (bots_publish.go).
func (d *Daemon) publish(w http.ResponseWriter, r *http.Request, p *Principal, def bot.Definition) {
	res, perr := d.publishDefinition(r.Context(), def, p.User.ID, d.auditBot(r, p, "bot.publish", def.ID))
	switch {
	case perr == nil:
		writeJSON(w, 200, res)
	case perr.problems != nil:
		d.problemsProblem(w, r, http.StatusUnprocessableEntity, perr.Error(), perr.problems)
	default:
		d.storeError(w, r, perr.err)
	}
}

// publishResult is what a publish gives.
type publishResult struct {
	ID          string       `json:"id"`
	Version     int          `json:"version"`
	Warnings    bot.Problems `json:"warnings"`
	IntentModel nlu.Report   `json:"intent_model"`
}

// publishError is a refused publish: the definition's problems (422), or
// another error (the store's).
type publishError struct {
	problems bot.Problems
	detail   string
	err      error
}

func (e *publishError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return e.detail
}

// publishDefinition validates, trains and stores def as the bot's next
// version, published by user with the audit entry audit.
func (d *Daemon) publishDefinition(ctx context.Context, def bot.Definition, user string, audit store.AuditEntry) (*publishResult, *publishError) {
	publishMu.Lock()
	defer publishMu.Unlock()
	b, err := d.store.Bot(def.ID)
	if err != nil {
		return nil, &publishError{err: err}
	}
	next := 1
	for _, v := range b.Versions {
		next = max(next, v.Version+1)
	}
	e, warnings, err := bot.NewEngine(ctx, bot.DefaultConfig(), def, next, d.bots.env(), d.bots.deps(def.Queue))
	var inv *bot.InvalidError
	switch {
	case errors.As(err, &inv):
		return nil, &publishError{problems: inv.Problems, detail: fmt.Sprintf("the definition has %d problem(s); nothing was published", len(inv.Problems))}
	case err != nil:
		return nil, &publishError{problems: bot.Problems{{Path: "intents", Code: bot.CodeInvalid, Message: err.Error()}}, detail: err.Error()}
	}
	v, err := d.store.PublishBot(ctx, def.ID, canonical(def), def.Queue, user, audit)
	if err != nil {
		return nil, &publishError{err: err}
	}
	if v == next {
		ent := &engineEntry{ready: make(chan struct{}), e: e}
		close(ent.ready)
		d.bots.mu.Lock()
		d.bots.engines[def.ID+"@"+strconv.Itoa(v)] = ent
		d.bots.mu.Unlock()
	}
	d.media.warmBot(def.ID)
	d.changes.Notify()
	return &publishResult{ID: def.ID, Version: v, Warnings: orEmpty(warnings), IntentModel: e.NLUReport()}, nil
}

func (d *Daemon) rollbackBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Version int `json:"version"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	b, err := d.store.RollbackBot(r.Context(), id, req.Version, d.auditBot(r, p, "bot.rollback", id))
	switch {
	case errors.Is(err, store.ErrNoVersion):
		d.badRequest(w, r, 400, fmt.Sprintf("bot %s has no version %d", id, req.Version), "version")
		return
	case err != nil:
		d.storeError(w, r, err)
		return
	}
	if _, err := d.bots.engine(r.Context(), id, b.Published); err != nil {
		d.logger.Error("rolled-back version not loaded", "bot", id, "version", b.Published, "err", err)
	}
	d.media.warmBot(id) // as publish does: the version now live answers calls
	d.changes.Notify()
	writeJSON(w, 200, viewBot(b, true))
}

func (d *Daemon) getBotVersion(w http.ResponseWriter, r *http.Request, p *Principal) {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n <= 0 {
		d.badRequest(w, r, 400, "version must be a positive number", "version")
		return
	}
	v, err := d.store.BotVersion(r.PathValue("id"), n)
	if err != nil {
		if errors.Is(err, store.ErrNoVersion) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot version")
			return
		}
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"version": v.BotVersionInfo, "definition": v.Definition})
}

func (d *Daemon) exportBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := bot.Format(q.Get("format"))
	if f == "" {
		f = bot.YAML
	}
	if f != bot.YAML && f != bot.JSON {
		d.badRequest(w, r, 400, "format must be yaml or json", "format")
		return
	}
	var def bot.Definition
	var err error
	if v := q.Get("version"); v != "" {
		n, cerr := strconv.Atoi(v)
		if cerr != nil || n <= 0 {
			d.badRequest(w, r, 400, "version must be a positive number", "version")
			return
		}
		bv, gerr := d.store.BotVersion(b.ID, n)
		if gerr != nil {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot version")
			return
		}
		def, err = bot.Decode(bv.Definition, bot.JSON)
	} else {
		def, err = d.currentDefinition(b)
	}
	if err != nil {
		writeProblem(w, r, http.StatusConflict, "no-definition", err.Error())
		return
	}
	out, err := bot.Encode(def, f)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	ct := "application/yaml"
	if f == bot.JSON {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, b.ID, f))
	w.Write(out) // #nosec G705 -- a definition export served as an attachment with its own content type
}

func (d *Daemon) importBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	def, ok := d.readDefinition(w, r)
	if !ok {
		return
	}
	if def.ID == "" {
		d.badRequest(w, r, 400, "id is required", "id")
		return
	}
	if _, err := d.store.Bot(def.ID); errors.Is(err, store.ErrNotFound) {
		b := store.Bot{ID: def.ID, Queue: def.Queue, Draft: canonical(def), DraftUpdatedAt: time.Now().UTC(), DraftUpdatedBy: p.User.ID, WidgetKey: newWidgetKey()}
		if err := d.store.CreateBot(r.Context(), b, d.auditBot(r, p, "bot.import", def.ID)); err != nil {
			d.storeError(w, r, err)
			return
		}
	} else if _, err := d.store.UpdateBot(r.Context(), def.ID, func(b *store.Bot) error {
		b.Draft, b.DraftUpdatedAt, b.DraftUpdatedBy = canonical(def), time.Now().UTC(), p.User.ID
		return nil
	}, d.auditBot(r, p, "bot.import", def.ID)); err != nil {
		d.storeError(w, r, err)
		return
	}
	if r.URL.Query().Get("publish") == "true" {
		d.publish(w, r, p, def)
		return
	}
	b, _ := d.store.Bot(def.ID)
	writeJSON(w, 200, map[string]any{"bot": viewBot(b, true), "problems": orEmpty(bot.Validate(r.Context(), def, d.bots.env()))})
}

func (d *Daemon) rotateWidgetKey(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	b, err := d.store.UpdateBot(r.Context(), id, func(b *store.Bot) error { b.WidgetKey = newWidgetKey(); return nil }, d.auditBot(r, p, "bot.widget_key.rotate", id))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	d.changes.Notify()
	writeJSON(w, 200, viewBot(b, true))
}

// liveEngine is the engine of the bot's live version.
func (d *Daemon) liveEngine(w http.ResponseWriter, r *http.Request, b store.Bot) (*bot.Engine, bool) {
	if b.Published == 0 {
		writeProblem(w, r, http.StatusConflict, "not-published", errBotNotPublished.Error())
		return nil, false
	}
	e, err := d.bots.engine(r.Context(), b.ID, b.Published)
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "bot-unavailable", "the bot's live version could not be loaded: "+err.Error())
		return nil, false
	}
	return e, true
}

func (d *Daemon) classifyBot(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		d.badRequest(w, r, 400, "text is required", "text")
		return
	}
	var e *bot.Engine
	switch r.URL.Query().Get("version") {
	case "", "live":
		e, ok = d.liveEngine(w, r, b)
	case "draft":
		e, ok = d.draftEngine(w, r, b)
	default:
		d.badRequest(w, r, 400, "version must be live or draft", "version")
		return
	}
	if !ok {
		return
	}
	writeJSON(w, 200, e.Classify(req.Text))
}

// botConversations lists the engagements of a bot's conversations in
// [from, to), of one version when version > 0.
func (d *Daemon) botConversations(ctx context.Context, b store.Bot, from, to time.Time, version int) ([]store.Engagement, error) {
	queues := map[string]bool{b.Queue: true}
	for _, v := range b.Versions {
		if bv, err := d.store.BotVersion(b.ID, v.Version); err == nil {
			var q struct{ Queue string }
			json.Unmarshal(bv.Definition, &q)
			queues[q.Queue] = true
		}
	}
	var out []store.Engagement
	for q := range queues {
		if q == "" {
			continue
		}
		es, err := d.store.Engagements(ctx, store.EngagementFilter{Queue: q, From: from, To: to, Limit: 20000})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if botFlag(e.Flags) != b.ID {
				continue
			}
			if version > 0 && !slices.Contains(e.Flags, flagVersionPrefix+strconv.Itoa(version)) {
				continue
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// timeRange reads from= and to= (RFC 3339; default: the last 30 days).
func (d *Daemon) timeRange(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	to = time.Now().UTC().Add(time.Minute)
	from = to.Add(-30 * 24 * time.Hour)
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				d.badRequest(w, r, 400, tf.name+" must be an RFC 3339 time", tf.name)
				return from, to, false
			}
			*tf.dst = t
		}
	}
	return from, to, true
}

// versionReport is one version's headline figures.
type versionReport struct {
	Version         int     `json:"version"`
	Sessions        int     `json:"sessions"`
	ContainmentRate float64 `json:"containment_rate"`
	HandoverRate    float64 `json:"handover_rate"`
	FallbackRate    float64 `json:"fallback_rate"`
	AverageTurns    float64 `json:"average_turns"`
}

func (d *Daemon) botReport(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	if !p.InQueue(b.Queue) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot")
		return
	}
	from, to, ok := d.timeRange(w, r)
	if !ok {
		return
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			d.badRequest(w, r, 400, "version must be a positive number", "version")
			return
		}
		version = n
	}
	es, err := d.botConversations(r.Context(), b, from, to, version)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	var all []bot.Stats
	byVersion := map[int][]bot.Stats{}
	var unmatched []string
	read := 0
	for _, e := range es {
		if e.Status != store.StatusEnded {
			continue
		}
		res, err := d.store.Result(r.Context(), e.ID, resultVirtualAgent)
		if err != nil {
			continue
		}
		var va virtualAgentResult
		if json.Unmarshal(res.Payload, &va) != nil {
			continue
		}
		all = append(all, va.Stats)
		byVersion[va.Stats.Version] = append(byVersion[va.Stats.Version], va.Stats)
		if va.Stats.Unmatched > 0 {
			// The unmatched messages are customer content: this read is
			// audited per engagement.
			if err := d.store.AppendAudit(r.Context(), contentRead(r, p, e.ID, string(featureVirtualAgent))); err != nil {
				d.storeError(w, r, err)
				return
			}
			read++
			for _, c := range va.Coach {
				if c.Kind == "unmatched" {
					unmatched = append(unmatched, c.Text)
				}
			}
		}
	}
	rep := bot.Aggregate(all)
	var versions []versionReport
	for _, v := range slices.Sorted(mapKeys(byVersion)) {
		vr := bot.Aggregate(byVersion[v])
		versions = append(versions, versionReport{v, vr.Sessions, vr.ContainmentRate, vr.HandoverRate, vr.FallbackRate, vr.AverageTurns})
	}
	if versions == nil {
		versions = []versionReport{}
	}
	topics, err := d.bots.assistant.Topics.Topics(r.Context(), unmatched, 10)
	if err != nil || topics == nil {
		topics = []bot.Topic{}
	}
	a := auditEntry(r, p, "bot.report", "bot:"+b.ID)
	a.Detail["conversations"] = strconv.Itoa(len(all))
	a.Detail["content_read"] = strconv.Itoa(read)
	if err := d.store.AppendAudit(r.Context(), a); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"bot": b.ID, "from": from, "to": to, "version": version, "report": rep,
		"versions": versions, "unmatched_topics": topics})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// needsModel answers an assist that needs a local model.
func (d *Daemon) assistError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, bot.ErrNeedsModel) {
		writeProblem(w, r, http.StatusUnprocessableEntity, "needs-local-model", err.Error())
		return
	}
	d.badRequest(w, r, 400, err.Error(), "")
}

func (d *Daemon) assistPhrases(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		Intent string `json:"intent"`
		N      int    `json:"n"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	def, err := d.currentDefinition(b)
	if err != nil {
		writeProblem(w, r, http.StatusConflict, "no-definition", err.Error())
		return
	}
	i := slices.IndexFunc(def.Intents, func(it bot.Intent) bool { return it.Name == req.Intent })
	if i < 0 {
		d.badRequest(w, r, 400, "no intent "+strconv.Quote(req.Intent)+" in the bot", "intent")
		return
	}
	if req.N == 0 {
		req.N = 10
	}
	ph, src, err := d.bots.assistant.Phrases(r.Context(), def, def.Intents[i], req.N)
	if err != nil {
		d.assistError(w, r, err)
		return
	}
	if ph == nil {
		ph = []string{}
	}
	writeJSON(w, 200, map[string]any{"intent": req.Intent, "phrases": ph, "source": src})
}

// customerUtterances reads up to two customer messages from each of the
// queue's engagements in range (audited per engagement).
func (d *Daemon) customerUtterances(r *http.Request, p *Principal, queue string, from, to time.Time) ([]string, error) {
	es, err := d.store.Engagements(r.Context(), store.EngagementFilter{Queue: queue, From: from, To: to, Limit: 2000})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.Status != store.StatusEnded {
			continue
		}
		segs, err := d.store.Segments(r.Context(), e.ID, contentRead(r, p, e.ID, string(featureVirtualAgent)))
		if err != nil {
			continue
		}
		n := 0
		for _, s := range segs {
			if s.Speaker == "customer" && len(textclass.Tokens(s.Text)) >= 2 {
				out = append(out, s.Text)
				if n++; n == 2 {
					break
				}
			}
		}
	}
	return out, nil
}

func (d *Daemon) assistIntents(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
		Max  int       `json:"max"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.To.IsZero() {
		req.To = time.Now().UTC().Add(time.Minute)
	}
	if req.From.IsZero() {
		req.From = req.To.Add(-30 * 24 * time.Hour)
	}
	if req.Max <= 0 || req.Max > 50 {
		req.Max = 10
	}
	utts, err := d.customerUtterances(r, p, b.Queue, req.From, req.To)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	props, src, err := d.bots.assistant.Intents(r.Context(), utts, req.Max)
	if err != nil {
		d.assistError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"utterances": len(utts), "intents": props, "source": src})
}

func (d *Daemon) assistFlow(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		Intent       string   `json:"intent"`
		Phrases      []string `json:"phrases"`
		Instructions string   `json:"instructions"`
		Plugin       string   `json:"plugin"`
		Save         bool     `json:"save"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	base, err := d.currentDefinition(b)
	if err != nil {
		writeProblem(w, r, http.StatusConflict, "no-definition", err.Error())
		return
	}
	if len(req.Instructions) > 20000 {
		d.badRequest(w, r, 400, "instructions longer than 20000 bytes", "instructions")
		return
	}
	def, src, err := d.bots.assistant.Flow(r.Context(), bot.FlowRequest{Base: base, Intent: req.Intent, Phrases: req.Phrases, Instructions: req.Instructions, Plugin: req.Plugin})
	if err != nil {
		d.assistError(w, r, err)
		return
	}
	ps := orEmpty(bot.Validate(r.Context(), def, d.bots.env()))
	saved := false
	if req.Save && len(ps.Errors()) == 0 {
		if _, err := d.store.UpdateBot(r.Context(), b.ID, func(sb *store.Bot) error {
			sb.Draft, sb.DraftUpdatedAt, sb.DraftUpdatedBy = canonical(def), time.Now().UTC(), p.User.ID
			return nil
		}, d.auditBot(r, p, "bot.draft.assist_flow", b.ID)); err != nil {
			d.storeError(w, r, err)
			return
		}
		saved = true
	}
	writeJSON(w, 200, map[string]any{"definition": def, "problems": ps, "source": src, "saved": saved})
}

func (d *Daemon) assistKBQueries(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		N int `json:"n"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	arts, err := d.store.Articles(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	var in []bot.Article
	for _, a := range arts {
		if a.Queue == "" || a.Queue == b.Queue {
			in = append(in, bot.Article{ID: a.ID, Title: a.Title, Body: a.Body})
		}
		if len(in) == 200 {
			break
		}
	}
	qs, src, err := d.bots.assistant.KBQueries(r.Context(), in, req.N)
	if err != nil {
		d.assistError(w, r, err)
		return
	}
	type checked struct {
		bot.SampleQuery
		Answered bool   `json:"answered"`
		Cited    string `json:"cited_article,omitempty"`
		Covered  bool   `json:"covered"`
	}
	kbA := botKnowledge{d: d, queue: b.Queue}
	out := []checked{}
	covered := 0
	for _, q := range qs {
		c := checked{SampleQuery: q}
		if a, err := kbA.Answer(r.Context(), q.Query); err == nil && a.Text != "" {
			c.Answered = true
			if len(a.Citations) > 0 {
				c.Cited = a.Citations[0].ArticleID
			}
			c.Covered = slices.ContainsFunc(a.Citations, func(ct bot.Citation) bool { return ct.ArticleID == q.ArticleID })
		}
		if c.Covered {
			covered++
		}
		out = append(out, c)
	}
	cov := 0.0
	if len(out) > 0 {
		cov = float64(covered) / float64(len(out))
	}
	writeJSON(w, 200, map[string]any{"queries": out, "coverage": cov, "source": src})
}

// coachSuggestion is a customer message the bot missed or was unsure of.
type coachSuggestion struct {
	ID         string  `json:"id"`
	Text       string  `json:"text"`
	Intent     string  `json:"intent"`
	Confidence float64 `json:"confidence"`
	Count      int     `json:"count"`
	Kind       string  `json:"kind"`
}

func coachID(text string) string {
	sum := sha256.Sum256([]byte(strings.Join(textclass.Tokens(text), " ")))
	return hex.EncodeToString(sum[:12])
}

func (d *Daemon) coachSuggestions(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	from, to, ok := d.timeRange(w, r)
	if !ok {
		return
	}
	es, err := d.botConversations(r.Context(), b, from, to, 0)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	byID := map[string]*coachSuggestion{}
	for _, e := range es {
		if e.Status != store.StatusEnded {
			continue
		}
		res, err := d.store.Result(r.Context(), e.ID, resultVirtualAgent)
		if err != nil {
			continue
		}
		var va virtualAgentResult
		if json.Unmarshal(res.Payload, &va) != nil || len(va.Coach) == 0 {
			continue
		}
		if err := d.store.AppendAudit(r.Context(), contentRead(r, p, e.ID, string(featureVirtualAgent))); err != nil {
			d.storeError(w, r, err)
			return
		}
		for _, c := range va.Coach {
			id := coachID(c.Text)
			if _, decided := b.Coach[id]; decided {
				continue
			}
			s := byID[id]
			if s == nil {
				s = &coachSuggestion{ID: id, Text: c.Text, Intent: c.Intent, Kind: c.Kind}
				byID[id] = s
			}
			s.Confidence = (s.Confidence*float64(s.Count) + c.Confidence) / float64(s.Count+1)
			s.Count++
		}
	}
	out := []coachSuggestion{}
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].ID < out[j].ID
	})
	writeJSON(w, 200, out)
}

func (d *Daemon) coachDecide(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var req struct {
		Text     string `json:"text"`
		Intent   string `json:"intent"`
		Decision string `json:"decision"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	text := strings.TrimSpace(req.Text)
	switch {
	case text == "" || len(text) > 500:
		d.badRequest(w, r, 400, "text is required (at most 500 bytes)", "text")
		return
	case req.Decision != "accept" && req.Decision != "reject":
		d.badRequest(w, r, 400, "decision must be accept or reject", "decision")
		return
	}
	def, err := d.currentDefinition(b)
	if err != nil {
		writeProblem(w, r, http.StatusConflict, "no-definition", err.Error())
		return
	}
	id := coachID(text)
	if req.Decision == "accept" {
		i := slices.IndexFunc(def.Intents, func(it bot.Intent) bool { return it.Name == req.Intent })
		if i < 0 {
			d.badRequest(w, r, 400, "no intent "+strconv.Quote(req.Intent)+" in the bot", "intent")
			return
		}
		def.Intents[i].Phrases = append(def.Intents[i].Phrases, text)
	}
	nb, err := d.store.UpdateBot(r.Context(), b.ID, func(sb *store.Bot) error {
		if sb.Coach == nil {
			sb.Coach = map[string]string{}
		}
		if req.Decision == "accept" {
			sb.Coach[id] = "accepted:" + req.Intent
			sb.Draft, sb.DraftUpdatedAt, sb.DraftUpdatedBy = canonical(def), time.Now().UTC(), p.User.ID
		} else {
			sb.Coach[id] = "rejected"
		}
		return nil
	}, d.auditBot(r, p, "bot.coach."+req.Decision, b.ID))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": id, "decision": req.Decision, "bot": viewBot(nb, true)})
}

// startError answers a conversation that could not start.
func (d *Daemon) botStartError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such bot")
	case errors.Is(err, errBotNotPublished):
		d.bots.m.refused.WithLabelValues("unpublished").Inc()
		writeProblem(w, r, http.StatusConflict, "not-published", err.Error())
	case errors.Is(err, errBotFeatureOff):
		d.bots.m.refused.WithLabelValues("feature_off").Inc()
		writeProblem(w, r, http.StatusForbidden, "feature-off", err.Error())
	case errors.Is(err, hub.ErrBusy):
		d.bots.m.refused.WithLabelValues("capacity").Inc()
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", "the appliance holds its maximum of live engagements")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeProblem(w, r, http.StatusServiceUnavailable, "bot-unavailable", "the bot is loading; try again")
	default:
		d.logger.Error("bot conversation not started", "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "bot-unavailable", "the bot could not start a conversation")
	}
}

func (d *Daemon) startBotConversation(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req startRequest
	if r.ContentLength != 0 {
		if !d.decodeJSON(w, r, &req) {
			return
		}
	}
	if len(req.CustomerRef) > 256 {
		d.badRequest(w, r, 400, "customer_ref longer than 256 bytes", "customer_ref")
		return
	}
	c, err := d.bots.start(r.Context(), r.PathValue("id"), "api", req, false, auditEntry(r, p, "", ""))
	if err != nil {
		d.botStartError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/engagements/"+c.live.ID())
	writeJSON(w, http.StatusCreated, map[string]any{"engagement": c.live.Engagement(), "bot": c.bot, "version": c.version,
		"messages": "/api/v1/engagements/" + c.live.ID() + "/messages", "events": "/api/v1/engagements/" + c.live.ID() + "/events"})
}

// recheckPrincipal reports why p may no longer use a route of roles: its
// token revoked or expired, its user disabled or given another role.
func (d *Daemon) recheckPrincipal(p *Principal, roles []Role) error {
	t, err := d.store.TokenByHash(p.Token.Hash)
	switch {
	case err != nil:
		return errors.New("the token no longer exists")
	case t.Revoked():
		return errors.New("the token was revoked")
	case !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt):
		return errors.New("the token expired")
	}
	u, err := d.store.User(t.UserID)
	if err != nil || u.Disabled {
		return errors.New("the user was disabled or removed")
	}
	if !slices.Contains(roles, Role(u.Role)) {
		return fmt.Errorf("role %s may not chat", u.Role)
	}
	return nil
}

// isUpgrade reports whether r asks for a WebSocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

func (d *Daemon) botChatSocket(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if !isUpgrade(r) {
		d.badRequest(w, r, http.StatusUpgradeRequired, "this route is a WebSocket: send an upgrade request", "")
		return
	}
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	var c *conversation
	if cid := r.URL.Query().Get("conversation"); cid != "" {
		c = d.bots.conv(cid)
		if c == nil || c.bot != id {
			writeProblemField(w, r, http.StatusNotFound, "not-found", "no such live conversation of this bot", "conversation")
			return
		}
	} else {
		var err error
		if c, err = d.bots.start(r.Context(), id, "websocket", startRequest{}, false, auditEntry(r, p, "", "")); err != nil {
			d.botStartError(w, r, err)
			return
		}
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	def := c.sess.Engine().Definition()
	s := &chatSession{b: d.bots, ws: ws, c: c, client: clientBucket(def.Widget.MessagesPerMinute),
		botRate: d.bots.limits.botBucket(b.ID, def.Widget.BotMessagesPerSecond), maxChars: def.Widget.MaxMessageChars,
		after: parseAfter(r),
		recheck: func(context.Context) error {
			if err := d.recheckPrincipal(p, chatClients); err != nil {
				return err
			}
			if !d.controls.EnabledForQueue(featureVirtualAgent, c.queue) {
				return errBotFeatureOff
			}
			return nil
		}}
	s.serve(d.streams, "")
}

// handoverView is a waiting conversation without its content.
type handoverView struct {
	Engagement   string    `json:"engagement"`
	Bot          string    `json:"bot"`
	Version      int       `json:"version"`
	Queue        string    `json:"queue"`
	Reason       string    `json:"reason"`
	Intent       string    `json:"intent,omitempty"`
	WaitingSince time.Time `json:"waiting_since"`
	Position     int       `json:"position"`
	Agent        string    `json:"agent,omitempty"`
}

func (c *conversation) view() handoverView {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := handoverView{Engagement: c.live.ID(), Bot: c.bot, Version: c.version, Queue: c.queue, WaitingSince: c.handedAt, Position: c.position, Agent: c.agent}
	if c.handover != nil {
		v.Reason, v.Intent = c.handover.Reason, c.handover.Intent
	}
	if c.agent != "" {
		v.Position = 0
	}
	return v
}

func (d *Daemon) listHandovers(w http.ResponseWriter, r *http.Request, p *Principal) {
	queue := r.URL.Query().Get("queue")
	if queue != "" && !p.InQueue(queue) {
		writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope", "queue")
		return
	}
	d.bots.mu.Lock()
	var list []*conversation
	for q, cs := range d.bots.waiting {
		if (queue == "" || q == queue) && p.InQueue(q) {
			list = append(list, cs...)
		}
	}
	d.bots.mu.Unlock()
	out := []handoverView{}
	for _, c := range list {
		out = append(out, c.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WaitingSince.Before(out[j].WaitingSince) })
	writeJSON(w, 200, out)
}

// lookupHandover finds a handed-over live conversation p may read: staff
// of its queue while it waits; once taken, its agent, the queue's
// supervisors and administrators.
func (d *Daemon) lookupHandover(w http.ResponseWriter, r *http.Request, p *Principal) (*conversation, bool) {
	c := d.bots.conv(r.PathValue("id"))
	if c != nil {
		c.mu.Lock()
		handed, agent := c.handover != nil, c.agent
		c.mu.Unlock()
		allowed := handed && p.InQueue(c.queue) && (agent == "" || p.Role() != RoleAgent || agent == p.User.ID)
		if allowed {
			return c, true
		}
	}
	writeProblem(w, r, http.StatusNotFound, "not-found", "no such handed-over conversation")
	return nil, false
}

func (d *Daemon) getHandover(w http.ResponseWriter, r *http.Request, p *Principal) {
	c, ok := d.lookupHandover(w, r, p)
	if !ok {
		return
	}
	id := c.live.ID()
	segs, err := d.store.Segments(r.Context(), id, contentRead(r, p, id, string(featureVirtualAgent)))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if segs == nil {
		segs = []store.Segment{}
	}
	c.mu.Lock()
	h := *c.handover
	c.mu.Unlock()
	// The preview: a summary of the conversation with the bot, by the
	// routed summariser, when summaries are on for the queue.
	var preview *inference.Summary
	if d.controls.Enabled("engagement_summary", c.queue, p.User.ID) {
		if s := d.analytics.route.Summarizer(); s != nil {
			conv := make([]inference.Utterance, 0, len(segs))
			for _, sg := range segs {
				conv = append(conv, inference.Utterance{Party: inference.Party(sg.Speaker), Text: sg.Text, StartMS: sg.StartMs, EndMS: sg.EndMs})
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			if sum, err := s.Summarize(ctx, conv); err == nil {
				preview = &sum
			}
			cancel()
		}
	}
	writeJSON(w, 200, map[string]any{"handover": c.view(), "slots": h.Slots, "transcript": segs, "preview": preview})
}

func (d *Daemon) acceptHandover(w http.ResponseWriter, r *http.Request, p *Principal) {
	c, ok := d.lookupHandover(w, r, p)
	if !ok {
		return
	}
	var req struct {
		Agent string `json:"agent"`
	}
	if r.ContentLength != 0 && !d.decodeJSON(w, r, &req) {
		return
	}
	agent := p.User
	if req.Agent != "" && req.Agent != p.User.ID {
		if p.Role() == RoleAgent {
			writeProblemField(w, r, http.StatusForbidden, "forbidden", "agents take conversations for themselves", "agent")
			return
		}
		u, err := d.store.User(req.Agent)
		if err != nil || u.Disabled || (Role(u.Role) != RoleAgent && Role(u.Role) != RoleSupervisor) || !slices.Contains(u.Queues, c.queue) {
			d.badRequest(w, r, 400, "agent must be an enabled agent or supervisor of queue "+c.queue, "agent")
			return
		}
		agent = u
	}
	if err := d.bots.accept(r.Context(), c, agent, auditEntry(r, p, "", "")); err != nil {
		if errors.Is(err, errNotWaiting) {
			writeProblem(w, r, http.StatusConflict, "not-waiting", err.Error())
			return
		}
		if errors.Is(err, hub.ErrNotLive) {
			writeProblem(w, r, http.StatusConflict, "not-live", "the conversation has ended")
			return
		}
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, c.view())
}
