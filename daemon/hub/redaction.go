package hub

import (
	"encoding/json"
	"time"

	"github.com/earshot/earshot/store"
)

// EventTranscriptRevised carries a final segment published before whose
// redaction grew: a number that began at its end was completed by the
// party's next segment after the hold had passed.
const EventTranscriptRevised = "transcript.revised"

// Redaction removes sensitive data (card numbers, national IDs, bank
// details, contact details, secrets) from engagements in the live path:
// the hub passes every segment through it before the store, the event
// stream and the analyzers see it, and passes the analyzers' events
// through it too. Open is called on the engagement's goroutine when it
// goes live; it returns nil when redaction is off for the engagement.
type Redaction interface {
	Open(e *store.Engagement, source string) SegmentRedactor
}

// SegmentRedactor redacts one engagement. It is owned by the engagement's
// goroutine and never called concurrently.
type SegmentRedactor interface {
	// Final takes a final segment under the hub's key id and returns the
	// segments now ready to store, in order. With hold set it may keep
	// the segment back (nothing returned) while its end could be the start
	// of a number that the party's next segment completes, until that
	// segment arrives or Deadline passes.
	Final(id uint64, seg store.Segment, hold bool, now time.Time) []Redacted
	// Partial redacts a partial hypothesis, conservatively.
	Partial(seg store.Segment) store.Segment
	// Deadline is when a held segment must be released by Expire.
	Deadline() (time.Time, bool)
	// Expire releases what is held past its deadline.
	Expire(now time.Time) []Redacted
	// Flush releases everything held: the engagement ends.
	Flush() []Redacted
	// Output redacts a text an analyzer produced.
	Output(s string) string
	// Counts are the values redacted so far, by entity type (never the
	// values).
	Counts() map[string]int
}

// Redacted is a segment ready to store under the key Final was given.
// Revised marks a segment stored before whose redaction grew.
type Redacted struct {
	ID      uint64
	Seg     store.Segment
	Revised bool
}

// SetRedaction makes the hub redact engagements; call it before the first
// Start.
func (h *Hub) SetRedaction(r Redaction) { h.redaction = r }

// redactData passes every string of an analyzer's event through out: it
// encodes data as JSON, rewrites the strings and returns the new
// document. Data that does not encode is returned as is (Publish logs it).
func redactData(data any, out func(string) string) any {
	raw, err := json.Marshal(data)
	if err != nil {
		return data
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return data
	}
	return json.RawMessage(mustMarshal(walkStrings(v, out)))
}

func walkStrings(v any, out func(string) string) any {
	switch x := v.(type) {
	case string:
		return out(x)
	case []any:
		for i := range x {
			x[i] = walkStrings(x[i], out)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = walkStrings(e, out)
		}
	}
	return v
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v) // decoded JSON re-encodes
	if err != nil {
		panic(err)
	}
	return b
}
