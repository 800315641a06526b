package daemon

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference/translate"
	"github.com/earshot/earshot/store"
)

var (
	queueIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	userIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
)

// The directory's bodies are the API's shared types (daemon/api), which
// the admin command line sends and reads too.
type (
	queueRequest = api.QueueRequest
	userRequest  = api.UserRequest
	tokenRequest = api.TokenRequest
	tokenView    = api.Token
)

func viewToken(t store.Token) tokenView {
	return tokenView{ID: t.ID, UserID: t.UserID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt,
		Queues: t.Queues, Sources: t.Sources}
}

func viewQueue(q store.Queue) api.Queue {
	return api.Queue{ID: q.ID, Name: q.Name, Description: q.Description, CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt}
}

func viewUser(u store.User) api.User {
	v := api.User{ID: u.ID, DisplayName: u.DisplayName, Role: u.Role, Queues: u.Queues, Licensed: u.Licensed,
		Disabled: u.Disabled, Language: u.Language, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if v.Queues == nil {
		v.Queues = []string{}
	}
	return v
}

var (
	adminOnly      = []Role{RoleAdmin}
	staffRoles     = staff
	queueReaders   = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst}
	everyoneButBot = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst, RoleAuditor}
)

func (d *Daemon) directoryRoutes() []route {
	return []route{
		{"GET", "/api/v1/queues", queueReaders, "List the queues the caller is scoped to", d.listQueues},
		{"POST", "/api/v1/queues", adminOnly, "Create a queue", d.createQueue},
		{"GET", "/api/v1/queues/{id}", queueReaders, "Get a queue", d.getQueue},
		{"PUT", "/api/v1/queues/{id}", adminOnly, "Replace a queue's name and description (both required)", d.replaceQueue},
		{"PATCH", "/api/v1/queues/{id}", adminOnly, "Change the members of a queue given, keep the others", d.patchQueue},
		{"DELETE", "/api/v1/queues/{id}", adminOnly, "Delete a queue", d.deleteQueue},
		{"GET", "/api/v1/users", adminOnly, "List users", d.listUsers},
		{"POST", "/api/v1/users", adminOnly, "Create a user", d.createUser},
		{"GET", "/api/v1/users/{id}", everyoneButBot, "Get a user (admins: anyone; others: themselves)", d.getUser},
		{"PUT", "/api/v1/users/{id}", adminOnly, "Replace a user (every member required)", d.replaceUser},
		{"PATCH", "/api/v1/users/{id}", adminOnly, "Change the members of a user given (role, queues, licence, ...), keep the others", d.patchUser},
		{"DELETE", "/api/v1/users/{id}", adminOnly, "Delete a user and revoke their tokens", d.deleteUser},
		{"GET", "/api/v1/tokens", adminOnly, "List tokens (never their secrets)", d.listTokens},
		{"POST", "/api/v1/tokens", adminOnly, "Create a token for a user; the secret is shown once", d.createToken},
		{"DELETE", "/api/v1/tokens/{id}", adminOnly, "Revoke a token", d.revokeToken},
	}
}

// storeError maps store errors to problems.
func (d *Daemon) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
	case errors.Is(err, store.ErrExists):
		writeProblem(w, r, http.StatusConflict, "conflict", err.Error())
	default:
		d.logger.Error("store request failed", "route", r.Pattern, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, "internal", "the store failed; see the daemon's log")
	}
}

func (d *Daemon) listQueues(w http.ResponseWriter, r *http.Request, p *Principal) {
	qs, err := d.store.Queues(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := []api.Queue{}
	for _, q := range qs {
		if p.InQueue(q.ID) {
			out = append(out, viewQueue(q))
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) getQueue(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if !p.InQueue(id) {
		// Not 403: do not reveal which queues exist to callers outside them.
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such queue")
		return
	}
	q, err := d.store.Queue(id)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewQueue(q))
}

func (d *Daemon) createQueue(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req queueRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if !queueIDPattern.MatchString(req.ID) {
		d.badRequest(w, r, 400, "id must match "+queueIDPattern.String(), "id")
		return
	}
	if req.Name == "" {
		req.Name = req.ID
	}
	now := time.Now().UTC()
	q := store.Queue{ID: req.ID, Name: req.Name, Description: req.Description, CreatedAt: now, UpdatedAt: now}
	if err := d.store.CreateQueue(r.Context(), q, auditEntry(r, p, "queue.create", "queue:"+q.ID)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/queues/"+q.ID)
	writeJSON(w, http.StatusCreated, viewQueue(q))
}

func (d *Daemon) replaceQueue(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req queueRequest
	if !d.decodeReplace(w, r, &req, "name", "description") {
		return
	}
	id := r.PathValue("id")
	if req.ID != "" && req.ID != id {
		d.badRequest(w, r, 400, "id in the body differs from the path", "id")
		return
	}
	if req.Name == "" {
		req.Name = id
	}
	d.updateQueue(w, r, p, api.QueuePatch{Name: &req.Name, Description: &req.Description})
}

func (d *Daemon) patchQueue(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.QueuePatch
	if !d.decodePatch(w, r, &req) {
		return
	}
	if req.Name != nil && *req.Name == "" {
		d.badRequest(w, r, 400, "name cannot be empty", "name")
		return
	}
	d.updateQueue(w, r, p, req)
}

// updateQueue applies the members of c that are set to the stored queue.
func (d *Daemon) updateQueue(w http.ResponseWriter, r *http.Request, p *Principal, c api.QueuePatch) {
	id := r.PathValue("id")
	q, err := d.store.Queue(id)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if c.Name != nil {
		q.Name = *c.Name
	}
	if c.Description != nil {
		q.Description = *c.Description
	}
	q.UpdatedAt = time.Now().UTC()
	if err := d.store.UpdateQueue(r.Context(), q, auditEntry(r, p, "queue.update", "queue:"+q.ID)); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewQueue(q))
}

func (d *Daemon) deleteQueue(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if err := d.store.DeleteQueue(r.Context(), id, auditEntry(r, p, "queue.delete", "queue:"+id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) listUsers(w http.ResponseWriter, r *http.Request, p *Principal) {
	us, err := d.store.Users(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := make([]api.User, 0, len(us))
	for _, u := range us {
		out = append(out, viewUser(u))
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) getUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if p.Role() != RoleAdmin && id != p.User.ID {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "only administrators may read other users")
		return
	}
	u, err := d.store.User(id)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewUser(u))
}

func (d *Daemon) validateUser(w http.ResponseWriter, r *http.Request, req *userRequest) bool {
	if !userIDPattern.MatchString(req.ID) {
		d.badRequest(w, r, 400, "id must match "+userIDPattern.String(), "id")
		return false
	}
	return d.validateUserFields(w, r, &req.Role, &req.Queues) && d.validateLanguage(w, r, &req.Language)
}

// validateLanguage checks and normalises a preferred language, when set
// and not empty.
func (d *Daemon) validateLanguage(w http.ResponseWriter, r *http.Request, lang *string) bool {
	if lang == nil || *lang == "" {
		return true
	}
	l, err := translate.ParseLang(*lang)
	if err != nil {
		d.badRequest(w, r, 400, "language must be one of "+knownLanguages(), "language")
		return false
	}
	*lang = string(l)
	return true
}

// validateUserFields checks a role and queue list, those that are set, and
// sorts and deduplicates the queues.
func (d *Daemon) validateUserFields(w http.ResponseWriter, r *http.Request, role *string, queues *[]string) bool {
	if role != nil && !validRole(*role) {
		d.badRequest(w, r, 400, "role must be one of admin, supervisor, agent, analyst, auditor, ingest, compliance", "role")
		return false
	}
	if queues == nil {
		return true
	}
	for _, q := range *queues {
		if !queueIDPattern.MatchString(q) {
			d.badRequest(w, r, 400, "queue id "+q+" is not valid", "queues")
			return false
		}
	}
	slices.Sort(*queues)
	*queues = slices.Compact(*queues)
	return true
}

func (d *Daemon) createUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req userRequest
	if !d.decodeJSON(w, r, &req) || !d.validateUser(w, r, &req) {
		return
	}
	now := time.Now().UTC()
	u := store.User{ID: req.ID, DisplayName: req.DisplayName, Role: req.Role, Queues: req.Queues,
		Licensed: req.Licensed, Language: req.Language, Disabled: req.Disabled, CreatedAt: now, UpdatedAt: now}
	if err := d.store.CreateUser(r.Context(), u, auditEntry(r, p, "user.create", "user:"+u.ID)); err != nil {
		if errors.Is(err, store.ErrNotFound) { // a named queue does not exist
			d.badRequest(w, r, 400, err.Error(), "queues")
			return
		}
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, viewUser(u))
}

func (d *Daemon) replaceUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req userRequest
	if !d.decodeReplace(w, r, &req, "display_name", "role", "queues", "licensed", "disabled", "language") {
		return
	}
	id := r.PathValue("id")
	if req.ID == "" {
		req.ID = id
	}
	if req.ID != id {
		d.badRequest(w, r, 400, "id in the body differs from the path", "id")
		return
	}
	if req.Queues == nil {
		req.Queues = []string{}
	}
	d.updateUser(w, r, p, api.UserPatch{DisplayName: &req.DisplayName, Role: &req.Role, Queues: &req.Queues,
		Licensed: &req.Licensed, Disabled: &req.Disabled, Language: &req.Language})
}

func (d *Daemon) patchUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.UserPatch
	if !d.decodePatch(w, r, &req) {
		return
	}
	d.updateUser(w, r, p, req)
}

// updateUser applies the members of c that are set to the stored user and
// keeps every other one.
func (d *Daemon) updateUser(w http.ResponseWriter, r *http.Request, p *Principal, c api.UserPatch) {
	id := r.PathValue("id")
	if !d.validateUserFields(w, r, c.Role, c.Queues) || !d.validateLanguage(w, r, c.Language) {
		return
	}
	u, err := d.store.User(id)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if id == p.User.ID && ((c.Role != nil && *c.Role != string(RoleAdmin)) || (c.Disabled != nil && *c.Disabled)) {
		field := "role"
		if c.Role == nil || *c.Role == string(RoleAdmin) {
			field = "disabled"
		}
		d.badRequest(w, r, 400, "administrators cannot demote or disable themselves", field)
		return
	}
	if c.DisplayName != nil {
		u.DisplayName = *c.DisplayName
	}
	if c.Role != nil {
		u.Role = *c.Role
	}
	if c.Queues != nil {
		u.Queues = *c.Queues
	}
	if c.Licensed != nil {
		u.Licensed = *c.Licensed
	}
	if c.Disabled != nil {
		u.Disabled = *c.Disabled
	}
	if c.Language != nil {
		u.Language = *c.Language
	}
	u.UpdatedAt = time.Now().UTC()
	if err := d.store.UpdateUser(r.Context(), u, auditEntry(r, p, "user.update", "user:"+u.ID)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			d.badRequest(w, r, 400, err.Error(), "queues")
			return
		}
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewUser(u))
}

func (d *Daemon) deleteUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if id == p.User.ID {
		d.badRequest(w, r, 400, "administrators cannot delete themselves", "id")
		return
	}
	if err := d.store.DeleteUser(r.Context(), id, auditEntry(r, p, "user.delete", "user:"+id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) listTokens(w http.ResponseWriter, r *http.Request, p *Principal) {
	ts, err := d.store.Tokens(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := make([]tokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, viewToken(t))
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) createToken(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req tokenRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		var err error
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 {
			d.badRequest(w, r, 400, "expires_in must be a positive duration such as 720h", "expires_in")
			return
		}
	}
	if req.UserID == "" {
		d.badRequest(w, r, 400, "user_id is required", "user_id")
		return
	}
	if !d.checkTokenScope(w, r, &req) {
		return
	}
	tmpl := store.Token{UserID: req.UserID, Name: req.Name, Queues: req.Queues, Sources: req.Sources}
	t, secret, err := issueToken(r.Context(), d.store, tmpl, ttl, auditEntry(r, p, "token.create", "user:"+req.UserID))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			d.badRequest(w, r, 400, err.Error(), "user_id")
			return
		}
		d.storeError(w, r, err)
		return
	}
	v := viewToken(t)
	v.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

// checkTokenScope checks the queues and sources that narrow a new token:
// only an ingest user's token is narrowed, to queues of the user's and to
// known sources.
func (d *Daemon) checkTokenScope(w http.ResponseWriter, r *http.Request, req *tokenRequest) bool {
	if len(req.Queues) == 0 && len(req.Sources) == 0 {
		return true
	}
	u, err := d.store.User(req.UserID)
	if err != nil {
		d.badRequest(w, r, 400, "unknown user "+req.UserID, "user_id")
		return false
	}
	field := "queues"
	if len(req.Queues) == 0 {
		field = "sources"
	}
	if u.Role != string(RoleIngest) {
		d.badRequest(w, r, 400, "only an ingest user's token is narrowed to queues and sources", field)
		return false
	}
	for _, q := range req.Queues {
		if !slices.Contains(u.Queues, q) {
			d.badRequest(w, r, 400, "queue "+q+" is not one of the user's queues", "queues")
			return false
		}
	}
	for _, s := range req.Sources {
		if !slices.Contains(ingestSources, s) {
			d.badRequest(w, r, 400, "source "+s+" is not one of "+strings.Join(ingestSources, ", "), "sources")
			return false
		}
	}
	slices.Sort(req.Queues)
	req.Queues = slices.Compact(req.Queues)
	slices.Sort(req.Sources)
	req.Sources = slices.Compact(req.Sources)
	return true
}

func (d *Daemon) revokeToken(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if err := d.store.RevokeToken(r.Context(), id, time.Now().UTC(), auditEntry(r, p, "token.revoke", "token:"+id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
