package daemon

import (
	"errors"
	"net/http"
	"time"

	"github.com/earshot/earshot/store"
)

// unredactedReaders may read the sealed unredacted copies.
var unredactedReaders = []Role{RoleCompliance}

func (d *Daemon) redactionRoutes() []route {
	return []route{
		{"GET", "/api/v1/engagements/{id}/unredacted", unredactedReaders,
			"The transcript with the sealed unredacted originals of the segments redaction changed (compliance role; audited)", d.engagementUnredacted},
		{"PUT", "/api/v1/engagements/{id}/payment-step", []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleIngest},
			"Start or end a payment step: keypad digits are masked while it is active (audited)", d.putPaymentStep},
		{"GET", "/api/v1/settings/redaction", adminOnly, "The redaction policies: the account's, and each queue's with where it comes from", d.getRedactionSettings},
		{"PUT", "/api/v1/settings/redaction/account", adminOnly, "Set the account's redaction policy (overrides the configuration file's; new engagements)", d.putAccountRedaction},
		{"DELETE", "/api/v1/settings/redaction/account", adminOnly, "Clear the account's redaction policy set through the API", d.deleteAccountRedaction},
		{"GET", "/api/v1/settings/redaction/queues/{queue}", adminOnly, "A queue's effective redaction policy", d.getQueueRedaction},
		{"PUT", "/api/v1/settings/redaction/queues/{queue}", adminOnly, "Set a queue's redaction policy (overrides the configuration file's; new engagements)", d.putQueueRedaction},
		{"DELETE", "/api/v1/settings/redaction/queues/{queue}", adminOnly, "Clear a queue's redaction policy set through the API", d.deleteQueueRedaction},
	}
}

// queueRedactionView is a queue's effective redaction policy.
type queueRedactionView struct {
	Queue string `json:"queue"`
	// Enabled is pii_redaction's decision for the queue.
	Enabled bool            `json:"enabled"`
	Policy  RedactionPolicy `json:"policy"`
	// Source is "api", "configuration" or "account".
	Source string `json:"source"`
	// UnredactedCopyDays is how long the copy is kept (0: none).
	UnredactedCopyDays int `json:"unredacted_copy_days"`
}

func (d *Daemon) queueRedaction(queue string) queueRedactionView {
	p, src := d.redaction.queuePolicy(queue)
	return queueRedactionView{Queue: queue, Enabled: d.controls.EnabledForQueue(featurePIIRedaction, queue),
		Policy: p.source, Source: src, UnredactedCopyDays: p.keepDays}
}

func (d *Daemon) getRedactionSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	qs, err := d.store.Queues(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	views := make([]queueRedactionView, 0, len(qs))
	for _, q := range qs {
		views = append(views, d.queueRedaction(q.ID))
	}
	writeJSON(w, 200, map[string]any{"account": d.accountRedaction(), "max_hold": time.Duration(d.cfg.Redaction.MaxHold).String(), "queues": views})
}

// accountRedactionView is the account's redaction policy.
type accountRedactionView struct {
	Policy RedactionPolicy `json:"policy"`
	// Source is "api" or "configuration".
	Source             string `json:"source"`
	UnredactedCopyDays int    `json:"unredacted_copy_days"`
}

func (d *Daemon) accountRedaction() accountRedactionView {
	p, src := d.redaction.accountPolicy()
	return accountRedactionView{Policy: p.source, Source: src, UnredactedCopyDays: p.keepDays}
}

// buildPolicy decodes and validates a policy from the request; it has
// answered when ok is false.
func (d *Daemon) buildPolicy(w http.ResponseWriter, r *http.Request) (RedactionPolicy, *policyRedactors, bool) {
	var req RedactionPolicy
	if !d.decodeJSON(w, r, &req) {
		return req, nil, false
	}
	built, err := d.redaction.build(req)
	var pe *policyError
	switch {
	case errors.As(err, &pe):
		d.badRequest(w, r, 400, pe.Error(), pe.Field)
		return req, nil, false
	case err != nil:
		d.badRequest(w, r, 400, err.Error(), "")
		return req, nil, false
	}
	return req, built, true
}

// putAccountRedaction replaces the account's policy (queues with a policy
// of their own keep it). Engagements already live keep theirs.
func (d *Daemon) putAccountRedaction(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, built, ok := d.buildPolicy(w, r)
	if !ok {
		return
	}
	d.redaction.setMu.Lock()
	defer d.redaction.setMu.Unlock()
	if err := d.store.PutSetting(r.Context(), settingRedactionAccount, req, auditEntry(r, p, "redaction.policy.set", "account")); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.redaction.setAccount(built)
	writeJSON(w, 200, d.accountRedaction())
}

// deleteAccountRedaction clears the account's API policy: the
// configuration file's applies again.
func (d *Daemon) deleteAccountRedaction(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.redaction.setMu.Lock()
	defer d.redaction.setMu.Unlock()
	var stored *RedactionPolicy
	err := d.store.UpdateSetting(r.Context(), settingRedactionAccount, &stored, func() error {
		stored = nil
		return nil
	}, auditEntry(r, p, "redaction.policy.clear", "account"))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	d.redaction.setAccount(nil)
	w.WriteHeader(http.StatusNoContent)
}

// redactionQueue checks the request's queue exists.
func (d *Daemon) redactionQueue(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.PathValue("queue")
	if _, err := d.store.Queue(q); err != nil {
		d.badRequest(w, r, http.StatusNotFound, "unknown queue "+q, "queue")
		return "", false
	}
	return q, true
}

func (d *Daemon) getQueueRedaction(w http.ResponseWriter, r *http.Request, p *Principal) {
	if q, ok := d.redactionQueue(w, r); ok {
		writeJSON(w, 200, d.queueRedaction(q))
	}
}

// putQueueRedaction replaces a queue's policy. Engagements already live
// keep the policy they started with.
func (d *Daemon) putQueueRedaction(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.redactionQueue(w, r)
	if !ok {
		return
	}
	req, built, ok := d.buildPolicy(w, r)
	if ok && d.changeQueuePolicy(w, r, p, q, &req, built) {
		writeJSON(w, 200, d.queueRedaction(q))
	}
}

// deleteQueueRedaction clears a queue's API policy (the configuration
// file's, or the account's, applies again); clearing none is no error.
func (d *Daemon) deleteQueueRedaction(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.redactionQueue(w, r)
	if !ok {
		return
	}
	if d.changeQueuePolicy(w, r, p, q, nil, nil) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// changeQueuePolicy stores a queue's API policy (req nil: clears it),
// audited, then installs built for the queue's new engagements. It has
// answered with the error when it returns false.
func (d *Daemon) changeQueuePolicy(w http.ResponseWriter, r *http.Request, p *Principal, q string, req *RedactionPolicy, built *policyRedactors) bool {
	action := "redaction.policy.set"
	if req == nil {
		action = "redaction.policy.clear"
	}
	d.redaction.setMu.Lock()
	defer d.redaction.setMu.Unlock()
	var stored map[string]RedactionPolicy
	err := d.store.UpdateSetting(r.Context(), settingRedactionQueues, &stored, func() error {
		switch {
		case req == nil:
			delete(stored, q)
		case stored == nil:
			stored = map[string]RedactionPolicy{q: *req}
		default:
			stored[q] = *req
		}
		return nil
	}, auditEntry(r, p, action, q))
	if err != nil {
		d.storeError(w, r, err)
		return false
	}
	d.redaction.setQueue(q, built)
	return true
}

// engagementUnredacted returns an engagement's transcript with the sealed
// unredacted original in place of every segment redaction changed, and
// the sequence numbers of those segments. The read is audited before
// anything is returned.
func (d *Daemon) engagementUnredacted(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	originals, err := d.store.Originals(r.Context(), e.ID, contentRead(r, p, e.ID, "unredacted"))
	switch {
	case errors.Is(err, store.ErrOriginalExpired):
		writeProblem(w, r, http.StatusGone, "unredacted-expired", "the engagement's unredacted copy has expired")
		return
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "no-unredacted-copy", "the engagement has no unredacted copy")
		return
	case err != nil:
		d.storeError(w, r, err)
		return
	}
	segs, err := d.store.Segments(r.Context(), e.ID)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	bySeq := make(map[uint32]store.Segment, len(originals))
	for _, o := range originals {
		bySeq[o.Seq] = o
	}
	replaced := []uint32{}
	for i, g := range segs {
		if o, ok := bySeq[g.Seq]; ok {
			segs[i].Text, segs[i].Words, segs[i].Translations = o.Text, o.Words, nil
			replaced = append(replaced, g.Seq)
		}
	}
	writeJSON(w, 200, map[string]any{"engagement": e.ID, "segments": segs, "unredacted_seqs": replaced})
}

// paymentStepRequest starts (true) or ends a payment step.
type paymentStepRequest struct {
	Active *bool `json:"active"`
}

// putPaymentStep starts or ends a live engagement's payment step (an agent
// or the IVR takes card details): while it is active the keypad digits
// reach no event, log or store. Each change is audited.
func (d *Daemon) putPaymentStep(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var req paymentStepRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Active == nil {
		d.badRequest(w, r, 400, "active is required (true or false)", "active")
		return
	}
	l, live := d.hub.Get(e.ID)
	if !live || l.Ended() {
		writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has ended")
		return
	}
	if l.SetPaymentStep(*req.Active) {
		action := "engagement.payment_step.end"
		if *req.Active {
			action = "engagement.payment_step.start"
		}
		a := auditEntry(r, p, action, e.ID)
		a.Engagement = e.ID
		if err := d.store.AppendAudit(r.Context(), a); err != nil {
			d.logger.Error("audit append failed", "action", action, "err", err)
		}
	}
	writeJSON(w, 200, map[string]bool{"active": *req.Active})
}
