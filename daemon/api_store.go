package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store"
)

var auditReaders = []Role{RoleAuditor, RoleAdmin}

func (d *Daemon) storeRoutes() []route {
	return []route{
		{"GET", "/api/v1/audit", auditReaders, "Query the audit log by time, actor, action and engagement", d.queryAudit},
		{"GET", "/api/v1/audit/export", auditReaders, "Export the audit log as JSON lines", d.exportAudit},
		{"GET", "/api/v1/audit/verify", auditReaders, "Verify the audit log's hash chain", d.verifyAudit},
		{"GET", "/api/v1/backup/content", adminOnly, "Online backup of the content database (sealed values only)", d.backupContent},
		{"GET", "/api/v1/backup/keys", adminOnly, "Online backup of the wrapped data keys; keep apart from content backups", d.backupKeys},
		{"POST", "/api/v1/purge", adminOnly, "Purge engagements by ID, customer reference, or queue and date range (crypto-shredding)", d.purge},
		{"PUT", "/api/v1/engagements/{id}/legal-hold", adminOnly, "Set or clear an engagement's legal hold", d.legalHold},
		{"GET", "/api/v1/retention", adminOnly, "The retention windows in force and where they are set (the configuration file; a restart applies a change)", d.getRetention},
		{"POST", "/api/v1/retention/sweep", adminOnly, "Apply the retention windows now", d.sweep},
		{"POST", "/api/v1/keys/rotate", adminOnly, "Re-wrap every data key under a new key-encryption-key version (resumable)", d.rotateKEK},
	}
}

// auditQuery reads the filter of the audit routes from the query string.
func (d *Daemon) auditQuery(w http.ResponseWriter, r *http.Request) (store.AuditQuery, bool) {
	v := r.URL.Query()
	q := store.AuditQuery{Actor: v.Get("actor"), Action: v.Get("action"), Engagement: v.Get("engagement")}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(tf.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				d.badRequest(w, r, 400, tf.name+" must be an RFC 3339 time", tf.name)
				return q, false
			}
			*tf.dst = t
		}
	}
	for _, nf := range []struct {
		name string
		dst  func(uint64)
	}{{"after_seq", func(n uint64) { q.AfterSeq = n }}, {"limit", func(n uint64) { q.Limit = int(n) }}} {
		if s := v.Get(nf.name); s != "" {
			n, err := strconv.ParseUint(s, 10, 63)
			if err != nil {
				d.badRequest(w, r, 400, nf.name+" must be a non-negative integer", nf.name)
				return q, false
			}
			nf.dst(n)
		}
	}
	return q, true
}

func (d *Daemon) queryAudit(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.auditQuery(w, r)
	if !ok {
		return
	}
	if q.Limit == 0 || q.Limit > 10000 {
		q.Limit = 1000
	}
	es, err := d.store.QueryAudit(r.Context(), q)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if es == nil {
		es = []store.AuditEntry{}
	}
	writeJSON(w, 200, es)
}

func (d *Daemon) exportAudit(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.auditQuery(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", `attachment; filename="earshot-audit.jsonl"`)
	if _, err := d.store.ExportAudit(r.Context(), w, q); err != nil {
		d.logger.Error("audit export failed", "err", err)
	}
}

func (d *Daemon) verifyAudit(w http.ResponseWriter, r *http.Request, p *Principal) {
	rep, err := d.store.VerifyAudit(r.Context())
	if errors.Is(err, store.ErrTampered) {
		writeProblem(w, r, http.StatusConflict, "audit-broken", err.Error())
		return
	}
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, api.AuditVerify{OK: true, Report: api.AuditReport(rep)})
}

func (d *Daemon) backup(w http.ResponseWriter, r *http.Request, p *Principal, kind string, write func(w http.ResponseWriter) (int64, error)) {
	if err := d.store.AppendAudit(r.Context(), auditEntry(r, p, "backup."+kind, kind)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="earshot-%s-%s.db"`, kind, time.Now().UTC().Format("20060102T150405Z")))
	n, err := write(w)
	if err != nil {
		// Headers are gone: the truncated body and the log tell.
		d.logger.Error("backup failed", "kind", kind, "bytes", n, "err", err)
		return
	}
	d.logger.Info("backup written", "kind", kind, "bytes", n)
}

func (d *Daemon) backupContent(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.backup(w, r, p, "content", func(w http.ResponseWriter) (int64, error) { return d.store.Backup(r.Context(), w) })
}

func (d *Daemon) backupKeys(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.backup(w, r, p, "keys", func(w http.ResponseWriter) (int64, error) { return d.store.BackupKeys(r.Context(), w) })
}

// purgeRequest selects what to purge (the API's shared type).
type purgeRequest = api.PurgeRequest

func (d *Daemon) purge(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req purgeRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Reason == "" {
		d.badRequest(w, r, 400, "reason is required: a purge is audited with who, what and why", "reason")
		return
	}
	n := 0
	for _, set := range []bool{req.Engagement != "", req.CustomerRef != "", req.Queue != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		d.badRequest(w, r, 400, "give exactly one of engagement, customer_ref, or queue with from and to", "engagement")
		return
	}
	pr := store.PurgeRequest{Actor: p.User.ID, Reason: req.Reason}
	var (
		res store.PurgeResult
		err error
	)
	switch {
	case req.Engagement != "":
		if l, ok := d.hub.Get(req.Engagement); ok && !l.Ended() {
			writeProblem(w, r, http.StatusConflict, "live", "end the engagement before purging it")
			return
		}
		res, err = d.store.PurgeEngagement(r.Context(), req.Engagement, pr)
	case req.CustomerRef != "":
		res, err = d.store.PurgeCustomer(r.Context(), req.CustomerRef, pr)
	default:
		if req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To) {
			d.badRequest(w, r, 400, "a queue purge needs from before to (RFC 3339)", "from")
			return
		}
		res, err = d.store.PurgeQueue(r.Context(), req.Queue, req.From, req.To, pr)
	}
	switch {
	case errors.Is(err, store.ErrLegalHold):
		writeProblem(w, r, http.StatusConflict, "legal-hold", err.Error())
	case errors.Is(err, store.ErrBadID):
		d.badRequest(w, r, 400, err.Error(), "engagement")
	case err != nil:
		d.storeError(w, r, err)
	default:
		// Purged engagements' events leave memory with them.
		d.hub.ForgetEnded(func(id string) bool {
			_, err := d.store.Engagement(r.Context(), id)
			return errors.Is(err, store.ErrNotFound)
		})
		writeJSON(w, 200, api.PurgeResult(res))
	}
}

func (d *Daemon) legalHold(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Hold   *bool  `json:"hold"`
		Reason string `json:"reason"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Hold == nil || req.Reason == "" {
		d.badRequest(w, r, 400, "hold (true or false) and reason are required", "hold")
		return
	}
	id := r.PathValue("id")
	a := auditEntry(r, p, "engagement.legal_hold", id)
	a.Engagement, a.Reason = id, req.Reason
	if err := d.store.SetLegalHold(r.Context(), id, *req.Hold, a); err != nil {
		if errors.Is(err, store.ErrBadID) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such engagement")
			return
		}
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"engagement": id, "legal_hold": *req.Hold})
}

// retentionView is the answer of GET /api/v1/retention. The windows are
// part of the site's configuration (store.retention), read at start: the
// redaction policy is validated against them then, and the store holds
// them for its sweeps. They are shown, not changed, through the API.
type retentionView struct {
	store.Retention
	MinAuditDays  int    `json:"min_audit_days"`
	SweepInterval string `json:"sweep_interval"`
	Setting       string `json:"setting"`
	DefaultConfig string `json:"default_config_file"`
	Editable      bool   `json:"editable"`
}

func (d *Daemon) getRetention(w http.ResponseWriter, r *http.Request, p *Principal) {
	writeJSON(w, 200, retentionView{Retention: d.cfg.Store.Retention, MinAuditDays: store.MinAuditDays,
		SweepInterval: d.cfg.Store.SweepInterval.String(), Setting: "store.retention", DefaultConfig: DefaultConfigPath})
}

func (d *Daemon) sweep(w http.ResponseWriter, r *http.Request, p *Principal) {
	res, err := d.store.SweepNow(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	d.audit(r, p, "retention.sweep", "on demand")
	writeJSON(w, 200, res)
}

func (d *Daemon) rotateKEK(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.RotateRequest
	if r.ContentLength != 0 && !d.decodeJSON(w, r, &req) {
		return
	}
	res, err := d.store.RotateKEK(r.Context(), p.User.ID, req.DestroyOld)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, api.RotateResult(res))
}
