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
	return &engagementRedactor{r: rd, src: src, cfg: r.stream, streams: map[string]*redact.Stream{}, counts: map[string]int{}}
}

// engagementRedactor keeps one redact.Stream per party.
type engagementRedactor struct {
	r       *redact.Redactor
	src     redact.Source
	cfg     redact.StreamConfig
	streams map[string]*redact.Stream
	order   []string // parties in order of appearance
	counts  map[string]int
	// frames keep the fields of each party's segments other than text
	// and words (speaker, times) while they are held, and the last one
	// released, for a revision.
	frames map[string]map[uint64]store.Segment
}

var _ hub.SegmentRedactor = (*engagementRedactor)(nil)

func (er *engagementRedactor) stream(party string) *redact.Stream {
	if s, ok := er.streams[party]; ok {
		return s
	}
	s, err := er.r.NewStream(er.src, er.cfg)
	if err != nil {
		panic(err) // the configuration was validated
	}
	er.streams[party] = s
	er.order = append(er.order, party)
	return s
}

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

// convert turns a party's releases into the hub's segments.
func (er *engagementRedactor) convert(party string, frames map[uint64]store.Segment, rs []redact.Release) []hub.Redacted {
	out := make([]hub.Redacted, 0, len(rs))
	for _, rel := range rs {
		seg := frames[rel.ID]
		seg.Text, seg.Words = rel.Result.Text, toStoreWords(rel.Result.Words)
		if !rel.Revised {
			for _, s := range rel.Result.Spans {
				er.counts[string(s.Type)]++
			}
			for id := range frames {
				if id < rel.ID {
					delete(frames, id)
				}
			}
		}
		out = append(out, hub.Redacted{ID: rel.ID, Seg: seg, Revised: rel.Revised})
	}
	return out
}

func (er *engagementRedactor) Final(id uint64, seg store.Segment, hold bool, now time.Time) []hub.Redacted {
	st := er.stream(seg.Speaker)
	er.frame(seg.Speaker)[id] = seg
	rs := st.Final(redact.Segment{ID: id, Text: seg.Text, Words: toRedactWords(seg.Words), Complete: !hold}, now)
	return er.convert(seg.Speaker, er.frame(seg.Speaker), rs)
}

// frame returns the party's segment frames by key.
func (er *engagementRedactor) frame(party string) map[uint64]store.Segment {
	if er.frames == nil {
		er.frames = map[string]map[uint64]store.Segment{}
	}
	m, ok := er.frames[party]
	if !ok {
		m = map[uint64]store.Segment{}
		er.frames[party] = m
	}
	return m
}

func (er *engagementRedactor) Partial(seg store.Segment) store.Segment {
	res := er.stream(seg.Speaker).Partial(seg.Text, toRedactWords(seg.Words))
	seg.Text, seg.Words = res.Text, toStoreWords(res.Words)
	return seg
}

func (er *engagementRedactor) Deadline() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, p := range er.order {
		if d, held := er.streams[p].Deadline(); held && (!ok || d.Before(at)) {
			at, ok = d, true
		}
	}
	return at, ok
}

func (er *engagementRedactor) Expire(now time.Time) []hub.Redacted {
	var out []hub.Redacted
	for _, p := range er.order {
		out = append(out, er.convert(p, er.frame(p), er.streams[p].Expire(now))...)
	}
	return out
}

func (er *engagementRedactor) Flush() []hub.Redacted {
	var out []hub.Redacted
	for _, p := range er.order {
		out = append(out, er.convert(p, er.frame(p), er.streams[p].Flush())...)
	}
	return out
}

func (er *engagementRedactor) Output(s string) string {
	return er.r.Redact(redact.SourceAnalyzer, s, nil).Text
}

func (er *engagementRedactor) Counts() map[string]int {
	out := make(map[string]int, len(er.counts))
	for k, v := range er.counts {
		out[k] = v
	}
	return out
}
