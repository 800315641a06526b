package store

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSegmentsInTimeOrder: the segments of an engagement come back in
// time order, ties broken by speaker and then by sequence, whatever order
// they were stored in (each party's recogniser finishes on its own), both
// from the journal and after the journal was moved into the segments
// bucket.
func TestSegmentsInTimeOrder(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	e := newEngagement(t, s, "billing", "C-1", t0)
	ctx := context.Background()
	// Stored as the recognisers finished: all of the agent first.
	stored := []Segment{
		{Speaker: "agent", StartMs: 3000, EndMs: 5000, Text: "a2"},
		{Speaker: "agent", StartMs: 500, EndMs: 2000, Text: "a1"},
		{Speaker: "customer", StartMs: 500, EndMs: 1500, Text: "c1"},
		{Speaker: "customer", StartMs: 7000, EndMs: 9000, Text: "c3"},
		{Speaker: "customer", StartMs: 500, EndMs: 700, Text: "c1b"},
		{Speaker: "customer", StartMs: 2500, EndMs: 2900, Text: "c2"},
	}
	for i, g := range stored {
		g.Engagement, g.Seq, g.Final = e.ID, uint32(i), true
		if err := s.Append(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a1", "c1", "c1b", "c2", "a2", "c3"}
	check := func(when string) {
		t.Helper()
		segs, err := s.Segments(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range segs {
			got = append(got, g.Text)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: transcript order (-want +got):\n%s", when, diff)
		}
	}
	check("from the journal")
	if _, err := s.moveJournal(true); err != nil {
		t.Fatal(err)
	}
	check("after the journal moved")
}
