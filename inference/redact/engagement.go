package redact

import "time"

// Engagement redacts the parties of one engagement, one Stream each
// (numbers are split across one party's segments, never across
// parties). It is used by one goroutine (the engagement's).
type Engagement struct {
	r       *Redactor
	src     Source
	cfg     StreamConfig
	streams map[string]*Stream
	order   []string // parties in order of appearance
	counts  map[Entity]int
}

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

// Final takes a final segment of party (see Stream.Final).
func (e *Engagement) Final(party string, seg Segment, now time.Time) []Release {
	return e.count(party, e.stream(party).Final(seg, now))
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
