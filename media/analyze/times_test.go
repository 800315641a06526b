package analyze

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// TestConversationTimesAndOrder analyses a two-channel recording of a
// conversation (customer at 0.5 s and 7.0 s, agent at 3.0 s) as an upload
// and as `earshot analyze` prints it: the segments come in time order
// (not each party's in turn, as the recognisers finish), numbered in that
// order, and each lies within 150 ms of its utterance.
func TestConversationTimesAndOrder(t *testing.T) {
	conv := ingesttest.BuildConversation(t, 8000)
	path := conv.WAV(t, 8000)
	opts := Options{Parties: []string{"customer", "agent"}}

	var out strings.Builder
	res, err := File(context.Background(), path, &out, opts, pocketsphinx.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conv.CheckTimes(t, ingesttest.FromSegments(res.Segments), 0)
	for i, s := range res.Segments {
		if s.Seq != uint64(i+1) {
			t.Errorf("segment %d has seq %d, want %d: numbered in time order", i, s.Seq, i+1)
		}
	}
	if res.DurationMs != conv.DurationMs() {
		t.Errorf("duration %d ms, want %d", res.DurationMs, conv.DurationMs())
	}
	// The printed transcript: one line per segment, on the same clock.
	line := regexp.MustCompile(`^\[(\d\d):(\d\d)\.(\d\d\d) - (\d\d):(\d\d)\.(\d\d\d)\] (\w+): (.*)$`)
	var printed []ingesttest.Timed
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("printed line %q is not [mm:ss.mmm - mm:ss.mmm] party: text", l)
		}
		ms := func(mm, ss, mmm string) int64 {
			a, _ := strconv.Atoi(mm)
			b, _ := strconv.Atoi(ss)
			c, _ := strconv.Atoi(mmm)
			return int64(a*60000 + b*1000 + c)
		}
		printed = append(printed, ingesttest.Timed{Party: m[7], StartMs: ms(m[1], m[2], m[3]), EndMs: ms(m[4], m[5], m[6]), Text: m[8]})
	}
	conv.CheckTimes(t, printed, 0)
}

// TestTranscriptInTimeOrder: a ready transcript is taken in time order
// (ties by party, then as given) and numbered so.
func TestTranscriptInTimeOrder(t *testing.T) {
	segs, err := ParseTranscript([]byte(`[
		{"party":"agent","text":"a2","start_ms":4000,"end_ms":5000},
		{"party":"customer","text":"c1","start_ms":1000,"end_ms":2000},
		{"party":"agent","text":"a1","start_ms":1000,"end_ms":1500},
		{"party":"customer","text":"c2","start_ms":6000,"end_ms":7000}]`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, s := range segs {
		got = append(got, s.Text)
		if s.Seq != uint64(i+1) {
			t.Errorf("segment %q has seq %d, want %d", s.Text, s.Seq, i+1)
		}
	}
	if strings.Join(got, " ") != "a1 c1 a2 c2" {
		t.Errorf("order %v, want a1 c1 a2 c2", got)
	}
}
