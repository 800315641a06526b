package store

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReviseFinalSegment: a final segment appended again with the same
// Seq (a revised transcript of the utterance) replaces the first one: it
// is read once, with the revised text and words, from the journal, after
// the journal moved, and after the store reopened.
func TestReviseFinalSegment(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	e := newEngagement(t, s, "billing", "C-1", t0)
	ctx := context.Background()
	first := []Segment{
		{Speaker: "customer", StartMs: 500, EndMs: 2000, Text: "my car number is for to", Final: true},
		{Speaker: "agent", StartMs: 2500, EndMs: 4000, Text: "thank you", Final: true},
	}
	for i, g := range first {
		g.Engagement, g.Seq = e.ID, uint32(i)
		if err := s.Append(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	revised := Segment{Engagement: e.ID, Seq: 0, Speaker: "customer", StartMs: 520, EndMs: 1980,
		Text: "my card number is four two", Final: true, Revised: true,
		Words: []Word{{Text: "my", StartMs: 520, EndMs: 700, Confidence: 0.9}}}
	if err := s.Append(ctx, revised); err != nil {
		t.Fatal(err)
	}
	want := []Segment{revised, {Engagement: e.ID, Seq: 1, Speaker: "agent", StartMs: 2500, EndMs: 4000, Text: "thank you", Final: true}}
	check := func(s *Store, when string) {
		t.Helper()
		got, err := s.Segments(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: transcript (-want +got):\n%s", when, diff)
		}
	}
	check(s, "from the journal")
	// A revision arriving after the first was moved out of the journal.
	if _, err := s.moveJournal(true); err != nil {
		t.Fatal(err)
	}
	check(s, "after the journal moved")
	again := want[1]
	again.Text, again.Revised = "thank you very much", true
	if err := s.Append(ctx, again); err != nil {
		t.Fatal(err)
	}
	want[1] = again
	check(s, "revision over a moved segment")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dir)
	defer s2.Close()
	check(s2, "after reopening")
}
