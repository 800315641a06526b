package translate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the Translator.
type Config struct {
	// MaxChars bounds the characters of one message; a longer one is
	// delivered untranslated (notice "too_long"). Default 16000, so that a
	// 10 kB message is translated.
	MaxChars int `json:"max_chars"`
	// Pivots are the languages tried, in order, to reach a direction no
	// engine has directly. Default es, en, ca.
	Pivots []Lang `json:"pivots"`
	// Identifier tunes language identification.
	Identifier IdentifierConfig `json:"identifier"`
	// Glossary lists the site's terms, applied to every engine.
	Glossary []Term `json:"glossary"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxChars: 16000, Pivots: []Lang{Spanish, English, Catalan}, Identifier: DefaultIdentifierConfig()}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.MaxChars < 100 || c.MaxChars > 1<<20 {
		return fmt.Errorf("max_chars must be within 100..%d, got %d", 1<<20, c.MaxChars)
	}
	for i, l := range c.Pivots {
		if !l.Known() {
			return fmt.Errorf("pivots[%d]: unknown language %q", i, l)
		}
	}
	if c.Identifier.Threshold < 0 || c.Identifier.Threshold > 1 {
		return fmt.Errorf("identifier.threshold must be within 0..1, got %g", c.Identifier.Threshold)
	}
	if _, err := NewGlossary(c.Glossary); err != nil {
		return err
	}
	return nil
}

// Request is one message to translate.
type Request struct {
	Text string
	// From is the message's language; empty means identify it.
	From Lang
	// To is the language to translate into.
	To Lang
	// LocalOnly restricts the message to engines that run on the site's
	// own machines (the site's local-models-only setting).
	LocalOnly bool
}

// Notices tell why a message, or part of one, stayed untranslated.
const (
	NoticeEmpty        = "empty"                // nothing but blanks and control characters
	NoticeTooLong      = "too_long"             // longer than Config.MaxChars
	NoticeUndetermined = "undetermined"         // language not identified with confidence
	NoticeSameLanguage = "same_language"        // already in the target language
	NoticeUnsupported  = "unsupported_language" // no engine translates the language into the target
	NoticeEngineFailed = "engine_failed"        // every engine failed, the pipeline after a restart and retry
)

// Result is a message and its translation. Text is what the reader sees:
// the translation, or the original when Translated is false, with Notice
// telling why.
type Result struct {
	Original   string `json:"original"`
	Text       string `json:"text"`
	From       Lang   `json:"from,omitempty"`
	To         Lang   `json:"to"`
	Translated bool   `json:"translated"`
	// Engine names the engine that translated it.
	Engine string `json:"engine,omitempty"`
	// Pivot is the language the translation went through when no engine
	// had the direction; a pivoted translation is rougher.
	Pivot Lang `json:"pivot,omitempty"`
	// Fallback is true when the first engine failed and another
	// translated.
	Fallback bool `json:"fallback,omitempty"`
	// Mixed is true when the message has sentences in more than one
	// language; each was translated from its own.
	Mixed bool `json:"mixed,omitempty"`
	// Partial is true when some sentences stayed untranslated.
	Partial bool   `json:"partial,omitempty"`
	Notice  string `json:"notice,omitempty"`
	// Detection is the identification of the whole message, when From was
	// not given.
	Detection *Detection `json:"detection,omitempty"`
	Duration  Duration   `json:"duration"`
}

// Translator identifies the language of messages and translates them with
// the first engine, in order of preference, that can and may: engines that
// do not run on the site's machines are skipped for LocalOnly requests, a
// direction without a direct pair goes through a pivot language, and an
// engine that fails hands the message to the next (normally Apertium). It
// is safe for concurrent use.
type Translator struct {
	cfg      Config
	id       *Identifier
	glossary *Glossary
	engines  []Engine
	log      *slog.Logger
	m        *metrics
}

// New returns a Translator over engines, most preferred first. A nil logger
// discards logs; a nil reg registers no metrics. The engines stay the
// caller's to close.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, engines ...Engine) (*Translator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("translate: config: %w", err)
	}
	if len(engines) == 0 {
		return nil, errors.New("translate: no engine")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id, err := NewIdentifier(cfg.Identifier)
	if err != nil {
		return nil, err
	}
	g, _ := NewGlossary(cfg.Glossary)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Translator{cfg: cfg, id: id, glossary: g, engines: engines, log: logger.With("component", "inference.translate"), m: m}, nil
}

// Identifier returns the translator's language identifier.
func (t *Translator) Identifier() *Identifier { return t.id }

// Supported reports whether some engine can translate from into to,
// directly or through a pivot, under the LocalOnly restriction.
func (t *Translator) Supported(from, to Lang, localOnly bool) bool {
	for _, e := range t.engines {
		if localOnly && !e.Local() {
			continue
		}
		if _, ok := t.route(e, from, to); ok {
			return true
		}
	}
	return false
}

// Clean returns text as engines receive it: invalid UTF-8 replaced, control
// characters other than line breaks and tabs removed, line endings
// normalised, surrounding blanks trimmed. The reasons for any change are
// returned for counting.
func Clean(text string) (string, []string) {
	var reasons []string
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
		reasons = append(reasons, "invalid_utf8")
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if strings.IndexFunc(text, func(r rune) bool { return !printable(r) }) >= 0 {
		text = strings.Map(func(r rune) rune {
			switch {
			case r == '\r' || r == '\u2028' || r == '\u2029':
				return '\n'
			case !printable(r):
				return -1
			}
			return r
		}, text)
		reasons = append(reasons, "control_characters")
	}
	return strings.TrimSpace(text), reasons
}

// Translate translates one message. It returns an error only for a bad
// request (unknown target language) or a cancelled ctx; every other
// failure is a Result with Translated false and a Notice, so that the
// message is always delivered.
func (t *Translator) Translate(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	res := Result{Original: req.Text, Text: req.Text, To: req.To}
	if !req.To.Known() {
		return res, fmt.Errorf("translate: to: unknown language %q", req.To)
	}
	if req.From != "" && !req.From.Known() {
		return res, fmt.Errorf("translate: from: unknown language %q", req.From)
	}
	defer func() { res.Duration = Duration(time.Since(start)) }()
	text, reasons := Clean(req.Text)
	for _, r := range reasons {
		t.m.badInput.WithLabelValues(r).Inc()
	}
	untranslated := func(notice string) (Result, error) {
		res.Notice = notice
		t.m.untranslated.WithLabelValues(notice).Inc()
		return res, nil
	}
	if text == "" {
		return untranslated(NoticeEmpty)
	}
	if utf8.RuneCountInString(text) > t.cfg.MaxChars {
		t.m.badInput.WithLabelValues("too_long").Inc()
		return untranslated(NoticeTooLong)
	}
	res.From = req.From
	segs := []Segment{{Text: text, Lang: res.From}}
	if res.From == "" {
		d := t.id.Detect(text)
		res.Detection = &d
		whole := Lang("")
		if d.Reliable {
			whole = d.Lang
		}
		// A mixed message may be unclear as a whole and clear sentence by
		// sentence.
		segs = fillSegments(t.id.Segments(text, whole))
		if segs[0].Lang == "" {
			t.m.detections.WithLabelValues("unknown").Inc()
			return untranslated(NoticeUndetermined)
		}
		res.From = whole
		if whole == "" {
			res.From = longest(segs)
		}
		t.m.detections.WithLabelValues(string(res.From)).Inc()
	}
	langs := map[Lang]bool{}
	for _, s := range segs {
		langs[s.Lang] = true
	}
	res.Mixed = len(langs) > 1
	var out strings.Builder
	var notices []string
	translated, failed := 0, 0
	for _, s := range segs {
		core := strings.TrimSpace(s.Text)
		lead := s.Text[:strings.Index(s.Text, core)]
		trail := s.Text[len(lead)+len(core):]
		out.WriteString(lead)
		if s.Lang == req.To || core == "" || !hasLetter(core) {
			out.WriteString(core)
			out.WriteString(trail)
			continue
		}
		tr, err := t.segment(ctx, core, s.Lang, req.To, req.LocalOnly, &res)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			failed++
			notices = append(notices, noticeOf(err))
			out.WriteString(core)
		} else {
			translated++
			out.WriteString(tr)
		}
		out.WriteString(trail)
	}
	switch {
	case translated == 0 && failed == 0:
		return untranslated(NoticeSameLanguage)
	case translated == 0:
		res.Engine, res.Pivot, res.Fallback = "", "", false
		return untranslated(notices[0])
	}
	res.Text, res.Translated = out.String(), true
	if failed > 0 {
		res.Partial, res.Notice = true, notices[0]
		t.m.untranslated.WithLabelValues(notices[0]).Inc()
	}
	return res, nil
}

// fillSegments gives segments without a language that of their neighbour
// (the previous one, or the next at the start) and merges neighbours of one
// language. When no segment has a language, it returns one segment without.
func fillSegments(segs []Segment) []Segment {
	var known Lang
	for _, s := range segs {
		if s.Lang != "" {
			known = s.Lang
			break
		}
	}
	var out []Segment
	for _, s := range segs {
		if s.Lang == "" {
			s.Lang = known
		}
		known = s.Lang
		if n := len(out); n > 0 && out[n-1].Lang == s.Lang {
			out[n-1].Text += s.Text
			continue
		}
		out = append(out, s)
	}
	return out
}

// longest returns the language with the most letters among segs.
func longest(segs []Segment) Lang {
	n := map[Lang]int{}
	var best Lang
	for _, s := range segs {
		n[s.Lang] += len(s.Text)
		if best == "" || n[s.Lang] > n[best] {
			best = s.Lang
		}
	}
	return best
}

func hasLetter(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

var errNoRoute = errors.New("translate: no engine translates this direction")

func noticeOf(err error) string {
	if errors.Is(err, errNoRoute) {
		return NoticeUnsupported
	}
	return NoticeEngineFailed
}

// segment translates one run of text in one language with the first engine
// that can, falling back along the list.
func (t *Translator) segment(ctx context.Context, text string, from, to Lang, localOnly bool, res *Result) (string, error) {
	prot := t.glossary.protect(text)
	var lastErr error = errNoRoute
	tried := 0
	for _, e := range t.engines {
		if localOnly && !e.Local() {
			continue
		}
		route, ok := t.route(e, from, to)
		if !ok {
			continue
		}
		tried++
		pair := Pair{from, to}
		begin := time.Now()
		out, err := t.run(ctx, e, route, prot.text)
		// Engines may add blanks at the edges (Apertium's "I have" comes
		// out as " Tengo"); the segment's own blanks are put back around it.
		out = strings.TrimSpace(out)
		if err == nil {
			var ok bool
			if out, ok = prot.restore(out, to); !ok {
				err = fmt.Errorf("translate: %s lost a glossary placeholder", e.Name())
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			lastErr = err
			reason := "error"
			if errors.Is(err, ErrEngineFailed) {
				reason = "engine_failed"
			} else if errors.Is(err, ErrImplausible) {
				reason = "implausible"
			}
			t.m.fallbacks.WithLabelValues(e.Name(), reason).Inc()
			t.m.translations.WithLabelValues(e.Name(), pair.String(), "untranslated").Inc()
			t.log.Warn("engine failed; trying the next", "engine", e.Name(), "pair", pair.String(), "err", err)
			continue
		}
		t.m.latency.WithLabelValues(e.Name(), pair.String()).Observe(time.Since(begin).Seconds())
		t.m.translations.WithLabelValues(e.Name(), pair.String(), "translated").Inc()
		if res.Engine == "" {
			res.Engine = e.Name()
		}
		if len(route) > 2 {
			res.Pivot = route[1]
			t.m.pivots.WithLabelValues(pair.String()).Inc()
		}
		res.Fallback = res.Fallback || tried > 1
		return out, nil
	}
	return "", lastErr
}

// route returns the languages a translation by e passes through: [from, to]
// for a direct pair, [from, pivot, to] through the first configured pivot
// that e has both ways.
func (t *Translator) route(e Engine, from, to Lang) ([]Lang, bool) {
	pairs := e.Pairs()
	if slices.Contains(pairs, Pair{from, to}) {
		return []Lang{from, to}, true
	}
	for _, p := range t.cfg.Pivots {
		if p != from && p != to && slices.Contains(pairs, Pair{from, p}) && slices.Contains(pairs, Pair{p, to}) {
			return []Lang{from, p, to}, true
		}
	}
	return nil, false
}

func (t *Translator) run(ctx context.Context, e Engine, route []Lang, text string) (string, error) {
	for i := 0; i+1 < len(route); i++ {
		var err error
		if text, err = e.Translate(ctx, Pair{route[i], route[i+1]}, text); err != nil {
			return "", err
		}
	}
	return text, nil
}
