package redact

import (
	"fmt"
	"slices"
	"time"
)

// StreamConfig tunes a Stream.
type StreamConfig struct {
	// MaxHold is how long a final segment whose end could be the start of
	// a number is held back waiting for the party's next segment (default
	// 2 s). The hub releases it on Expire after that.
	MaxHold time.Duration `json:"max_hold"`
	// TailTokens is how many tokens at the end of the previous segment
	// are read together with the next one (default 24: the longest card
	// read in two-digit groups with its context phrase).
	TailTokens int `json:"tail_tokens"`
}

// DefaultStreamConfig returns the defaults.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{MaxHold: 2 * time.Second, TailTokens: 24}
}

// Validate checks the configuration.
func (c StreamConfig) Validate() error {
	switch {
	case c.MaxHold <= 0 || c.MaxHold > 30*time.Second:
		return fmt.Errorf("redact: max_hold must be in (0, 30s], got %s", c.MaxHold)
	case c.TailTokens < 8 || c.TailTokens > 256:
		return fmt.Errorf("redact: tail_tokens must be in [8, 256], got %d", c.TailTokens)
	}
	return nil
}

// Segment is one recognised utterance (or message) of a party. ID is the
// caller's key, handed back in Release.
type Segment struct {
	ID    uint64
	Text  string
	Words []Word
	// Complete marks a segment that is never held back (a chat message
	// whose sender waits for it to be stored); a number it starts can
	// still be completed by the next one, which then revises it.
	Complete bool
}

// Release is a final segment ready to be stored and published.
type Release struct {
	ID uint64
	// Party is set by Engagement.
	Party  string
	Result Result
	// Revised is set when the segment was released before and its
	// redaction has grown because the party's next segment completed a
	// number that began in it (only after a hold expired): the caller
	// replaces what it stored and published under ID.
	Revised bool
}

// Stream redacts the segments of one party of a live engagement, in order.
// It is used by one goroutine (the engagement's).
//
// A number is often split across two recognised segments ("my card is
// four one one one one one one one" / "one one one one one one one one").
// The stream therefore reads each final segment together with the tail of
// the previous one, and holds back a final segment that ends in digits
// (or in a spelled value, an unfinished e-mail address, or a card number
// being read out whose last words the recogniser misheard) until the next
// final segment of the party arrives or MaxHold passes:
//
//	for each final segment seg of the party:
//	    for _, rel := range st.Final(seg, now) { store and publish rel }
//	on a timer (the hub's tick), and at the party's end:
//	    st.Expire(now) / st.Flush()
//	for each partial hypothesis p:
//	    publish st.Partial(p)   // never stored
//
// When a held segment is released by Expire and the next segment then
// completes the number, Final returns the earlier segment again with
// Revised set. Partial hypotheses are redacted conservatively: besides
// every detector, any run of three or more digits is masked as Number, as
// is a shorter run at the end in a sensitive context.
type Stream struct {
	r   *Redactor
	src Source
	cfg StreamConfig

	last     *pending // the party's previous final segment
	held     bool     // last is not released yet
	deadline time.Time

	// asksCard is set by Final when the segment ended asking for a card
	// number ("can I take the long number on the card?"); cardHint is how
	// many more final segments of this party are read as answering such
	// a question from another party (Engagement sets both ways).
	asksCard bool
	cardHint int
}

// pending is a final segment with its tokens and standalone detections.
type pending struct {
	seg   Segment
	toks  []token
	cands []cand // detections in seg alone (with the tail before it)
	res   Result
}

// NewStream returns a stream for one party; cfg zero means defaults.
func (r *Redactor) NewStream(src Source, cfg StreamConfig) (*Stream, error) {
	if cfg == (StreamConfig{}) {
		cfg = DefaultStreamConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Stream{r: r, src: src, cfg: cfg}, nil
}

// Deadline returns when the held segment must be released by Expire.
func (s *Stream) Deadline() (time.Time, bool) { return s.deadline, s.held }

// Held reports whether a final segment is held back.
func (s *Stream) Held() bool { return s.held }

// joint analyses the tail of the previous segment (if any) followed by
// text as one document; it returns the doc (from the pool) and the index
// of the first token of text.
func (s *Stream) joint(text string) (*doc, int) {
	d := docPool.Get().(*doc)
	d.reset()
	off := 0
	if s.last != nil {
		t := s.last.toks
		from := max(0, len(t)-s.cfg.TailTokens)
		d.toks = append(d.toks, t[from:]...)
		off = len(d.toks)
	}
	d.toks = tokenize(text, 1, d.toks)
	d.analyse()
	if s.cardHint > 0 {
		// Another party just asked for the card number: the text is read
		// as if it followed a card phrase.
		d.ctx[off] |= cCard
		d.present |= cCard
	}
	d.detect(s.r.set)
	return d, off
}

// split maps the joint detections to the previous segment's tokens (tail
// starting at from) and to the new segment's tokens (starting at off).
func split(cs []cand, off, from int) (prev, cur []cand) {
	for _, c := range cs {
		if c.a < off {
			p := c
			p.a, p.b = c.a+from, min(c.b, off)+from
			if c.b > off {
				p.last4, p.cont = "", true // the end is in the new segment
			}
			prev = append(prev, p)
		}
		if c.b > off {
			n := c
			n.a, n.b = max(c.a, off)-off, c.b-off
			cur = append(cur, n)
		}
	}
	return prev, cur
}

// resegment sets every token's seg to 0 (tokens are stored per segment).
func resegment(t []token) []token {
	for i := range t {
		t[i].seg = 0
	}
	return t
}

// Final takes the party's next final segment and returns the segments
// now ready, in order: the previous one if it was held (or, Revised, if
// its redaction changed), and this one unless it is held.
func (s *Stream) Final(seg Segment, now time.Time) []Release {
	start := time.Now()
	d, off := s.joint(seg.Text)
	defer docPool.Put(d)
	cs := resolve(d.cands, s.r.set)
	var out []Release
	from := 0
	if s.last != nil {
		from = max(0, len(s.last.toks)-s.cfg.TailTokens)
	}
	prevCands, curCands := split(cs, off, from)
	if s.last != nil {
		all := append(slices.Clone(s.last.cands), prevCands...)
		merged := resolve(all, s.r.set)
		res := s.r.build(s.last.toks, merged, 0, s.last.seg.Text, s.last.seg.Words)
		switch {
		case s.held:
			out = append(out, Release{ID: s.last.seg.ID, Result: res})
			s.r.observe(s.src, &res, start)
		case !slices.Equal(res.Spans, s.last.res.Spans):
			out = append(out, Release{ID: s.last.seg.ID, Result: res, Revised: true})
		}
	}
	toks := resegment(slices.Clone(d.toks[off:]))
	res := s.r.build(toks, curCands, 0, seg.Text, seg.Words)
	s.last = &pending{seg: seg, toks: toks, cands: curCands, res: res}
	s.asksCard = d.asksCard(off)
	if s.cardHint > 0 {
		s.cardHint--
	}
	s.held = !seg.Complete && s.couldContinue(d, off)
	if s.held {
		s.deadline = now.Add(s.cfg.MaxHold)
		return out
	}
	s.r.observe(s.src, &res, start)
	return append(out, Release{ID: seg.ID, Result: res})
}

// couldContinue reports whether the segment (tokens from off) ends in
// what the next segment could complete: a run of digits, a spelled value
// in its context, or an e-mail address not finished.
func (s *Stream) couldContinue(d *doc, off int) bool {
	n := len(d.toks)
	if n == off {
		return false
	}
	lastTok := &d.toks[n-1]
	if lastTok.brk() && sentenceEnd(lastTok) && lastTok.digits != "" {
		return false // a written number closed by a full stop
	}
	// The last run of digits, when the segment ends in it.
	if k := len(d.runs); k > 0 && d.runs[k-1].b == n {
		r := &d.runs[k-1]
		if len(r.digits) >= 19 {
			return false
		}
		return len(r.digits) >= 3 || d.governs(cCard|cSSN|cAccount|cRouting|cPhone|cPIN|cCVV|cExpiry|cDOB, r.a, ctxWindow)
	}
	switch lastTok.low {
	case "at", "dot", "double", "triple":
		return true
	}
	if d.looseOpen(off) {
		return true // a card being read out, broken by a misheard word
	}
	if d.governs(cNI|cIBAN|cZip, n-1, 8) {
		if _, ok := letterWords[lastTok.low]; ok || isAlnum(lastTok.text) && codeLike(lastTok) {
			return true
		}
	}
	return false
}

// Expire releases the held segment if its hold has passed by now.
func (s *Stream) Expire(now time.Time) []Release {
	if !s.held || now.Before(s.deadline) {
		return nil
	}
	return s.Flush()
}

// Flush releases the held segment, if any (the party's audio ended).
func (s *Stream) Flush() []Release {
	if !s.held {
		return nil
	}
	s.held = false
	res := s.last.res
	if s.r.m != nil {
		s.r.m.observe(s.src.label(), res.Spans, 0)
	}
	return []Release{{ID: s.last.seg.ID, Result: res}}
}

// Partial redacts a partial hypothesis of the party, read after the
// previous final segment's tail, conservatively: every detector, and any
// run of three or more digits (ambiguous words such as "for" and "oh"
// included), a shorter run at the end in a sensitive context, and every
// number of a stretch read after a card phrase, is masked. A partial is shown for a fraction of a second and the final
// segment replaces it, so over-masking costs little. The stream's state
// does not change; partials are not counted in the metrics.
func (s *Stream) Partial(text string, words []Word) Result {
	d, off := s.joint(text)
	defer docPool.Put(d)
	n := len(d.toks)
	for i := range d.runs {
		r := &d.runs[i]
		if r.b <= off {
			continue
		}
		atEnd := r.b == n && d.governs(cCard|cSSN|cAccount|cRouting|cPhone|cPIN|cCVV|cExpiry|cDOB|cNI|cIBAN|cZip, r.a, ctxWindow)
		if len(r.digits) >= 3 || atEnd {
			d.cands = append(d.cands, cand{typ: Number, a: max(r.a, off), b: r.b, prio: prio[Number]})
		}
	}
	d.looseMask(off)
	// An e-mail address being spoken: mask from the local part on.
	for k := max(off, n-4); k < n; k++ {
		if d.toks[k].low == "at" && k > off && (d.governs(cEmail, k, ctxWindow) || k+1 < n && d.toks[k+1].low != "the") {
			d.cands = append(d.cands, cand{typ: Number, a: k - 1, b: n, prio: prio[Number] - 1})
			break
		}
	}
	cs := resolve(d.cands, s.r.set|1<<entityIndex(Number))
	for i := range cs {
		// No last four digits on a partial: as a number is read out, the
		// successive partials' last fours would spell all of it.
		cs[i].last4 = ""
	}
	_, cur := split(cs, off, 0)
	toks := resegment(slices.Clone(d.toks[off:]))
	return s.r.build(toks, cur, 0, text, words)
}
