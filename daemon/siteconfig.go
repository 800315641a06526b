package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/inference/translate"
	"github.com/earshot/earshot/store"
	"github.com/earshot/earshot/store/bundle"
)

// Site configuration bundles (store/bundle): GET exports this box's site
// configuration; POST verifies a signed bundle against the keys the
// configuration file trusts and shows, or applies, what differs. Signing
// happens where the site's private key is held (earshot config export),
// never on the box.

// SiteConfigConfig says whose bundles the box applies.
type SiteConfigConfig struct {
	// TrustedKeys are files holding the ed25519 public keys (PEM) whose
	// bundles this box applies. None: bundles are refused. They are read
	// at each application, so a key is added or withdrawn without a
	// restart.
	TrustedKeys []string `yaml:"trusted_keys"`
}

// Validate checks the key paths.
func (c SiteConfigConfig) Validate() error {
	for i, p := range c.TrustedKeys {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("site_config.trusted_keys[%d]: empty path", i)
		}
	}
	return nil
}

// siteSettings are the settings a bundle carries. Left out: the plugin
// settings (each box installs its own plugins and approves their scopes),
// the trained models (derived from each box's engagements; a box retrains
// from the intents) and plugin cursors (each box's state).
var siteSettings = []string{settingFeatures, settingRedactionAccount, settingRedactionQueues, settingQM,
	settingCatalogue, settingDispositions, settingIntents}

func (d *Daemon) siteConfigRoutes() []route {
	return []route{
		{"GET", "/api/v1/config/bundle", adminOnly, "This box's site configuration as the contents of a bundle, unsigned (earshot config export signs it)", d.exportSiteConfig},
		{"POST", "/api/v1/config/bundle/apply", adminOnly, "Verify a signed site configuration bundle and show (dry_run, the default) or apply what differs", d.applySiteConfig},
	}
}

func (d *Daemon) exportSiteConfig(w http.ResponseWriter, r *http.Request, p *Principal) {
	c, err := d.siteContents(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	d.audit(r, p, "config.export", fmt.Sprintf("queues=%d users=%d bots=%d scorecards=%d articles=%d",
		len(c.Queues), len(c.Users), len(c.Bots), len(c.Scorecards), len(c.Articles)))
	writeJSON(w, http.StatusOK, c)
}

// siteContents reads the box's site configuration.
func (d *Daemon) siteContents(ctx context.Context) (bundle.Contents, error) {
	c := bundle.Contents{Format: bundle.Format, FormatVersion: bundle.FormatVersion, Schema: store.SchemaVersion,
		Exporter: Version, ExportedAt: time.Now().UTC().Round(0)}
	qs, err := d.store.Queues(ctx)
	if err != nil {
		return c, err
	}
	for _, q := range qs {
		c.Queues = append(c.Queues, bundle.Queue{ID: q.ID, Name: q.Name, Description: q.Description})
	}
	us, err := d.store.Users(ctx)
	if err != nil {
		return c, err
	}
	for _, u := range us {
		c.Users = append(c.Users, bundle.User{ID: u.ID, DisplayName: u.DisplayName, Role: u.Role, Queues: u.Queues,
			Licensed: u.Licensed, Language: u.Language, Disabled: u.Disabled})
	}
	for _, k := range siteSettings {
		var raw json.RawMessage
		if err := d.store.Setting(k, &raw); err != nil && !errors.Is(err, store.ErrNotFound) {
			return c, err
		}
		raw = bundle.Canonical(raw)
		// An empty object or list is the defaults, like no setting; the
		// account's redaction policy is the exception ({} is a policy).
		if k != settingRedactionAccount && (string(raw) == "{}" || string(raw) == "[]") {
			raw = nil
		}
		c.Settings = append(c.Settings, bundle.Setting{Key: k, Value: raw})
	}
	bots, err := d.store.Bots(ctx)
	if err != nil {
		return c, err
	}
	for _, b := range bots {
		out := bundle.Bot{ID: b.ID, Queue: b.Queue, Draft: bundle.Canonical(b.Draft), WidgetKey: b.WidgetKey, Coach: bundle.CoachList(b.Coach)}
		if b.Published > 0 {
			v, err := d.store.BotVersion(b.ID, b.Published)
			if err != nil {
				return c, err
			}
			out.Live = bundle.Canonical(v.Definition)
		}
		c.Bots = append(c.Bots, out)
	}
	scs, err := d.store.Scorecards(ctx)
	if err != nil {
		return c, err
	}
	for _, raw := range scs {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return c, fmt.Errorf("daemon: decode scorecard: %w", err)
		}
		id, _ := m["id"].(string)
		delete(m, "version")
		delete(m, "created_at")
		delete(m, "created_by")
		def, _ := json.Marshal(m)
		c.Scorecards = append(c.Scorecards, bundle.Scorecard{ID: id, Definition: def})
	}
	arts, err := d.store.Articles(ctx)
	if err != nil {
		return c, err
	}
	for _, a := range arts {
		c.Articles = append(c.Articles, bundle.Article{ID: a.ID, Title: a.Title, Body: a.Body, Tags: a.Tags,
			Queue: a.Queue, Source: a.Source, Updated: a.Updated})
	}
	c.Normalize()
	return c, nil
}

// trustedSiteKeys reads the public keys of site_config.trusted_keys.
func (d *Daemon) trustedSiteKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for i, path := range d.cfg.SiteConfig.TrustedKeys {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("site_config.trusted_keys[%d]: %w", i, err)
		}
		k, err := bundle.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("site_config.trusted_keys[%d] (%s): %w", i, path, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// maxBundleBody bounds a bundle: the knowledge base's text, escaped, and
// the rest.
func (d *Daemon) maxBundleBody() int64 {
	return 2*d.cfg.KB.MaxTextBytes + 16<<20
}

func (d *Daemon) applySiteConfig(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	dryRun, prune := true, false
	for name, dst := range map[string]*bool{"dry_run": &dryRun, "prune": &prune} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				d.badRequest(w, r, 400, name+" must be true or false", name)
				return
			}
			*dst = b
		}
	}
	var signed bundle.Signed
	if !d.decodeJSONLimit(w, r, &signed, d.maxBundleBody()) {
		return
	}
	keys, err := d.trustedSiteKeys()
	if err != nil {
		d.logger.Error("site configuration keys unreadable", "err", err)
		writeProblem(w, r, http.StatusInternalServerError, "not-configured", err.Error())
		return
	}
	if len(keys) == 0 {
		writeProblem(w, r, http.StatusConflict, "not-configured", "this box trusts no site configuration key: list the site's public key in site_config.trusted_keys")
		return
	}
	want, err := bundle.Open(signed, keys, store.SchemaVersion)
	switch {
	case errors.Is(err, bundle.ErrSignature), errors.Is(err, bundle.ErrUntrusted):
		d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), "signature")
		return
	case errors.Is(err, bundle.ErrNewer):
		d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), "contents.schema")
		return
	case err != nil:
		d.badRequest(w, r, 400, err.Error(), "contents")
		return
	}
	d.siteConfigMu.Lock()
	defer d.siteConfigMu.Unlock()
	cur, err := d.siteContents(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	a := &siteApply{d: d, r: r, p: p, want: want, cur: cur, sum: signed.SHA256(), key: signed.KeyID}
	if field, err := a.check(); err != nil {
		d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), field)
		return
	}
	plan := api.SiteConfigPlan{DryRun: dryRun, BundleSHA256: a.sum, KeyID: signed.KeyID, Exporter: want.Exporter, Schema: want.Schema,
		Changes: bundle.Diff(cur, want, bundle.Options{Prune: prune, Protect: []string{p.User.ID}})}
	if dryRun {
		writeJSON(w, http.StatusOK, plan)
		return
	}
	for _, ch := range plan.Changes {
		if ch.Op == bundle.OpKeep {
			continue
		}
		if err := a.apply(r.Context(), ch); err != nil {
			d.logger.Error("site configuration bundle partly applied", "bundle", a.sum, "applied", plan.Applied, "change", ch.Kind+" "+ch.ID, "err", err)
			detail := fmt.Sprintf("%d changes applied, then %s %s %s failed: %v (the bundle applies again from where it stopped)", plan.Applied, ch.Op, ch.Kind, ch.ID, err)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
				writeProblemField(w, r, http.StatusConflict, "conflict", detail, ch.Kind)
				return
			}
			writeProblem(w, r, http.StatusInternalServerError, "internal", detail)
			return
		}
		plan.Applied++
	}
	a.finish(r.Context())
	entry := a.entry("config.apply", fmt.Sprintf("changes=%d", plan.Applied))
	if err := d.store.AppendAudit(r.Context(), entry); err != nil {
		d.logger.Error("audit append failed", "action", "config.apply", "err", err)
	}
	writeJSON(w, http.StatusOK, plan)
}

// siteApply checks and applies one bundle.
type siteApply struct {
	d         *Daemon
	r         *http.Request
	p         *Principal
	want, cur bundle.Contents
	sum, key  string

	// Made by check for apply.
	settings map[string]func(context.Context, store.AuditEntry) error
	// Changed by apply, for finish.
	articles, access, scorecards, intents bool
}

// entry is an audit entry of the application naming the bundle.
func (a *siteApply) entry(action, target string) store.AuditEntry {
	e := auditEntry(a.r, a.p, action, target)
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["bundle"], e.Detail["key"] = a.sum, a.key
	return e
}

// check validates everything the bundle would write before anything is
// written; it returns the field at fault.
func (a *siteApply) check() (string, error) {
	queues := map[string]bool{}
	for _, q := range a.cur.Queues {
		queues[q.ID] = true
	}
	for i, q := range a.want.Queues {
		if !queueIDPattern.MatchString(q.ID) {
			return fmt.Sprintf("queues[%d].id", i), fmt.Errorf("queue id %q must match %s", q.ID, queueIDPattern)
		}
		queues[q.ID] = true
	}
	for i, u := range a.want.Users {
		f := fmt.Sprintf("users[%d]", i)
		switch {
		case !userIDPattern.MatchString(u.ID):
			return f + ".id", fmt.Errorf("user id %q must match %s", u.ID, userIDPattern)
		case !validRole(u.Role):
			return f + ".role", fmt.Errorf("user %s: role %q is not a role", u.ID, u.Role)
		case u.ID == a.p.User.ID && (u.Role != string(RoleAdmin) || u.Disabled):
			return f + ".role", fmt.Errorf("user %s is the administrator applying the bundle, who cannot demote or disable themselves", u.ID)
		}
		if u.Language != "" {
			if _, err := translate.ParseLang(u.Language); err != nil {
				return f + ".language", fmt.Errorf("user %s: language must be one of %s", u.ID, knownLanguages())
			}
		}
		for _, q := range u.Queues {
			if !queues[q] {
				return f + ".queues", fmt.Errorf("user %s: queue %q is neither in the bundle nor on this box", u.ID, q)
			}
		}
	}
	a.settings = map[string]func(context.Context, store.AuditEntry) error{}
	for i, s := range a.want.Settings {
		if a.settings[s.Key] != nil {
			return fmt.Sprintf("settings[%d].key", i), fmt.Errorf("setting %s given twice", s.Key)
		}
		fn, err := a.d.prepareSetting(s.Key, s.Value, queues)
		if err != nil {
			return fmt.Sprintf("settings[%d].value", i), fmt.Errorf("setting %s: %w", s.Key, err)
		}
		a.settings[s.Key] = fn
	}
	curBots := map[string]bundle.Bot{}
	for _, b := range a.cur.Bots {
		curBots[b.ID] = b
	}
	for i, b := range a.want.Bots {
		f := fmt.Sprintf("bots[%d]", i)
		if b.WidgetKey == "" {
			return f + ".widget_key", fmt.Errorf("bot %s: widget_key is required", b.ID)
		}
		if b.Queue != "" && !queues[b.Queue] {
			return f + ".queue", fmt.Errorf("bot %s: queue %q is neither in the bundle nor on this box", b.ID, b.Queue)
		}
		for name, def := range map[string]json.RawMessage{"draft": b.Draft, "live": b.Live} {
			if len(def) == 0 {
				continue
			}
			if _, err := bot.Decode(def, bot.JSON); err != nil {
				return f + "." + name, fmt.Errorf("bot %s: %s definition: %v", b.ID, name, err)
			}
		}
		if len(b.Live) == 0 && len(curBots[b.ID].Live) > 0 {
			return f + ".live", fmt.Errorf("bot %s is published on this box but not in the bundle; a bundle does not unpublish a bot", b.ID)
		}
	}
	known := a.d.known()
	if known.Queues != nil {
		for q := range queues {
			known.Queues[q] = true
		}
	}
	var codes []inference.DispositionCode
	if raw := a.want.Setting(settingDispositions); len(raw) > 0 && json.Unmarshal(raw, &codes) == nil && len(codes) > 0 {
		known.Dispositions = map[string]bool{}
		for _, c := range codes {
			known.Dispositions[c.Code] = true
		}
	}
	for i, s := range a.want.Scorecards {
		var sc qm.Scorecard
		if err := strictJSON(s.Definition, &sc); err != nil {
			return fmt.Sprintf("scorecards[%d].definition", i), fmt.Errorf("scorecard %s: %v", s.ID, err)
		}
		if sc.ID != s.ID {
			return fmt.Sprintf("scorecards[%d].id", i), fmt.Errorf("scorecard %s: definition names %q", s.ID, sc.ID)
		}
		if err := sc.Validate(known); err != nil {
			return fmt.Sprintf("scorecards[%d].definition", i), fmt.Errorf("scorecard %s: %v", s.ID, err)
		}
	}
	for i, art := range a.want.Articles {
		ka := kb.Article(art)
		if err := ka.Validate(); err != nil {
			return fmt.Sprintf("articles[%d]", i), fmt.Errorf("article %s: %v", art.ID, err)
		}
		if art.Queue != "" && !queues[art.Queue] {
			return fmt.Sprintf("articles[%d].queue", i), fmt.Errorf("article %s: queue %q is neither in the bundle nor on this box", art.ID, art.Queue)
		}
		if err := a.d.kb.idx.CheckRoom(ka); err != nil {
			return fmt.Sprintf("articles[%d]", i), fmt.Errorf("article %s: the knowledge base would exceed kb.max_text_bytes", art.ID)
		}
	}
	return "", nil
}

func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// prepareSetting validates a setting of the bundle and returns what
// stores it and makes it current. queues are the queues that will exist.
func (d *Daemon) prepareSetting(key string, raw json.RawMessage, queues map[string]bool) (func(context.Context, store.AuditEntry) error, error) {
	null := len(bundle.Canonical(raw)) == 0
	decode := func(v any) error {
		if null {
			return nil
		}
		return strictJSON(raw, v)
	}
	switch key {
	case settingFeatures:
		var fs FeatureSettings
		if err := decode(&fs); err != nil {
			return nil, err
		}
		if err := fs.validate(); err != nil {
			return nil, err
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			return d.controls.Update(ctx, func(s *FeatureSettings) error { *s = cloneSettings(fs); return nil }, e)
		}, nil
	case settingRedactionAccount:
		if null {
			return func(ctx context.Context, e store.AuditEntry) error {
				d.redaction.setMu.Lock()
				defer d.redaction.setMu.Unlock()
				if err := d.store.PutSetting(ctx, key, nil, e); err != nil {
					return err
				}
				d.redaction.setAccount(nil)
				return nil
			}, nil
		}
		var rp RedactionPolicy
		if err := decode(&rp); err != nil {
			return nil, err
		}
		built, err := d.redaction.build(rp)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			d.redaction.setMu.Lock()
			defer d.redaction.setMu.Unlock()
			if err := d.store.PutSetting(ctx, key, rp, e); err != nil {
				return err
			}
			d.redaction.setAccount(built)
			return nil
		}, nil
	case settingRedactionQueues:
		var m map[string]RedactionPolicy
		if err := decode(&m); err != nil {
			return nil, err
		}
		built := map[string]*policyRedactors{}
		for q, rp := range m {
			if !queues[q] {
				return nil, fmt.Errorf("queue %q is neither in the bundle nor on this box", q)
			}
			b, err := d.redaction.build(rp)
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", q, err)
			}
			built[q] = b
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			d.redaction.setMu.Lock()
			defer d.redaction.setMu.Unlock()
			var old map[string]RedactionPolicy
			if err := d.store.Setting(key, &old); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := d.store.PutSetting(ctx, key, m, e); err != nil {
				return err
			}
			for q := range old {
				d.redaction.setQueue(q, nil)
			}
			for q, b := range built {
				d.redaction.setQueue(q, b)
			}
			return nil
		}, nil
	case settingQM:
		s := defaultQMSettings()
		if err := decode(&s); err != nil {
			return nil, err
		}
		if err := s.validate(); err != nil {
			return nil, err
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			if err := d.store.PutSetting(ctx, key, nullOr(null, s), e); err != nil {
				return err
			}
			d.quality.settings.Store(&s)
			return nil
		}, nil
	case settingCatalogue:
		var entries []builtin.CatalogueEntry
		if err := decode(&entries); err != nil {
			return nil, err
		}
		cat, err := builtin.NewCatalogue(entries)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			if err := d.store.PutSetting(ctx, key, entries, e); err != nil {
				return err
			}
			d.analytics.catalogue.Store(cat)
			return nil
		}, nil
	case settingDispositions:
		codes := []inference.DispositionCode{}
		if err := decode(&codes); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for i, c := range codes {
			if strings.TrimSpace(c.Code) == "" || strings.TrimSpace(c.Name) == "" {
				return nil, fmt.Errorf("entry %d: code and name are required", i)
			}
			if seen[c.Code] {
				return nil, fmt.Errorf("entry %d: code %s given twice", i, c.Code)
			}
			seen[c.Code] = true
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			if err := d.store.PutSetting(ctx, key, nullOr(null, codes), e); err != nil {
				return err
			}
			d.analytics.codes.Store(&codes)
			return nil
		}, nil
	case settingIntents:
		var intents []builtin.IntentPhrases
		if err := decode(&intents); err != nil {
			return nil, err
		}
		if !null && len(intents) < 2 {
			return nil, errors.New("at least two intents are needed")
		}
		for i, it := range intents {
			if strings.TrimSpace(it.Intent) == "" || len(it.Phrases) == 0 {
				return nil, fmt.Errorf("entry %d: intent and at least one phrase are required", i)
			}
		}
		return func(ctx context.Context, e store.AuditEntry) error {
			if err := d.store.PutSetting(ctx, key, intents, e); err != nil {
				return err
			}
			if len(intents) > 0 {
				_, err := d.analytics.trainer.Submit(builtin.KindIntent, func(ctx context.Context) error {
					if err := d.analytics.p.TrainIntents(ctx, intents); err != nil {
						return err
					}
					return d.analytics.saveModel(builtin.KindIntent)
				})
				if err != nil {
					// The intents are stored; the model is trained again
					// through the API when the trainer is free.
					d.logger.Warn("intents applied from a bundle; training not started", "err", err)
				}
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("%q is not a setting a bundle carries (one of %s)", key, strings.Join(siteSettings, ", "))
}

// nullOr is nil for a setting the bundle unsets, else v.
func nullOr(null bool, v any) any {
	if null {
		return nil
	}
	return v
}

// apply makes one change.
func (a *siteApply) apply(ctx context.Context, ch bundle.Change) error {
	st := a.d.store
	e := a.entry("config.apply."+ch.Kind+"."+ch.Op, ch.Kind+":"+ch.ID)
	now := time.Now().UTC()
	switch ch.Kind {
	case bundle.KindQueue:
		if ch.Op == bundle.OpDelete {
			return st.DeleteQueue(ctx, ch.ID, e)
		}
		q := find(a.want.Queues, func(q bundle.Queue) bool { return q.ID == ch.ID })
		name := q.Name
		if name == "" {
			name = q.ID
		}
		if ch.Op == bundle.OpCreate {
			return st.CreateQueue(ctx, store.Queue{ID: q.ID, Name: name, Description: q.Description, CreatedAt: now, UpdatedAt: now}, e)
		}
		old, err := st.Queue(q.ID)
		if err != nil {
			return err
		}
		old.Name, old.Description, old.UpdatedAt = name, q.Description, now
		return st.UpdateQueue(ctx, old, e)
	case bundle.KindUser:
		a.access = true
		if ch.Op == bundle.OpDelete {
			return st.DeleteUser(ctx, ch.ID, e)
		}
		u := find(a.want.Users, func(u bundle.User) bool { return u.ID == ch.ID })
		su := store.User{ID: u.ID, CreatedAt: now}
		if ch.Op == bundle.OpUpdate {
			old, err := st.User(u.ID)
			if err != nil {
				return err
			}
			su = old
		}
		su.DisplayName, su.Role, su.Queues, su.Licensed, su.Language, su.Disabled, su.UpdatedAt =
			u.DisplayName, u.Role, u.Queues, u.Licensed, u.Language, u.Disabled, now
		if ch.Op == bundle.OpCreate {
			return st.CreateUser(ctx, su, e)
		}
		return st.UpdateUser(ctx, su, e)
	case bundle.KindSetting:
		a.intents = a.intents || ch.ID == settingIntents
		a.access = a.access || ch.ID == settingFeatures
		return a.settings[ch.ID](ctx, e)
	case bundle.KindBot:
		return a.applyBot(ctx, ch, e)
	case bundle.KindScorecard:
		a.scorecards = true
		s := find(a.want.Scorecards, func(s bundle.Scorecard) bool { return s.ID == ch.ID })
		var sc qm.Scorecard
		if err := json.Unmarshal(s.Definition, &sc); err != nil {
			return err
		}
		sc.CreatedAt, sc.CreatedBy = now, a.p.User.ID
		_, err := st.PutScorecardVersion(ctx, sc.ID, 0, func(v int) ([]byte, error) {
			sc.Version = v
			return json.Marshal(sc)
		}, e)
		return err
	case bundle.KindArticle:
		a.articles = true
		if ch.Op == bundle.OpDelete {
			if err := st.DeleteArticle(ctx, ch.ID, e); err != nil {
				return err
			}
			_ = a.d.kb.idx.Delete(ch.ID)
			return nil
		}
		art := find(a.want.Articles, func(x bundle.Article) bool { return x.ID == ch.ID })
		if art.Updated.IsZero() {
			art.Updated = now
		}
		ka := kb.Article(art)
		if err := st.PutArticle(ctx, store.Article(ka), e); err != nil {
			return err
		}
		if _, err := a.d.kb.idx.Upsert(ctx, ka); err != nil {
			a.d.logger.Error("article stored but not indexed", "article", ka.ID, "err", err)
		}
		return nil
	}
	return fmt.Errorf("unknown kind %q", ch.Kind)
}

// applyBot creates, updates or deletes a bot. A live definition that
// differs is published as the box's next version.
func (a *siteApply) applyBot(ctx context.Context, ch bundle.Change, e store.AuditEntry) error {
	st := a.d.store
	if ch.Op == bundle.OpDelete {
		if err := st.DeleteBot(ctx, ch.ID, e); err != nil {
			return err
		}
		a.d.bots.forget(ch.ID)
		return nil
	}
	b := find(a.want.Bots, func(b bundle.Bot) bool { return b.ID == ch.ID })
	cur := find(a.cur.Bots, func(x bundle.Bot) bool { return x.ID == ch.ID })
	if ch.Op == bundle.OpCreate {
		if err := st.CreateBot(ctx, store.Bot{ID: b.ID, Queue: b.Queue, WidgetKey: b.WidgetKey}, e); err != nil {
			return err
		}
	}
	if len(b.Live) > 0 && !bytes.Equal(bundle.Canonical(b.Live), bundle.Canonical(cur.Live)) {
		def, err := bot.Decode(b.Live, bot.JSON)
		if err != nil {
			return err
		}
		if _, err := st.PublishBot(ctx, b.ID, bundle.Canonical(b.Live), def.Queue, a.p.User.ID, e); err != nil {
			return err
		}
	}
	// Publishing clears the draft: the bundle's draft, queue, widget key
	// and coaching decisions are set after it.
	_, err := st.UpdateBot(ctx, b.ID, func(sb *store.Bot) error {
		if !bytes.Equal(bundle.Canonical(sb.Draft), bundle.Canonical(b.Draft)) {
			sb.Draft, sb.DraftUpdatedAt, sb.DraftUpdatedBy = bundle.Canonical(b.Draft), time.Now().UTC(), a.p.User.ID
		}
		sb.Queue, sb.WidgetKey, sb.Coach = b.Queue, b.WidgetKey, bundle.CoachMap(b.Coach)
		return nil
	}, e)
	return err
}

// finish makes what the changes touched current: the knowledge base's
// language models, the scorecards, long-lived connections' access.
func (a *siteApply) finish(ctx context.Context) {
	if a.articles || a.intents {
		a.d.media.lmChanged()
	}
	if a.scorecards {
		if err := a.d.quality.reloadScorecards(ctx); err != nil {
			a.d.logger.Error("scorecards applied but not reloaded", "err", err)
		}
	}
	if a.access {
		a.d.changes.Notify()
	}
}

// find returns the element of s that match selects (the zero value when
// none does).
func find[T any](s []T, match func(T) bool) T {
	for _, v := range s {
		if match(v) {
			return v
		}
	}
	var zero T
	return zero
}
