package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/redact"
	"github.com/earshot/earshot/store"
)

// featurePIIRedaction switches redaction per account and queue; the
// configuration's redaction section says what it removes.
const featurePIIRedaction Feature = "pii_redaction"

// RedactionConfig says what pii_redaction removes where the feature is
// on: one policy for the account and, optionally, one per queue.
type RedactionConfig struct {
	Policy RedactionPolicy            `yaml:"policy"`
	Queues map[string]RedactionPolicy `yaml:"queues"`
	// MaxHold is how long a final segment ending in what could be the
	// start of a number waits for the party's next segment. Default 2s.
	MaxHold Duration `yaml:"max_hold"`
}

// RedactionPolicy is a redaction policy, in the configuration file and
// through the API (a queue's policy set there overrides the file's).
type RedactionPolicy struct {
	// Types are the entity types removed (default: all of them).
	Types []string `yaml:"types" json:"types,omitempty"`
	// Replacement is label ("[CARD ending 1111]", the default), type
	// ("[CARD]") or generic ("[REDACTED]").
	Replacement string `yaml:"replacement" json:"replacement,omitempty"`
	// KeepWordTimes keeps the time span of a redacted stretch of speech
	// (default true).
	KeepWordTimes *bool `yaml:"keep_word_times" json:"keep_word_times,omitempty"`
	// UnredactedCopy keeps a sealed copy of every segment as it was
	// before redaction changed it, under a key of the engagement's own,
	// readable by the compliance role only (default false).
	UnredactedCopy bool `yaml:"unredacted_copy" json:"unredacted_copy"`
	// UnredactedRetentionDays is how long after the engagement ends the
	// copy is kept (default 7; at most store.retention.transcript_days
	// when that is set).
	UnredactedRetentionDays int `yaml:"unredacted_retention_days" json:"unredacted_retention_days,omitempty"`
}

// policyError is an invalid policy field; Field is the field's full
// name (prefixed with where the policy is, in the configuration file).
type policyError struct {
	Field, Msg string
}

func (e *policyError) Error() string { return e.Field + ": " + e.Msg }

// joinField names sub within prefix ("" for a policy given on its own).
func joinField(prefix, sub string) string {
	if prefix == "" {
		return sub
	}
	return prefix + "." + sub
}

// defaultUnredactedDays is the unredacted copy's retention when a policy
// names none: shorter than the transcripts' (30 days by default).
const defaultUnredactedDays = 7

// maxUnredactedDays bounds the unredacted copy's retention.
const maxUnredactedDays = 3650

// keepDays is how long the policy keeps the unredacted copy (0: no copy).
func (p RedactionPolicy) keepDays() int {
	switch {
	case !p.UnredactedCopy:
		return 0
	case p.UnredactedRetentionDays == 0:
		return defaultUnredactedDays
	}
	return p.UnredactedRetentionDays
}

// checkCopy validates the unredacted copy's fields against the
// transcripts' retention (0: kept until purged).
func (p RedactionPolicy) checkCopy(prefix string, transcriptDays int) error {
	d, field := p.UnredactedRetentionDays, joinField(prefix, "unredacted_retention_days")
	switch {
	case d < 0 || d > maxUnredactedDays:
		return &policyError{field, fmt.Sprintf("must be within 1..%d, got %d", maxUnredactedDays, d)}
	case d != 0 && !p.UnredactedCopy:
		return &policyError{field, "is set but unredacted_copy is off"}
	case transcriptDays > 0 && p.keepDays() > transcriptDays:
		return &policyError{field, fmt.Sprintf("(%d) must not exceed store.retention.transcript_days (%d)", p.keepDays(), transcriptDays)}
	}
	return nil
}

func defaultRedactionConfig() RedactionConfig {
	return RedactionConfig{MaxHold: Duration(2 * time.Second)}
}

// policy converts p; prefix names where p is (a *policyError names the
// invalid field).
func (p RedactionPolicy) policy(prefix string) (redact.Policy, error) {
	out := redact.DefaultPolicy()
	for i, t := range p.Types {
		e, err := redact.ParseEntity(t)
		if err != nil {
			return out, &policyError{joinField(prefix, fmt.Sprintf("types[%d]", i)), fmt.Sprintf("unknown entity type %q", t)}
		}
		out.Types = append(out.Types, e)
	}
	switch r := redact.Replacement(p.Replacement); r {
	case "":
	case redact.ReplaceLabel, redact.ReplaceType, redact.ReplaceGeneric:
		out.Replacement = r
	default:
		return out, &policyError{joinField(prefix, "replacement"),
			fmt.Sprintf("must be %q, %q or %q, got %q", redact.ReplaceLabel, redact.ReplaceType, redact.ReplaceGeneric, r)}
	}
	if p.KeepWordTimes != nil {
		out.KeepWordTimes = *p.KeepWordTimes
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("%s: %w", prefix, err)
	}
	return out, nil
}

// validate reports the first invalid field; transcriptDays is the
// transcripts' retention.
func (c RedactionConfig) validate(transcriptDays int) error {
	if _, err := c.Policy.policy("redaction.policy"); err != nil {
		return err
	}
	if err := c.Policy.checkCopy("redaction.policy", transcriptDays); err != nil {
		return err
	}
	for q, p := range c.Queues {
		if _, err := p.policy("redaction.queues." + q); err != nil {
			return err
		}
		if err := p.checkCopy("redaction.queues."+q, transcriptDays); err != nil {
			return err
		}
	}
	if d := time.Duration(c.MaxHold); d <= 0 || d > 30*time.Second {
		return fmt.Errorf("redaction.max_hold must be in (0, 30s], got %s", d)
	}
	return nil
}

// settingRedactionQueues holds the queues' policies set through the API
// (queue -> RedactionPolicy); they override the configuration file's.
// settingRedactionAccount holds the account's (a RedactionPolicy).
const (
	settingRedactionQueues  = "redaction.queues"
	settingRedactionAccount = "redaction.account"
)

// redaction implements hub.Redaction with inference/redact.
type redaction struct {
	controls *Controls
	metrics  *redact.Metrics
	def      *policyRedactors
	// configured are the configuration file's queue policies.
	configured map[string]*policyRedactors
	// transcriptDays bounds the unredacted copy's retention.
	transcriptDays int
	stream         redact.StreamConfig
	logger         *slog.Logger

	// setMu serialises changes of the API's queue policies (the stored
	// setting and set, in that order).
	setMu sync.Mutex
	mu    sync.RWMutex
	set   map[string]*policyRedactors // guarded by mu
	// account is the account's policy set through the API (nil: the
	// configuration file's, def).
	account *policyRedactors // guarded by mu
}

// policyRedactors are the redactors of one policy: counted redacts what
// is stored (its values count in the metrics); quiet redacts copies of
// content already counted (a chat message before translation, the
// translations, the comparison of the two).
type policyRedactors struct {
	counted, quiet *redact.Redactor
	// keepDays is the unredacted copy's retention (0: no copy).
	keepDays int
	// source is the policy as given.
	source RedactionPolicy
}

func newPolicyRedactors(rp RedactionPolicy, field string, m *redact.Metrics) (*policyRedactors, error) {
	p, err := rp.policy(field)
	if err != nil {
		return nil, err
	}
	counted, err := redact.New(p, m)
	if err != nil {
		return nil, err
	}
	quiet, err := redact.New(p, nil)
	if err != nil {
		return nil, err
	}
	return &policyRedactors{counted: counted, quiet: quiet, keepDays: rp.keepDays(), source: rp}, nil
}

// settingsReader reads a stored setting (the store).
type settingsReader interface {
	Setting(key string, v any) error
}

// newRedaction builds the configuration's policies and the queues'
// policies stored through the API. A stored policy no longer valid (the
// transcripts' retention was shortened below its copy's, say) is
// replaced by the strictest policy, every type redacted and no copy kept,
// and logged.
func newRedaction(cfg RedactionConfig, transcriptDays int, controls *Controls, m *redact.Metrics, st settingsReader, logger *slog.Logger) (*redaction, error) {
	r := &redaction{controls: controls, metrics: m, configured: map[string]*policyRedactors{}, set: map[string]*policyRedactors{},
		transcriptDays: transcriptDays, logger: logger,
		stream: redact.StreamConfig{MaxHold: time.Duration(cfg.MaxHold), TailTokens: redact.DefaultStreamConfig().TailTokens}}
	var err error
	if r.def, err = newPolicyRedactors(cfg.Policy, "redaction.policy", m); err != nil {
		return nil, err
	}
	for q, qp := range cfg.Queues {
		if r.configured[q], err = newPolicyRedactors(qp, "redaction.queues."+q, m); err != nil {
			return nil, err
		}
	}
	var account *RedactionPolicy // null once cleared
	switch err := st.Setting(settingRedactionAccount, &account); {
	case err == nil && account != nil:
		if r.account, err = r.build(*account); err != nil {
			logger.Error("stored account redaction policy invalid; redacting every type without a copy", "err", err)
			r.account, _ = r.build(RedactionPolicy{})
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("daemon: redaction: %w", err)
	}
	var stored map[string]RedactionPolicy
	if err := st.Setting(settingRedactionQueues, &stored); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("daemon: redaction: %w", err)
	}
	for q, qp := range stored {
		pr, err := r.build(qp)
		if err != nil {
			logger.Error("stored redaction policy invalid; redacting every type without a copy", "queue", q, "err", err)
			pr, _ = r.build(RedactionPolicy{})
		}
		r.set[q] = pr
	}
	return r, nil
}

// build validates a queue's policy given through the API and makes its
// redactors; a *policyError names the invalid field.
func (r *redaction) build(p RedactionPolicy) (*policyRedactors, error) {
	if err := p.checkCopy("", r.transcriptDays); err != nil {
		return nil, err
	}
	return newPolicyRedactors(p, "", r.metrics)
}

// queuePolicy is a queue's effective policy and where it comes from:
// "api" (the queue's, set through the API), "configuration" (the file's
// queue policy) or "account" (the account's, see accountPolicy).
func (r *redaction) queuePolicy(queue string) (*policyRedactors, string) {
	r.mu.RLock()
	p, ok := r.set[queue]
	r.mu.RUnlock()
	if ok {
		return p, "api"
	}
	if p, ok := r.configured[queue]; ok {
		return p, "configuration"
	}
	p, _ = r.accountPolicy()
	return p, "account"
}

// accountPolicy is the account's policy: "api" when set through the API,
// else the configuration file's ("configuration").
func (r *redaction) accountPolicy() (*policyRedactors, string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.account != nil {
		return r.account, "api"
	}
	return r.def, "configuration"
}

// setAccount installs (p non-nil) or removes the account's API policy.
func (r *redaction) setAccount(p *policyRedactors) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.account = p
}

// setQueue installs (p non-nil) or removes a queue's API policy; new
// engagements of the queue use it.
func (r *redaction) setQueue(queue string, p *policyRedactors) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p == nil {
		delete(r.set, queue)
		return
	}
	r.set[queue] = p
}

// policy returns the redactors of the engagement's queue, or nil when
// pii_redaction is off for it.
func (r *redaction) policy(e *store.Engagement) *policyRedactors {
	if !r.controls.EnabledForQueue(featurePIIRedaction, e.Queue) {
		return nil
	}
	p, _ := r.queuePolicy(e.Queue)
	return p
}

// message redacts a whole chat message before it is handed to anything
// outside the hub (a translation engine): ok is false when redaction is
// off for the engagement. The values are counted when the hub stores the
// message, not here.
func (r *redaction) message(e *store.Engagement, text string) (redacted string, ok bool) {
	p := r.policy(e)
	if p == nil {
		return text, false
	}
	return p.quiet.Redact(redact.SourceChat, text, nil).Text, true
}

// Open implements hub.Redaction: nil when pii_redaction is off for the
// engagement's queue.
func (r *redaction) Open(e *store.Engagement, source string) hub.SegmentRedactor {
	p := r.policy(e)
	if p == nil {
		return nil
	}
	src := redact.SourceVoice
	switch {
	case source == "upload":
		src = redact.SourceUpload
	case e.Channel == "chat":
		src = redact.SourceChat
	}
	re, err := p.counted.NewEngagement(src, r.stream)
	if err != nil {
		panic(err) // the configuration was validated
	}
	return &engagementRedactor{e: re, quiet: p.quiet, keepDays: p.keepDays, engagement: e.ID, logger: r.logger, frames: map[uint64]store.Segment{}}
}

// engagementRedactor adapts a redact.Engagement to the hub's segments.
type engagementRedactor struct {
	e *redact.Engagement
	// quiet redacts the translations of chat messages.
	quiet      *redact.Redactor
	keepDays   int // the unredacted copy's retention (0: none)
	engagement string
	logger     *slog.Logger
	// frames keep the fields of segments other than text and words
	// (speaker, times) while they are held, and the last one released of
	// each party, for a revision.
	frames map[uint64]store.Segment
}

var _ hub.SegmentRedactor = (*engagementRedactor)(nil)

// convertWords converts between store.Word and redact.Word (the same
// fields).
func convertWords[A, B any](ws []A, conv func(A) B) []B {
	if ws == nil {
		return nil
	}
	out := make([]B, len(ws))
	for i, w := range ws {
		out[i] = conv(w)
	}
	return out
}

func toRedactWords(ws []store.Word) []redact.Word {
	return convertWords(ws, func(w store.Word) redact.Word { return redact.Word(w) })
}

func toStoreWords(ws []redact.Word) []store.Word {
	return convertWords(ws, func(w redact.Word) store.Word { return store.Word(w) })
}

// convert turns releases into the hub's segments.
func (er *engagementRedactor) convert(rs []redact.Release) []hub.Redacted {
	out := make([]hub.Redacted, 0, len(rs))
	for _, rel := range rs {
		seg := er.frames[rel.ID]
		seg.Text, seg.Words = rel.Result.Text, toStoreWords(rel.Result.Words)
		seg.Translations = er.translations(seg.Translations, rel)
		r := hub.Redacted{ID: rel.ID, Seg: seg, Revised: rel.Revised}
		if er.keepDays > 0 && rel.Result.Redacted() {
			// The original as it arrived; its translations were made from
			// redacted text and stay with the redacted segment.
			o := er.frames[rel.ID]
			o.Translations = nil
			r.Original = &o
		}
		out = append(out, r)
	}
	// Keep the frame of each party's last release only (a revision
	// replaces it), once every release has been converted.
	for _, rel := range rs {
		if rel.Revised {
			continue
		}
		for id, f := range er.frames {
			if id < rel.ID && f.Speaker == rel.Party {
				delete(er.frames, id)
			}
		}
	}
	return out
}

// NoticeRedacted marks a translation withdrawn because the message it was
// made from showed a value that the stored message has redacted: its Text
// is the redacted original.
const NoticeRedacted = "redacted"

// translations redacts the translations of a chat message. They were
// made from the message redacted on its own (see redaction.message);
// when the stored message is redacted further (a value that began in the
// party's previous message, or a revision), they are withdrawn, since
// they were made from text showing part of that value. Otherwise each is
// redacted again: a translation engine may write a value out differently
// from the text it was given.
func (er *engagementRedactor) translations(ts []store.Translation, rel redact.Release) []store.Translation {
	if len(ts) == 0 {
		return ts
	}
	out := make([]store.Translation, len(ts))
	withdraw := rel.Revised || er.quiet.Redact(redact.SourceChat, rel.Result.Original, nil).Text != rel.Result.Text
	found := 0
	for i, t := range ts {
		if withdraw {
			t.Text, t.Notice, t.Engine, t.Pivot = rel.Result.Text, NoticeRedacted, "", ""
		} else {
			res := er.quiet.Redact(redact.SourceChat, t.Text, nil)
			t.Text = res.Text
			found += len(res.Spans)
		}
		out[i] = t
	}
	if withdraw || found > 0 {
		er.logger.Warn("chat translations redacted after translation", "engagement", er.engagement,
			"withdrawn", withdraw, "spans", found)
	}
	return out
}

func (er *engagementRedactor) Final(id uint64, seg store.Segment, hold bool, now time.Time) []hub.Redacted {
	er.frames[id] = seg
	return er.convert(er.e.Final(seg.Speaker, redact.Segment{ID: id, Text: seg.Text, Words: toRedactWords(seg.Words), Complete: !hold}, now))
}

func (er *engagementRedactor) Partial(seg store.Segment) store.Segment {
	res := er.e.Partial(seg.Speaker, seg.Text, toRedactWords(seg.Words))
	seg.Text, seg.Words = res.Text, toStoreWords(res.Words)
	return seg
}

func (er *engagementRedactor) Deadline() (time.Time, bool) { return er.e.Deadline() }
func (er *engagementRedactor) Expire(now time.Time) []hub.Redacted {
	return er.convert(er.e.Expire(now))
}
func (er *engagementRedactor) Flush() []hub.Redacted  { return er.convert(er.e.Flush()) }
func (er *engagementRedactor) Output(s string) string { return er.e.Output(s) }
func (er *engagementRedactor) OriginalDays() int      { return er.keepDays }

func (er *engagementRedactor) Counts() map[string]int {
	out := map[string]int{}
	for k, v := range er.e.Counts() {
		out[string(k)] = v
	}
	return out
}
