package daemon

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/earshot/earshot/store"
)

func (d *Daemon) featureRoutes() []route {
	return []route{
		{"GET", "/api/v1/features", staffRoles, "The feature registry", d.listFeatures},
		{"GET", "/api/v1/features/effective", staffRoles, "Effective feature settings for a queue and a user", d.effectiveFeatures},
		{"GET", "/api/v1/settings/features", adminOnly, "Every feature setting, by level", d.getFeatureSettings},
		{"PUT", "/api/v1/settings/features/account/{feature}", adminOnly, "Set a feature at account level (optionally locked)", d.putFeatureSetting},
		{"PUT", "/api/v1/settings/features/queues/{queue}/{feature}", adminOnly, "Set a feature for a queue", d.putFeatureSetting},
		{"PUT", "/api/v1/settings/features/users/{user}/{feature}", adminOnly, "Set a feature for a user", d.putFeatureSetting},
		{"DELETE", "/api/v1/settings/features/account/{feature}", adminOnly, "Clear an account-level feature setting", d.deleteFeatureSetting},
		{"DELETE", "/api/v1/settings/features/queues/{queue}/{feature}", adminOnly, "Clear a queue's feature setting", d.deleteFeatureSetting},
		{"DELETE", "/api/v1/settings/features/users/{user}/{feature}", adminOnly, "Clear a user's feature setting", d.deleteFeatureSetting},
		{"PUT", "/api/v1/settings/local-models-only", adminOnly, "Switch local-models-only mode", d.putLocalModelsOnly},
	}
}

func (d *Daemon) listFeatures(w http.ResponseWriter, r *http.Request, p *Principal) {
	writeJSON(w, 200, Features)
}

// effectiveFeatures answers for ?queue=&user=. Administrators may ask about
// anyone; supervisors and analysts about their queues; agents about
// themselves.
func (d *Daemon) effectiveFeatures(w http.ResponseWriter, r *http.Request, p *Principal) {
	queue, user := r.URL.Query().Get("queue"), r.URL.Query().Get("user")
	if user == "" && p.Role() == RoleAgent {
		user = p.User.ID
	}
	if queue != "" && !p.InQueue(queue) {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope")
		return
	}
	if p.Role() != RoleAdmin && user != "" && user != p.User.ID {
		if p.Role() == RoleAgent {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "agents may ask about themselves only")
			return
		}
		u, err := d.store.User(user)
		if err != nil || !sharesQueue(p, u) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "user outside the caller's queues")
			return
		}
	}
	out := make([]Decision, 0, len(Features))
	for _, f := range Features {
		out = append(out, d.controls.Decide(f.Name, queue, user))
	}
	writeJSON(w, 200, map[string]any{
		"queue": queue, "user": user, "local_models_only": d.controls.LocalModelsOnly(), "features": out,
	})
}

func sharesQueue(p *Principal, u store.User) bool {
	for _, q := range u.Queues {
		if p.InQueue(q) {
			return true
		}
	}
	return false
}

func (d *Daemon) getFeatureSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	s := d.controls.Settings()
	writeJSON(w, 200, map[string]any{"settings": s, "local_models_only": d.controls.LocalModelsOnly()})
}

// featureLevel returns the settings map addressed by the request's path,
// creating it when create is set.
func featureLevel(s *FeatureSettings, r *http.Request, create bool) map[Feature]FeatureSetting {
	switch {
	case r.PathValue("queue") != "":
		q := r.PathValue("queue")
		if s.Queues == nil && create {
			s.Queues = map[string]map[Feature]FeatureSetting{}
		}
		if s.Queues[q] == nil && create {
			s.Queues[q] = map[Feature]FeatureSetting{}
		}
		return s.Queues[q]
	case r.PathValue("user") != "":
		u := r.PathValue("user")
		if s.Users == nil && create {
			s.Users = map[string]map[Feature]FeatureSetting{}
		}
		if s.Users[u] == nil && create {
			s.Users[u] = map[Feature]FeatureSetting{}
		}
		return s.Users[u]
	default:
		if s.Account == nil && create {
			s.Account = map[Feature]FeatureSetting{}
		}
		return s.Account
	}
}

func (d *Daemon) checkFeatureTarget(w http.ResponseWriter, r *http.Request) (Feature, bool) {
	f := Feature(r.PathValue("feature"))
	if _, ok := featureInfo(f); !ok {
		d.badRequest(w, r, http.StatusNotFound, "unknown feature "+string(f), "feature")
		return "", false
	}
	if q := r.PathValue("queue"); q != "" {
		if _, err := d.store.Queue(q); err != nil {
			d.badRequest(w, r, http.StatusNotFound, "unknown queue "+q, "queue")
			return "", false
		}
	}
	if u := r.PathValue("user"); u != "" {
		if _, err := d.store.User(u); err != nil {
			d.badRequest(w, r, http.StatusNotFound, "unknown user "+u, "user")
			return "", false
		}
	}
	return f, true
}

func (d *Daemon) putFeatureSetting(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.checkFeatureTarget(w, r)
	if !ok {
		return
	}
	// PUT replaces the setting, {enabled, locked}. A lock is never lifted
	// by leaving locked out: a locked setting must be restated.
	body, ok := d.readBody(w, r)
	if !ok {
		return
	}
	var req FeatureSetting
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Enabled == nil {
		d.badRequest(w, r, 400, "enabled is required (true or false)", "enabled")
		return
	}
	_, lockGiven := members(body)["locked"]
	err := d.controls.Update(r.Context(), func(s *FeatureSettings) error {
		level := featureLevel(s, r, true)
		if old, ok := level[f]; ok && old.Locked && !lockGiven {
			return errLockUnstated
		}
		level[f] = req
		return nil
	}, auditEntry(r, p, "feature.set", r.URL.Path))
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "locked")
		return
	}
	writeJSON(w, 200, req)
}

var (
	errNoSetting    = errors.New("no such setting")
	errLockUnstated = errors.New(`the setting is locked: send "locked": true to keep the lock or "locked": false to lift it`)
)

func (d *Daemon) deleteFeatureSetting(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.checkFeatureTarget(w, r)
	if !ok {
		return
	}
	err := d.controls.Update(r.Context(), func(s *FeatureSettings) error {
		m := featureLevel(s, r, false)
		if _, ok := m[f]; !ok {
			return errNoSetting
		}
		delete(m, f)
		return nil
	}, auditEntry(r, p, "feature.clear", r.URL.Path))
	if errors.Is(err, errNoSetting) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such setting")
		return
	}
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) putLocalModelsOnly(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Enabled == nil {
		d.badRequest(w, r, 400, "enabled is required (true or false)", "enabled")
		return
	}
	if err := d.controls.Update(r.Context(), func(s *FeatureSettings) error { s.LocalModelsOnly = req.Enabled; return nil },
		auditEntry(r, p, "settings.local_models_only", fmt.Sprint(*req.Enabled))); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"local_models_only": *req.Enabled})
}
