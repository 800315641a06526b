package daemon

import (
	"fmt"
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

// RedactionPolicy is a redaction policy in the configuration file.
type RedactionPolicy struct {
	// Types are the entity types removed (default: all of them).
	Types []string `yaml:"types"`
	// Replacement is label ("[CARD ending 1111]", the default), type
	// ("[CARD]") or generic ("[REDACTED]").
	Replacement string `yaml:"replacement"`
	// KeepWordTimes keeps the time span of a redacted stretch of speech
	// (default true).
	KeepWordTimes *bool `yaml:"keep_word_times"`
}

func defaultRedactionConfig() RedactionConfig {
	return RedactionConfig{MaxHold: Duration(2 * time.Second)}
}

// policy converts p; field prefixes the error.
func (p RedactionPolicy) policy(field string) (redact.Policy, error) {
	out := redact.DefaultPolicy()
	for i, t := range p.Types {
		e, err := redact.ParseEntity(t)
		if err != nil {
			return out, fmt.Errorf("%s.types[%d]: unknown entity type %q", field, i, t)
		}
		out.Types = append(out.Types, e)
	}
	if p.Replacement != "" {
		out.Replacement = redact.Replacement(p.Replacement)
	}
	if p.KeepWordTimes != nil {
		out.KeepWordTimes = *p.KeepWordTimes
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("%s: %w", field, err)
	}
	return out, nil
}

// validate reports the first invalid field.
func (c RedactionConfig) validate() error {
	if _, err := c.Policy.policy("redaction.policy"); err != nil {
		return err
	}
	for q, p := range c.Queues {
		if _, err := p.policy("redaction.queues." + q); err != nil {
			return err
		}
	}
	if d := time.Duration(c.MaxHold); d <= 0 || d > 30*time.Second {
		return fmt.Errorf("redaction.max_hold must be in (0, 30s], got %s", d)
	}
	return nil
}

// redaction implements hub.Redaction with inference/redact.
type redaction struct {
	controls *Controls
	def      *redact.Redactor
	queues   map[string]*redact.Redactor
	stream   redact.StreamConfig
}

func newRedaction(cfg RedactionConfig, controls *Controls, m *redact.Metrics) (*redaction, error) {
	r := &redaction{controls: controls, queues: map[string]*redact.Redactor{},
		stream: redact.StreamConfig{MaxHold: time.Duration(cfg.MaxHold), TailTokens: redact.DefaultStreamConfig().TailTokens}}
	p, err := cfg.Policy.policy("redaction.policy")
	if err != nil {
		return nil, err
	}
	if r.def, err = redact.New(p, m); err != nil {
		return nil, err
	}
	for q, qp := range cfg.Queues {
		p, err := qp.policy("redaction.queues." + q)
		if err != nil {
			return nil, err
		}
		if r.queues[q], err = redact.New(p, m); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Open implements hub.Redaction: nil when pii_redaction is off for the
// engagement's queue.
func (r *redaction) Open(e *store.Engagement, source string) hub.SegmentRedactor {
	if !r.controls.EnabledForQueue(featurePIIRedaction, e.Queue) {
		return nil
	}
	rd := r.def
	if q, ok := r.queues[e.Queue]; ok {
		rd = q
	}
	src := redact.SourceVoice
	switch {
	case source == "upload":
		src = redact.SourceUpload
	case e.Channel == "chat":
		src = redact.SourceChat
	}
	re, err := rd.NewEngagement(src, r.stream)
	if err != nil {
		panic(err) // the configuration was validated
	}
	return &engagementRedactor{e: re, frames: map[uint64]store.Segment{}}
}

// engagementRedactor adapts a redact.Engagement to the hub's segments.
type engagementRedactor struct {
	e *redact.Engagement
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
		if !rel.Revised {
			for id, f := range er.frames {
				if id < rel.ID && f.Speaker == rel.Party {
					delete(er.frames, id)
				}
			}
		}
		out = append(out, hub.Redacted{ID: rel.ID, Seg: seg, Revised: rel.Revised})
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

func (er *engagementRedactor) Counts() map[string]int {
	out := map[string]int{}
	for k, v := range er.e.Counts() {
		out[string(k)] = v
	}
	return out
}
