package plugins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

// granted returns the scopes a plugin may receive: those its manifest
// requests and an administrator approved.
func granted(requested, approved []sdk.Scope) []sdk.Scope {
	var out []sdk.Scope
	for _, s := range requested {
		if slices.Contains(approved, s) {
			out = append(out, s)
		}
	}
	return out
}

// Granted returns the scopes plugin name may receive now: those its
// manifest requests and an administrator approved. Callers use it to read
// only the content a call can hand over; the call itself minimises again.
func (h *Host) Granted(ctx context.Context, name string) ([]sdk.Scope, error) {
	inst, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	ps, err := h.settings.PluginSettings(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("plugins/%s: settings: %w", name, err)
	}
	return granted(inst.getManifest().Scopes, ps.ApprovedScopes), nil
}

// minimise builds the engagement a plugin receives: the ID and channel,
// and only the fields of the granted scopes. It returns the names of the
// customer-content fields actually handed over (non-empty), for the audit.
func minimise(e sdk.Engagement, scopes []sdk.Scope) (sdk.Engagement, []string) {
	out := sdk.Engagement{EngagementID: e.EngagementID, Channel: e.Channel}
	var fields []string
	for _, s := range scopes {
		switch s {
		case sdk.ScopeCustomerRef:
			if e.CustomerRef != "" {
				out.CustomerRef = e.CustomerRef
				fields = append(fields, string(s))
			}
		case sdk.ScopeIntents:
			if len(e.Intents) > 0 {
				out.Intents = slices.Clone(e.Intents)
				fields = append(fields, string(s))
			}
		case sdk.ScopeTranscript:
			if len(e.Transcript) > 0 {
				out.Transcript = slices.Clone(e.Transcript)
				fields = append(fields, string(s))
			}
		case sdk.ScopeSummary:
			if e.Summary != "" {
				out.Summary = e.Summary
				fields = append(fields, string(s))
			}
		case sdk.ScopeResults:
			if len(e.Results) > 0 {
				out.Results = make(map[string]string, len(e.Results))
				for k, v := range e.Results {
					out.Results[k] = v
				}
				fields = append(fields, string(s))
			}
		}
	}
	return out, fields
}

// FieldSkillInput is the audit field name for a skill's input arguments,
// which may carry what the customer told the virtual agent.
const FieldSkillInput = "skill_input"

// call runs one plugin call with every guard: installed, kind served,
// enabled, local-models-only, breaker, in-flight bound, started, data
// minimisation, audit, deadline. e may be nil for calls that carry no
// engagement. fn receives the minimised engagement.
func (h *Host) call(ctx context.Context, name string, kind sdk.Kind, e *sdk.Engagement, extra []string,
	fn func(ctx context.Context, r *sdk.Remote, e sdk.Engagement) error) (err error) {
	inst, err := h.lookup(name)
	if err != nil {
		return err
	}
	reject := func(reason string, err error) error {
		h.m.rejected.WithLabelValues(name, reason).Inc()
		return fmt.Errorf("plugins/%s: %s: %w", name, kind, err)
	}
	m := inst.getManifest()
	if !slices.Contains(m.Kinds, kind) {
		return reject("kind", ErrKindNotServed)
	}
	ps, err := h.settings.PluginSettings(ctx, name)
	if err != nil {
		return reject("settings", fmt.Errorf("settings: %w", err))
	}
	if !ps.Enabled {
		return reject("disabled", ErrDisabled)
	}
	if !ps.approved(m) {
		return reject("not_approved", fmt.Errorf("%w: installed sha256 %s, approved %q", ErrNotApproved, m.SHA256, ps.ApprovedSHA256))
	}
	if kind == sdk.KindModel {
		localOnly, err := h.settings.LocalModelsOnly(ctx)
		if err != nil {
			return reject("settings", fmt.Errorf("settings: %w", err))
		}
		if localOnly && m.ThirdPartyModel(ps.LocalConfirmed) {
			return reject("local_models_only", ErrLocalModelsOnly)
		}
	}
	var (
		sent   sdk.Engagement
		fields []string
	)
	if e != nil {
		sent, fields = minimise(*e, granted(m.Scopes, ps.ApprovedScopes))
	}
	fields = append(fields, extra...)

	probe, err := inst.admit()
	if err != nil {
		reason := "busy"
		if errors.Is(err, ErrCircuitOpen) {
			reason = "breaker"
		}
		return reject(reason, err)
	}
	defer inst.release(probe)

	timeout := h.cfg.CallTimeout
	if kind == sdk.KindInfo {
		timeout = h.cfg.InfoTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	remote, gen, err := inst.ready(cctx)
	if err != nil {
		return reject("not_running", err)
	}
	if len(fields) > 0 {
		if err := h.audit.RecordHandover(cctx, name, string(kind), sent.EngagementID, fields); err != nil {
			return reject("audit", fmt.Errorf("%w: %w", ErrAudit, err))
		}
		h.m.handovers.WithLabelValues(name, string(kind)).Inc()
	}
	start := time.Now()
	err = fn(cctx, remote, sent)
	h.m.latency.WithLabelValues(string(kind)).Observe(time.Since(start).Seconds())
	result := inst.outcome(gen, err, errors.Is(ctx.Err(), context.Canceled))
	h.m.calls.WithLabelValues(name, string(kind), result).Inc()
	if err != nil {
		return fmt.Errorf("plugins/%s: %s: %w", name, kind, err)
	}
	return nil
}

// Cards asks info plugin name for customer cards about e, live, within
// Config.InfoTimeout (or ctx's earlier deadline).
func (h *Host) Cards(ctx context.Context, name string, e sdk.Engagement) ([]sdk.Card, error) {
	var cards []sdk.Card
	err := h.call(ctx, name, sdk.KindInfo, &e, nil, func(ctx context.Context, r *sdk.Remote, e sdk.Engagement) error {
		var err error
		cards, err = r.Cards(ctx, e)
		return err
	})
	return cards, err
}

// PluginCards is one info plugin's answer in CardsAll.
type PluginCards struct {
	Plugin string
	Cards  []sdk.Card
	Err    error
}

// CardsAll asks every enabled info plugin at once and returns their
// answers in plugin-name order; a failing plugin only fails its own entry.
func (h *Host) CardsAll(ctx context.Context, e sdk.Engagement) []PluginCards {
	names := h.Enabled(ctx, sdk.KindInfo)
	out := make([]PluginCards, len(names))
	done := make(chan struct{}, len(names))
	for idx, name := range names {
		go func() {
			cards, err := h.Cards(ctx, name, e)
			out[idx] = PluginCards{Plugin: name, Cards: cards, Err: err}
			done <- struct{}{}
		}()
	}
	for range names {
		<-done
	}
	return out
}

// Changes asks knowledge plugin name for the articles changed since cursor.
func (h *Host) Changes(ctx context.Context, name, cursor string, limit int) (sdk.Changes, error) {
	var ch sdk.Changes
	err := h.call(ctx, name, sdk.KindKnowledge, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		var err error
		ch, err = r.Changes(ctx, cursor, limit)
		return err
	})
	return ch, err
}

// Skills lists skill plugin name's skills.
func (h *Host) Skills(ctx context.Context, name string) ([]sdk.Skill, error) {
	var sk []sdk.Skill
	err := h.call(ctx, name, sdk.KindSkill, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		var err error
		sk, err = r.Skills(ctx)
		return err
	})
	return sk, err
}

// Invoke runs one skill of plugin name. req.Engagement is minimised to the
// granted scopes; a non-empty InputJSON is audited as "skill_input".
func (h *Host) Invoke(ctx context.Context, name string, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	var extra []string
	if req.InputJSON != "" {
		extra = []string{FieldSkillInput}
	}
	var res sdk.InvokeResult
	err := h.call(ctx, name, sdk.KindSkill, &req.Engagement, extra, func(ctx context.Context, r *sdk.Remote, e sdk.Engagement) error {
		req.Engagement = e
		var err error
		res, err = r.Invoke(ctx, req)
		return err
	})
	return res, err
}

// Capabilities lists model plugin name's capabilities. Refused, like
// Infer, for a third-party model while local-models-only mode is on.
func (h *Host) Capabilities(ctx context.Context, name string) ([]string, error) {
	var caps []string
	err := h.call(ctx, name, sdk.KindModel, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		var err error
		caps, err = r.Capabilities(ctx)
		return err
	})
	return caps, err
}

// Infer runs a capability of model plugin name over req.Engagement,
// minimised to the granted scopes.
func (h *Host) Infer(ctx context.Context, name string, req sdk.InferRequest) (sdk.InferResult, error) {
	var res sdk.InferResult
	err := h.call(ctx, name, sdk.KindModel, &req.Engagement, nil, func(ctx context.Context, r *sdk.Remote, e sdk.Engagement) error {
		req.Engagement = e
		var err error
		res, err = r.Infer(ctx, req)
		return err
	})
	return res, err
}

// Wrap wraps a data key with key plugin name's key-encryption key.
func (h *Host) Wrap(ctx context.Context, name, keyID string, plaintext []byte) (ciphertext []byte, usedKeyID string, err error) {
	err = h.call(ctx, name, sdk.KindKeys, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		var err error
		ciphertext, usedKeyID, err = r.Wrap(ctx, keyID, plaintext)
		return err
	})
	return ciphertext, usedKeyID, err
}

// Unwrap unwraps a data key with key plugin name.
func (h *Host) Unwrap(ctx context.Context, name, keyID string, ciphertext []byte) ([]byte, error) {
	var pt []byte
	err := h.call(ctx, name, sdk.KindKeys, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		var err error
		pt, err = r.Unwrap(ctx, keyID, ciphertext)
		return err
	})
	return pt, err
}

// Deliver hands one event to sink plugin name, its engagement minimised
// to the granted scopes. The caller retries on error (the sink must be
// idempotent on ev.ID).
func (h *Host) Deliver(ctx context.Context, name string, ev sdk.Event) error {
	return h.call(ctx, name, sdk.KindSink, &ev.Engagement, nil, func(ctx context.Context, r *sdk.Remote, e sdk.Engagement) error {
		ev.Engagement = e
		return r.Deliver(ctx, ev)
	})
}
