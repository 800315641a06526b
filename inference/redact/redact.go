package redact

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replacement is how a redacted span is written in the output.
type Replacement string

// Replacement forms.
const (
	// ReplaceLabel writes the type, and for cards the last four digits
	// (which PCI DSS allows to be shown): "[CARD ending 1111]", "[SSN]".
	ReplaceLabel Replacement = "label"
	// ReplaceType writes the type only: "[CARD]".
	ReplaceType Replacement = "type"
	// ReplaceGeneric writes "[REDACTED]" whatever the type.
	ReplaceGeneric Replacement = "generic"
)

// Policy says what a Redactor removes and how.
type Policy struct {
	// Types are the entity types redacted; empty means all of Entities.
	Types []Entity `json:"types,omitempty"`
	// Replacement is the form written in place of a span (default label).
	Replacement Replacement `json:"replacement,omitempty"`
	// KeepWordTimes keeps the time a redacted span took: its words are
	// replaced by one word spanning from the first one's start to the last
	// one's end (what audio redaction and talk-time metrics need). When
	// false the replacement word has no duration: it starts and ends where
	// the span started.
	KeepWordTimes bool `json:"keep_word_times"`
}

// DefaultPolicy redacts every type with labels and keeps word times.
func DefaultPolicy() Policy {
	return Policy{Replacement: ReplaceLabel, KeepWordTimes: true}
}

// Validate checks the policy; errors name the field.
func (p Policy) Validate() error {
	for i, t := range p.Types {
		if _, err := ParseEntity(string(t)); err != nil {
			return fmt.Errorf("redact: types[%d]: unknown entity type %q", i, t)
		}
	}
	switch p.Replacement {
	case "", ReplaceLabel, ReplaceType, ReplaceGeneric:
	default:
		return fmt.Errorf("redact: replacement: must be %q, %q or %q, got %q", ReplaceLabel, ReplaceType, ReplaceGeneric, p.Replacement)
	}
	return nil
}

// Source is where a text came from; it labels metrics.
type Source string

// Sources. Any other value is counted as SourceOther.
const (
	SourceVoice      Source = "voice"      // live audio through the recogniser
	SourceChat       Source = "chat"       // chat messages
	SourceUpload     Source = "upload"     // uploaded recordings
	SourceTranscript Source = "transcript" // JSON transcripts handed in
	SourceBot        Source = "bot"        // the virtual agent's collected slots
	SourceAnalyzer   Source = "analyzer"   // analyzers' outputs (summaries, notes)
	SourceOther      Source = "other"
)

var sources = []Source{SourceVoice, SourceChat, SourceUpload, SourceTranscript, SourceBot, SourceAnalyzer, SourceOther}

func (s Source) label() Source {
	if slices.Contains(sources, s) {
		return s
	}
	return SourceOther
}

// Word is one recognised word with its times (milliseconds) and
// confidence.
type Word struct {
	Text       string  `json:"text"`
	StartMs    int64   `json:"start_ms"`
	EndMs      int64   `json:"end_ms"`
	Confidence float32 `json:"confidence"`
}

// Span is one redacted stretch of the original text. It carries the type
// and where the value was, never the value.
type Span struct {
	Type Entity `json:"type"`
	// Start and End are byte offsets in Result.Original.
	Start int `json:"start"`
	End   int `json:"end"`
	// OutStart and OutEnd are byte offsets of the replacement in
	// Result.Text.
	OutStart int `json:"out_start"`
	OutEnd   int `json:"out_end"`
	// Continues marks the first piece of a value that goes on in the
	// party's next segment (counted once, with its last piece).
	Continues bool `json:"continues,omitempty"`
}

// Result is the outcome of redacting one text.
//
// Original (and OriginalWords) hold the unredacted input so that the
// caller can keep a sealed copy under a key of its own; nothing else may
// keep, log or pass them on. Result's String and LogValue show counts only,
// so a Result handed to a logger or fmt by mistake leaks nothing.
type Result struct {
	Original      string
	OriginalWords []Word
	// Text and Words are the redacted text and words (Words is nil when
	// none were given).
	Text  string
	Words []Word
	Spans []Span
}

// Redacted reports whether anything was redacted.
func (r *Result) Redacted() bool { return len(r.Spans) > 0 }

// Counts returns the number of values of each type (a value split across
// two segments is counted in the segment where it ends).
func (r *Result) Counts() map[Entity]int {
	m := map[Entity]int{}
	for _, s := range r.Spans {
		if !s.Continues {
			m[s.Type]++
		}
	}
	return m
}

// String shows the counts by type only.
func (r Result) String() string {
	c := r.Counts()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("redact.Result{")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(c[Entity(k)]))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String, for %#v.
func (r Result) GoString() string { return r.String() }

// LogValue logs the span count and the counts by type.
func (r Result) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("spans", len(r.Spans))}
	for _, e := range Entities {
		if n := r.Counts()[e]; n > 0 {
			attrs = append(attrs, slog.Int(string(e), n))
		}
	}
	return slog.GroupValue(attrs...)
}

// Redactor applies one policy. It is safe for concurrent use.
type Redactor struct {
	p   Policy
	set typeSet
	m   *Metrics
}

// New returns a redactor for p. m may be nil (no metrics).
func New(p Policy, m *Metrics) (*Redactor, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Replacement == "" {
		p.Replacement = ReplaceLabel
	}
	set := typeSet(0)
	for _, t := range p.Types {
		set |= 1 << entityIndex(t)
	}
	if len(p.Types) == 0 {
		set = allTypes() &^ (1 << entityIndex(Number))
	}
	return &Redactor{p: p, set: set, m: m}, nil
}

// Policy returns the redactor's policy.
func (r *Redactor) Policy() Policy { return r.p }

var docPool = sync.Pool{New: func() any { return new(doc) }}

// Redact redacts one text, written (chat) or recognised (with its words,
// which may be nil). It counts the spans under src.
func (r *Redactor) Redact(src Source, text string, words []Word) Result {
	start := time.Now()
	d := docPool.Get().(*doc)
	defer docPool.Put(d)
	d.reset()
	d.toks = tokenize(text, 0, d.toks)
	d.analyse()
	d.detect(r.set)
	cs := resolve(d.cands, r.set)
	res := r.build(d.toks, cs, 0, text, words)
	r.observe(src, &res, start)
	return res
}

func (r *Redactor) observe(src Source, res *Result, start time.Time) {
	if r.m == nil {
		return
	}
	r.m.observe(src.label(), res.Spans, time.Since(start))
}

// resolve keeps the best of overlapping candidates (by priority, then
// length, then position) and returns them in text order.
func resolve(cs []cand, set typeSet) []cand {
	slices.SortFunc(cs, func(x, y cand) int {
		if x.prio != y.prio {
			return int(y.prio) - int(x.prio)
		}
		if lx, ly := x.b-x.a, y.b-y.a; lx != ly {
			return ly - lx
		}
		return x.a - y.a
	})
	out := cs[:0]
	for _, c := range cs {
		if !set.has(c.typ) {
			continue
		}
		overlaps := false
		for _, o := range out {
			if c.a < o.b && o.a < c.b {
				overlaps = true
				break
			}
		}
		if !overlaps {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y cand) int { return x.a - y.a })
	return out
}

// replacement is the text written for a span.
func (r *Redactor) replacement(c *cand, withLast4 bool) string {
	switch r.p.Replacement {
	case ReplaceGeneric:
		return "[REDACTED]"
	case ReplaceType:
		return "[" + label[c.typ] + "]"
	}
	if c.typ == Card && withLast4 && len(c.last4) == 4 {
		return "[CARD ending " + c.last4 + "]"
	}
	return "[" + label[c.typ] + "]"
}

// piece is the part of a candidate inside one segment, in bytes.
type piece struct {
	c          *cand
	start, end int
	last       bool // the piece holds the candidate's end
}

// pieces returns the parts of cs that fall in segment seg.
func pieces(toks []token, cs []cand, seg int, out []piece) []piece {
	for i := range cs {
		c := &cs[i]
		first, last := -1, -1
		for k := c.a; k < c.b; k++ {
			if toks[k].seg == seg {
				if first < 0 {
					first = k
				}
				last = k
			}
		}
		if first < 0 {
			continue
		}
		p := piece{c: c, start: toks[first].start, end: toks[last].end, last: last == c.b-1 && !c.cont}
		if c.typ == Password {
			p.start -= len(toks[first].pre)
			p.end += len(toks[last].post)
		}
		out = append(out, p)
	}
	return out
}

// build writes the redacted text and words of segment seg of toks.
func (r *Redactor) build(toks []token, cs []cand, seg int, text string, words []Word) Result {
	res := Result{Original: text, OriginalWords: words}
	ps := pieces(toks, cs, seg, nil)
	if len(ps) == 0 {
		res.Text = text
		res.Words = words
		return res
	}
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, p := range ps {
		b.WriteString(text[pos:p.start])
		out := b.Len()
		b.WriteString(r.replacement(p.c, p.last))
		res.Spans = append(res.Spans, Span{Type: p.c.typ, Start: p.start, End: p.end, OutStart: out, OutEnd: b.Len(), Continues: !p.last})
		pos = p.end
	}
	b.WriteString(text[pos:])
	res.Text = b.String()
	if words != nil {
		res.Words = r.redactWords(text, words, res.Spans, res.Text)
	}
	return res
}

// redactWords replaces the words inside spans by one word carrying the
// replacement. Words are found in text in order; when they cannot be
// (the text was written differently from the words), every word is
// replaced by the redacted text's words with the times of the whole
// segment, so no original word survives.
func (r *Redactor) redactWords(text string, words []Word, spans []Span, redacted string) []Word {
	out := make([]Word, 0, len(words))
	pos, si := 0, 0
	for wi := 0; wi < len(words); wi++ {
		w := words[wi]
		at := strings.Index(text[pos:], w.Text)
		if at < 0 || w.Text == "" {
			return fallbackWords(words, redacted)
		}
		ws, we := pos+at, pos+at+len(w.Text)
		pos = we
		for si < len(spans) && spans[si].End <= ws {
			si++
		}
		if si >= len(spans) || spans[si].Start >= we {
			out = append(out, w)
			continue
		}
		// words overlapping span si collapse into one
		s := spans[si]
		rw := Word{Text: redacted[s.OutStart:s.OutEnd], StartMs: w.StartMs, EndMs: w.EndMs, Confidence: w.Confidence}
		for wi+1 < len(words) {
			nx := words[wi+1]
			at := strings.Index(text[pos:], nx.Text)
			if at < 0 || nx.Text == "" {
				return fallbackWords(words, redacted)
			}
			if pos+at >= s.End {
				break
			}
			pos += at + len(nx.Text)
			rw.EndMs = nx.EndMs
			rw.Confidence = min(rw.Confidence, nx.Confidence)
			wi++
		}
		if !r.p.KeepWordTimes {
			rw.EndMs = rw.StartMs
		}
		out = append(out, rw)
		si++
	}
	return out
}

// fallbackWords spreads the redacted text's words over the segment's time.
func fallbackWords(words []Word, redacted string) []Word {
	f := strings.Fields(redacted)
	out := make([]Word, len(f))
	st, en := words[0].StartMs, words[len(words)-1].EndMs
	for i, t := range f {
		out[i] = Word{Text: t, StartMs: st, EndMs: en}
	}
	return out
}
