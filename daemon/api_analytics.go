package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/store"
)

var (
	wrapUpRoles     = []Role{RoleAdmin, RoleSupervisor, RoleAgent}
	supervisorRoles = []Role{RoleAdmin, RoleSupervisor}
)

func (d *Daemon) analyticsRoutes() []route {
	return []route{
		{"GET", "/api/v1/engagements/{id}/results", engagementReaders, "Post-engagement results (summary, notes, tasks, disposition, topics; audited)", d.getResults},
		{"PUT", "/api/v1/engagements/{id}/notes", wrapUpRoles, "Save the wrap-up note the agent edited", d.saveNotes},
		{"PUT", "/api/v1/engagements/{id}/disposition", wrapUpRoles, "Record the disposition code the agent chose", d.chooseDisposition},
		{"GET", "/api/v1/preview", wrapUpRoles, "Engagement preview: the customer's previous engagements, summarised (audited)", d.preview},
		{"GET", "/api/v1/escalations", supervisorRoles, "Live engagements of the caller's queues that need attention, ranked, with reasons", d.listEscalations},
		{"GET", "/api/v1/settings/next-best-actions", adminOnly, "The intent-to-action catalogue", d.getCatalogue},
		{"PUT", "/api/v1/settings/next-best-actions", adminOnly, "Replace the intent-to-action catalogue", d.putCatalogue},
		{"GET", "/api/v1/settings/dispositions", adminOnly, "The site's disposition codes", d.getDispositions},
		{"PUT", "/api/v1/settings/dispositions", adminOnly, "Replace the site's disposition codes", d.putDispositions},
		{"GET", "/api/v1/settings/intents", adminOnly, "The intents and their training phrases", d.getIntents},
		{"PUT", "/api/v1/settings/intents", adminOnly, "Replace the intents and train the detector in the background", d.putIntents},
		{"POST", "/api/v1/training/dispositions", adminOnly, "Train the disposition model from the dispositions agents chose", d.trainDispositions},
		{"GET", "/api/v1/training/{job}", adminOnly, "Status of a training job", d.trainingStatus},
	}
}

func (d *Daemon) getResults(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	rs, err := d.store.Results(r.Context(), e.ID, contentRead(r, p, e.ID, "results"))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := map[string]json.RawMessage{}
	for _, res := range d.controls.shownResults(e, rs) {
		out[res.Feature] = res.Payload
	}
	writeJSON(w, 200, map[string]any{"engagement": e.ID, "results": out})
}

// wrapUpTarget checks that p may write the wrap-up of engagement e: agents
// their own, supervisors their queues', admins any; and that it ended.
func (d *Daemon) wrapUpTarget(w http.ResponseWriter, r *http.Request, p *Principal) (store.Engagement, bool) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return e, false
	}
	if l, live := d.hub.Get(e.ID); live && !l.Ended() {
		writeProblem(w, r, http.StatusConflict, "live", "wrap-up is saved after the engagement ends")
		return e, false
	}
	return e, true
}

func (d *Daemon) putResult(w http.ResponseWriter, r *http.Request, p *Principal, e store.Engagement, name string, v any) {
	raw, _ := json.Marshal(v)
	a := auditEntry(r, p, "result.save", name)
	a.Engagement, a.Feature = e.ID, name
	res := store.Result{Engagement: e.ID, Feature: name, Version: "user:" + p.User.ID, Payload: raw, CreatedAt: time.Now().UTC()}
	if err := d.store.PutResult(r.Context(), res, a); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.sinks.enqueue(e, SinkEventWrapUp, e.ID+".wrapped_up."+strconv.FormatInt(res.CreatedAt.UnixNano(), 10))
	writeJSON(w, 200, v)
}

func (d *Daemon) saveNotes(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.wrapUpTarget(w, r, p)
	if !ok {
		return
	}
	var n inference.Notes
	if !d.decodeJSON(w, r, &n) {
		return
	}
	if len(n.Reason)+len(n.Actions)+len(n.Outcome) > 64<<10 {
		d.badRequest(w, r, 400, "notes longer than 64 KiB", "reason")
		return
	}
	n.Provenance = inference.Provenance{Provider: "user", Model: p.User.ID}
	d.putResult(w, r, p, e, resultNotes, n)
}

func (d *Daemon) chooseDisposition(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.wrapUpTarget(w, r, p)
	if !ok {
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	codes := *d.analytics.codes.Load()
	if !slices.ContainsFunc(codes, func(c inference.DispositionCode) bool { return c.Code == req.Code }) {
		d.badRequest(w, r, 400, "code must be one of the site's disposition codes", "code")
		return
	}
	d.putResult(w, r, p, e, resultDisposition, map[string]string{"code": req.Code, "by": p.User.ID})
}

// preview summarises a customer's previous engagements for the agent
// about to take the next one. It draws on the ended engagements in the
// caller's queues (every queue for an administrator) for which
// engagement_preview is on, each decided on that engagement's queue and the
// caller. Verbatim content (summary sentences, task texts) comes only from
// engagements the caller may read; from the others, an agent gets the date,
// the disposition code, intent topics and a count of open tasks. Every
// result shown obeys its own feature for its engagement.
func (d *Daemon) preview(w http.ResponseWriter, r *http.Request, p *Principal) {
	ref := r.URL.Query().Get("customer_ref")
	if ref == "" {
		d.badRequest(w, r, 400, "customer_ref is required", "customer_ref")
		return
	}
	// The queue of the engagement about to be taken, when given, must be
	// the caller's and have the feature on.
	queue := r.URL.Query().Get("queue")
	if queue != "" {
		if !p.InQueue(queue) {
			writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope", "queue")
			return
		}
		if dec := d.controls.Decide("engagement_preview", queue, p.User.ID); !dec.On {
			d.featureOff(w, r, p, dec, queue)
			return
		}
	}
	es, err := d.store.Engagements(r.Context(), store.EngagementFilter{CustomerRef: ref, Limit: 50})
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	var past []builtin.PastEngagement
	var off *Decision
	var offQueue string
	for _, e := range es {
		if e.Status != store.StatusEnded || !p.InQueue(e.Queue) {
			continue
		}
		if dec := d.controls.Decide("engagement_preview", e.Queue, p.User.ID); !dec.On {
			off, offQueue = &dec, e.Queue
			continue
		}
		pe, err := d.pastEngagement(r, p, e)
		if err != nil {
			continue
		}
		past = append(past, pe)
	}
	// Asked without a queue, and every engagement found hidden: say why.
	if len(past) == 0 && off != nil && queue == "" {
		d.featureOff(w, r, p, *off, offQueue)
		return
	}
	writeJSON(w, 200, builtin.EngagementPreview(past, time.Now()))
}

// pastEngagement reads what the preview shows of one engagement to p.
func (d *Daemon) pastEngagement(r *http.Request, p *Principal, e store.Engagement) (builtin.PastEngagement, error) {
	pe := builtin.PastEngagement{ID: e.ID, Start: e.Start}
	rs, err := d.store.Results(r.Context(), e.ID, contentRead(r, p, e.ID, "engagement_preview"))
	if err != nil {
		return pe, err
	}
	verbatim := p.canSee(e)
	for _, res := range d.controls.shownResults(e, rs) {
		switch res.Feature {
		case "engagement_summary":
			var s inference.Summary
			if verbatim && json.Unmarshal(res.Payload, &s) == nil {
				pe.Summary = s.Text
			}
		case resultDisposition:
			var c struct{ Code string }
			if json.Unmarshal(res.Payload, &c) == nil {
				pe.Disposition = c.Code
			}
		case "follow_up_tasks":
			var ts []inference.Task
			json.Unmarshal(res.Payload, &ts)
			for _, t := range ts {
				if verbatim {
					pe.OpenTasks = append(pe.OpenTasks, t.Text)
				} else {
					pe.HiddenTasks++
				}
			}
		case "topic_detection":
			var ts []inference.Topic
			json.Unmarshal(res.Payload, &ts)
			for _, t := range ts {
				if t.Source == "intent" { // site-defined names, never the customer's words
					pe.Topics = append(pe.Topics, t.Name)
				}
			}
		}
	}
	return pe, nil
}

// listEscalations ranks the live engagements of the caller's queues where
// top_escalation is on for the caller. When the caller's licence or the
// settings hide it for every queue, the answer says why (403) rather than
// returning an empty list.
func (d *Daemon) listEscalations(w http.ResponseWriter, r *http.Request, p *Principal) {
	queues, err := d.scopeQueues(r.Context(), p)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	on := map[string]bool{}
	off := d.controls.Decide("top_escalation", "", p.User.ID)
	for _, q := range queues {
		if dec := d.controls.Decide("top_escalation", q, p.User.ID); dec.On {
			on[q] = true
		} else {
			off = dec
		}
	}
	if len(on) == 0 && !off.On {
		d.featureOff(w, r, p, off, "")
		return
	}
	out := []escalationView{}
	for _, v := range d.analytics.escalations(p) {
		if on[v.Queue] {
			out = append(out, v)
		}
	}
	writeJSON(w, 200, out)
}

// scopeQueues lists the queues the caller works in: every queue for an
// administrator.
func (d *Daemon) scopeQueues(ctx context.Context, p *Principal) ([]string, error) {
	if p.Role() != RoleAdmin {
		return p.User.Queues, nil
	}
	qs, err := d.store.Queues(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.ID
	}
	return out, nil
}

// featureOff answers 403 for a feature the decision switched off, saying
// which level did: a missing licence, or the account's, a queue's or the
// user's settings. queue is the queue the decision was taken for, if one.
func (d *Daemon) featureOff(w http.ResponseWriter, r *http.Request, p *Principal, dec Decision, queue string) {
	switch dec.Source {
	case "licence":
		writeProblem(w, r, http.StatusForbidden, "licence-required",
			fmt.Sprintf("%s is an expert-assist feature and user %s holds no licence", dec.Feature, p.User.ID))
	case "queue":
		where := "the caller's queues"
		if queue != "" {
			where = "queue " + queue
		}
		writeProblem(w, r, http.StatusForbidden, "feature-off", fmt.Sprintf("%s is switched off for %s", dec.Feature, where))
	case "user":
		writeProblem(w, r, http.StatusForbidden, "feature-off", fmt.Sprintf("%s is switched off for user %s", dec.Feature, p.User.ID))
	case "default":
		writeProblem(w, r, http.StatusForbidden, "feature-off", fmt.Sprintf("%s is off unless an administrator switches it on", dec.Feature))
	default:
		writeProblem(w, r, http.StatusForbidden, "feature-off", fmt.Sprintf("%s is switched off for the account", dec.Feature))
	}
}

func (d *Daemon) getCatalogue(w http.ResponseWriter, r *http.Request, p *Principal) {
	var entries []builtin.CatalogueEntry
	if err := d.store.Setting(settingCatalogue, &entries); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.storeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []builtin.CatalogueEntry{}
	}
	writeJSON(w, 200, entries)
}

func (d *Daemon) putCatalogue(w http.ResponseWriter, r *http.Request, p *Principal) {
	var entries []builtin.CatalogueEntry
	if !d.decodeJSON(w, r, &entries) {
		return
	}
	cat, err := builtin.NewCatalogue(entries)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "entries")
		return
	}
	if err := d.store.PutSetting(r.Context(), settingCatalogue, entries, auditEntry(r, p, "settings.next_best_actions", strconv.Itoa(len(entries)))); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.analytics.catalogue.Store(cat)
	writeJSON(w, 200, entries)
}

func (d *Daemon) getDispositions(w http.ResponseWriter, r *http.Request, p *Principal) {
	writeJSON(w, 200, *d.analytics.codes.Load())
}

func (d *Daemon) putDispositions(w http.ResponseWriter, r *http.Request, p *Principal) {
	var codes []inference.DispositionCode
	if !d.decodeJSON(w, r, &codes) {
		return
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if strings.TrimSpace(c.Code) == "" || strings.TrimSpace(c.Name) == "" {
			d.badRequest(w, r, 400, "entry "+strconv.Itoa(i)+": code and name are required", "code")
			return
		}
		if seen[c.Code] {
			d.badRequest(w, r, 400, "entry "+strconv.Itoa(i)+": code "+c.Code+" given twice", "code")
			return
		}
		seen[c.Code] = true
	}
	if err := d.store.PutSetting(r.Context(), settingDispositions, codes, auditEntry(r, p, "settings.dispositions", strconv.Itoa(len(codes)))); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.analytics.codes.Store(&codes)
	writeJSON(w, 200, codes)
}

func (d *Daemon) getIntents(w http.ResponseWriter, r *http.Request, p *Principal) {
	var intents []builtin.IntentPhrases
	if err := d.store.Setting(settingIntents, &intents); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.storeError(w, r, err)
		return
	}
	if intents == nil {
		intents = []builtin.IntentPhrases{}
	}
	writeJSON(w, 200, intents)
}

// putIntents stores the intents and trains the detector in the background;
// the new model replaces the old one atomically when training succeeds.
func (d *Daemon) putIntents(w http.ResponseWriter, r *http.Request, p *Principal) {
	var intents []builtin.IntentPhrases
	if !d.decodeJSON(w, r, &intents) {
		return
	}
	if len(intents) < 2 {
		d.badRequest(w, r, 400, "at least two intents are needed", "intent")
		return
	}
	for i, it := range intents {
		if strings.TrimSpace(it.Intent) == "" || len(it.Phrases) == 0 {
			d.badRequest(w, r, 400, "entry "+strconv.Itoa(i)+": intent and at least one phrase are required", "intent")
			return
		}
	}
	if err := d.store.PutSetting(r.Context(), settingIntents, intents, auditEntry(r, p, "settings.intents", strconv.Itoa(len(intents)))); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.submitTraining(w, r, builtin.KindIntent, func(ctx context.Context) error {
		return d.analytics.p.TrainIntents(ctx, intents)
	})
}

// trainDispositions trains the disposition model on the ended engagements
// whose agents chose a disposition.
func (d *Daemon) trainDispositions(w http.ResponseWriter, r *http.Request, p *Principal) {
	codes := *d.analytics.codes.Load()
	if len(codes) < 2 {
		d.badRequest(w, r, 400, "configure at least two disposition codes first", "codes")
		return
	}
	d.audit(r, p, "model.train.request", builtin.KindDisposition)
	d.submitTraining(w, r, builtin.KindDisposition, func(ctx context.Context) error {
		es, err := d.store.Engagements(ctx, store.EngagementFilter{From: time.Now().AddDate(-2, 0, 0)})
		if err != nil {
			return err
		}
		var history []builtin.DispositionExample
		for _, e := range es {
			res, err := d.store.Result(ctx, e.ID, resultDisposition)
			if err != nil {
				continue
			}
			var c struct{ Code string }
			if json.Unmarshal(res.Payload, &c) != nil {
				continue
			}
			segs, err := d.store.Segments(ctx, e.ID)
			if err != nil || len(segs) == 0 {
				continue
			}
			conv := make([]inference.Utterance, len(segs))
			for i, s := range segs {
				conv[i] = inference.Utterance{Party: inference.Party(s.Speaker), Text: s.Text, StartMS: s.StartMs, EndMS: s.EndMs}
			}
			history = append(history, builtin.DispositionExample{Conv: conv, Code: c.Code})
		}
		return d.analytics.p.TrainDispositions(ctx, history, codes)
	})
}

func (d *Daemon) submitTraining(w http.ResponseWriter, r *http.Request, kind string, train func(context.Context) error) {
	id, err := d.analytics.trainer.Submit(kind, func(ctx context.Context) error {
		if err := train(ctx); err != nil {
			return err
		}
		return d.analytics.saveModel(kind)
	})
	if errors.Is(err, builtin.ErrBusy) {
		w.Header().Set("Retry-After", "10")
		writeProblem(w, r, http.StatusConflict, "training-busy", err.Error())
		return
	}
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	w.Header().Set("Location", "/api/v1/training/"+strconv.FormatUint(id, 10))
	writeJSON(w, http.StatusAccepted, map[string]any{"job": id, "kind": kind})
}

func (d *Daemon) trainingStatus(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, err := strconv.ParseUint(r.PathValue("job"), 10, 64)
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such training job")
		return
	}
	st, ok := d.analytics.trainer.Status(id)
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such training job")
		return
	}
	writeJSON(w, 200, st)
}
