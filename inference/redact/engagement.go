package redact

import "time"

// Engagement redacts the parties of one engagement, one Stream each
// (numbers are split across one party's segments, never across
// parties; a question for the card number is the one context carried
// from one party to the others). It is used by one goroutine (the
// engagement's).
type Engagement struct {
	r       *Redactor
	src     Source
	cfg     StreamConfig
	streams map[string]*Stream
	order   []string // parties in order of appearance
	counts  map[Entity]int
	// asked is the party whose last final segment asked for a card
	// number; a party that speaks for the first time after it answers it.
	asked string
}

// cardAnswers is how many final segments of the other parties are read
// as answering a question for the card number: the answer may be split
// over a pause, or start with a word or two ("sure, hang on").
const cardAnswers = 2

// NewEngagement returns the redactor of one engagement's parties; cfg
// zero means defaults.
func (r *Redactor) NewEngagement(src Source, cfg StreamConfig) (*Engagement, error) {
	if cfg == (StreamConfig{}) {
		cfg = DefaultStreamConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engagement{r: r, src: src, cfg: cfg, streams: map[string]*Stream{}, counts: map[Entity]int{}}, nil
}

func (e *Engagement) stream(party string) *Stream {
	s, ok := e.streams[party]
	if !ok {
		s = &Stream{r: e.r, src: e.src, cfg: e.cfg} // cfg validated by NewEngagement
		if e.asked != "" && e.asked != party {
			s.cardHint = cardAnswers
		}
		e.streams[party] = s
		e.order = append(e.order, party)
	}
	return s
}

// count adds the spans of first releases to the engagement's counts and
// sets their party.
func (e *Engagement) count(party string, rs []Release) []Release {
	for i := range rs {
		rs[i].Party = party
		if !rs[i].Revised {
			for t, n := range rs[i].Result.Counts() {
				e.counts[t] += n
			}
		}
	}
	return rs
}

// Final takes a final segment of party (see Stream.Final). When the
// segment asks for a card number ("what's the long number on the card?"),
// the other parties' next segments are read as following a card phrase:
// an answer that is the number alone is then taken for a card even when
// the recogniser misheard a digit.
func (e *Engagement) Final(party string, seg Segment, now time.Time) []Release {
	s := e.stream(party)
	rs := e.count(party, s.Final(seg, now))
	if s.asksCard {
		e.asked = party
		for _, p := range e.order {
			if p != party {
				e.streams[p].cardHint = cardAnswers
			}
		}
	} else if e.asked == party {
		e.asked = ""
	}
	return rs
}

// Partial redacts a partial hypothesis of party (see Stream.Partial).
func (e *Engagement) Partial(party, text string, words []Word) Result {
	return e.stream(party).Partial(text, words)
}

// Deadline is the earliest deadline of the parties' held segments.
func (e *Engagement) Deadline() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, p := range e.order {
		if d, held := e.streams[p].Deadline(); held && (!ok || d.Before(at)) {
			at, ok = d, true
		}
	}
	return at, ok
}

// Expire releases the held segments whose hold has passed.
func (e *Engagement) Expire(now time.Time) []Release {
	var out []Release
	for _, p := range e.order {
		out = append(out, e.count(p, e.streams[p].Expire(now))...)
	}
	return out
}

// Flush releases every held segment (the engagement ends).
func (e *Engagement) Flush() []Release {
	var out []Release
	for _, p := range e.order {
		out = append(out, e.count(p, e.streams[p].Flush())...)
	}
	return out
}

// Output redacts a text an analyzer produced for the engagement.
func (e *Engagement) Output(s string) string {
	return e.r.Redact(SourceAnalyzer, s, nil).Text
}

// Counts returns the values redacted so far by type (finals only).
func (e *Engagement) Counts() map[Entity]int {
	out := make(map[Entity]int, len(e.counts))
	for k, v := range e.counts {
		out[k] = v
	}
	return out
}
