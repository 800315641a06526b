package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/store"
)

// EventActionResult reports a skill an agent ran on an engagement.
const EventActionResult = "action.result"

func (d *Daemon) skillRoutes() []route {
	return []route{
		{"GET", "/api/v1/skills", wrapUpRoles, "Skills offered by the enabled skill plugins", d.listSkills},
		{"POST", "/api/v1/engagements/{id}/actions", wrapUpRoles, "Run a plugin skill for an engagement (e.g. a next best action)", d.invokeSkill},
		{"POST", "/api/v1/plugins/{name}/sync", adminOnly, "Pull a knowledge plugin's changed articles into the knowledge base now", d.syncPlugin},
	}
}

type skillView struct {
	Plugin string `json:"plugin"`
	sdk.Skill
}

func (d *Daemon) listSkills(w http.ResponseWriter, r *http.Request, p *Principal) {
	out := []skillView{}
	for _, name := range d.plugins.Enabled(r.Context(), sdk.KindSkill) {
		sk, err := d.plugins.Skills(r.Context(), name)
		if err != nil {
			d.logger.Warn("skills not listed", "plugin", name, "err", err)
			continue
		}
		for _, s := range sk {
			out = append(out, skillView{Plugin: name, Skill: s})
		}
	}
	writeJSON(w, 200, out)
}

// actionRequest names a plugin's skill and its input.
type actionRequest struct {
	Plugin string          `json:"plugin"`
	Skill  string          `json:"skill"`
	Input  json.RawMessage `json:"input"`
}

// invokeSkill runs a skill for an engagement the caller may see. The host
// hands the plugin only the fields its approved scopes allow, audits the
// hand-over, and bounds the call by its deadline.
func (d *Daemon) invokeSkill(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var req actionRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Plugin == "" || req.Skill == "" {
		d.badRequest(w, r, 400, "plugin and skill are required", "skill")
		return
	}
	if len(req.Input) > 0 && !json.Valid(req.Input) {
		d.badRequest(w, r, 400, "input must be a JSON value", "input")
		return
	}
	full, err := d.store.Engagement(r.Context(), e.ID)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	res, err := d.plugins.Invoke(r.Context(), req.Plugin, sdk.InvokeRequest{Skill: req.Skill, InputJSON: string(req.Input),
		Engagement: sdk.Engagement{EngagementID: full.ID, Channel: full.Channel, CustomerRef: full.CustomerRef}})
	if err != nil {
		switch {
		case errors.Is(err, plugins.ErrUnknownPlugin):
			writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
		case errors.Is(err, plugins.ErrDisabled), errors.Is(err, plugins.ErrKindNotServed):
			writeProblem(w, r, http.StatusForbidden, "plugin-off", err.Error())
		case errors.Is(err, sdk.ErrInvalidInput), errors.Is(err, sdk.ErrNotFound), errors.Is(err, sdk.ErrUnsupported):
			d.badRequest(w, r, 400, err.Error(), "input")
		default:
			writeProblem(w, r, http.StatusServiceUnavailable, "plugin-unavailable", err.Error())
		}
		return
	}
	a := auditEntry(r, p, "skill.invoke", req.Plugin+"/"+req.Skill)
	a.Engagement = e.ID
	if err := d.store.AppendAudit(r.Context(), a); err != nil {
		d.logger.Error("audit append failed", "action", "skill.invoke", "err", err)
	}
	out := map[string]any{"plugin": req.Plugin, "skill": req.Skill, "message": res.Message, "result": json.RawMessage(orNull(res.ResultJSON))}
	if l, live := d.hub.Get(e.ID); live && !l.Ended() {
		l.Publish(EventActionResult, out)
	}
	writeJSON(w, 200, out)
}

func orNull(s string) string {
	if s == "" || !json.Valid([]byte(s)) {
		return "null"
	}
	return s
}

// knowledgeSyncInterval paces the pull of knowledge-source plugins.
const knowledgeSyncInterval = 5 * time.Minute

// syncKnowledge pulls the changed articles of every enabled knowledge
// plugin into the knowledge base, now and then every interval, until ctx
// is done. Each plugin's cursor is stored after its page is written.
func (d *Daemon) syncKnowledge(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, name := range d.plugins.Enabled(ctx, sdk.KindKnowledge) {
			if err := d.syncKnowledgeSource(ctx, name); err != nil && ctx.Err() == nil {
				d.logger.Warn("knowledge sync failed", "plugin", name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (d *Daemon) syncKnowledgeSource(ctx context.Context, name string) error {
	key := "plugins.knowledge_cursor." + name
	var cursor string
	if err := d.store.Setting(key, &cursor); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ps, err := d.pluginSettings.PluginSettings(ctx, name)
	if err != nil {
		return err
	}
	// The host bounds the pages, articles and bytes of one sync; what is
	// left follows at the next one, from the stored cursor.
	_, err = d.plugins.SyncKnowledge(ctx, name, cursor, func(ctx context.Context, ch sdk.Changes) error {
		for _, a := range ch.Articles {
			art := kb.Article{ID: name + ":" + a.ID, Title: a.Title, Body: a.Body, Tags: a.Tags, Source: "plugin:" + name, Updated: a.Updated,
				Queue: ps.KnowledgeQueue}
			if art.Updated.IsZero() {
				art.Updated = time.Now().UTC()
			}
			if err := art.Validate(); err != nil {
				d.logger.Warn("knowledge article refused", "plugin", name, "article", a.ID, "err", err)
				continue
			}
			if err := d.store.PutArticle(ctx, store.Article(art), store.AuditEntry{Actor: "plugin:" + name, Action: "kb.article.sync", Target: art.ID}); err != nil {
				return err
			}
			if _, err := d.kb.idx.Upsert(ctx, art); err != nil {
				d.logger.Warn("synced article not indexed", "article", art.ID, "err", err)
			}
		}
		for _, id := range ch.DeletedIDs {
			full := name + ":" + id
			if err := d.store.DeleteArticle(ctx, full, store.AuditEntry{Actor: "plugin:" + name, Action: "kb.article.sync_delete", Target: full}); err == nil {
				_ = d.kb.idx.Delete(full)
			}
		}
		return d.store.PutSetting(ctx, key, ch.NextCursor)
	})
	return err
}

// rescopeKnowledge moves the articles a knowledge plugin synced to queue
// (empty: site-wide), in the store and in the index.
func (d *Daemon) rescopeKnowledge(ctx context.Context, name, queue string) error {
	arts, err := d.store.Articles(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, sa := range arts {
		if sa.Source != "plugin:"+name || sa.Queue == queue {
			continue
		}
		sa.Queue = queue
		if err := d.store.PutArticle(ctx, sa, store.AuditEntry{Actor: "plugin:" + name, Action: "kb.article.rescope", Target: sa.ID,
			Detail: map[string]string{"queue": queue}}); err != nil {
			return err
		}
		if _, err := d.kb.idx.Upsert(ctx, kb.Article(sa)); err != nil {
			d.logger.Warn("rescoped article not indexed", "article", sa.ID, "err", err)
		}
		n++
	}
	d.logger.Info("knowledge plugin rescoped", "plugin", name, "queue", queue, "articles", n)
	return nil
}

func (d *Daemon) syncPlugin(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	if err := d.syncKnowledgeSource(r.Context(), name); err != nil {
		switch {
		case errors.Is(err, plugins.ErrUnknownPlugin):
			writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
		case errors.Is(err, plugins.ErrDisabled), errors.Is(err, plugins.ErrKindNotServed):
			writeProblem(w, r, http.StatusForbidden, "plugin-off", err.Error())
		default:
			writeProblem(w, r, http.StatusServiceUnavailable, "plugin-unavailable", err.Error())
		}
		return
	}
	d.audit(r, p, "plugin.sync", name)
	writeJSON(w, 200, map[string]string{"plugin": name, "status": "synced"})
}
