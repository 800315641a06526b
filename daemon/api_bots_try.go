package daemon

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/store"
)

// Test conversations with a bot's draft: an administrator tries the
// draft in the console before publishing it. They are held in memory by
// bot.Trials, never stored as engagements; skills they call are audited
// with the test conversation's ID (try_…) in place of an engagement's.
const (
	maxBotTrials = 32
	botTrialIdle = 15 * time.Minute
	maxTryText   = 4000 // bytes of one test message
)

// draftEngine builds an engine of b's draft (trained anew: a draft is
// tried rarely and changes between tries). A draft with errors answers
// 422 with every problem.
func (d *Daemon) draftEngine(w http.ResponseWriter, r *http.Request, b store.Bot) (*bot.Engine, bool) {
	if b.Draft == nil {
		writeProblem(w, r, http.StatusConflict, "no-draft", "the bot has no draft to try")
		return nil, false
	}
	def, err := bot.Decode(b.Draft, bot.JSON)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "draft")
		return nil, false
	}
	deps := d.bots.deps(def.Queue)
	deps.Metrics = nil // a test is no conversation of the bot's
	e, _, err := bot.NewEngine(r.Context(), bot.DefaultConfig(), def, 0, d.bots.env(), deps)
	var inv *bot.InvalidError
	switch {
	case errors.As(err, &inv):
		d.problemsProblem(w, r, http.StatusUnprocessableEntity, inv.Error(), inv.Problems)
		return nil, false
	case err != nil:
		d.storeError(w, r, err)
		return nil, false
	}
	return e, true
}

func (d *Daemon) startBotTry(w http.ResponseWriter, r *http.Request, p *Principal) {
	b, ok := d.lookupBot(w, r)
	if !ok {
		return
	}
	e, ok := d.draftEngine(w, r, b)
	if !ok {
		return
	}
	id, greeting, err := d.bots.trials.Start(b.ID, p.User.ID, e)
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "too-many-tries", err.Error())
		return
	}
	w.Header().Set("Location", "/api/v1/bots/"+b.ID+"/try/"+id)
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "bot": b.ID, "version": "draft", "turn": greeting,
		"idle_timeout": botTrialIdle.String()})
}

func (d *Daemon) sayBotTry(w http.ResponseWriter, r *http.Request, p *Principal) {
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
	if len(req.Text) > maxTryText {
		d.badRequest(w, r, 400, "text is too long", "text")
		return
	}
	turn, err := d.bots.trials.Say(r.Context(), r.PathValue("id"), p.User.ID, r.PathValue("try"), req.Text)
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
		return
	}
	writeJSON(w, 200, turn)
}

func (d *Daemon) endBotTry(w http.ResponseWriter, r *http.Request, p *Principal) {
	if err := d.bots.trials.End(r.PathValue("id"), p.User.ID, r.PathValue("try")); err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
