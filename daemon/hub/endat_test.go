package hub

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/store"
)

// TestEndAtAndTimeOrder: an engagement ended with EndAt stores that end
// (an upload lasts as long as its audio), and the post analyzers read the
// conversation in time order, not in the order the segments arrived.
func TestEndAtAndTimeOrder(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	e := chat("billing")
	e.Channel, e.Start = "voice", start
	l, err := h.Start(ctx, e, "upload")
	if err != nil {
		t.Fatal(err)
	}
	// As two recognisers finish: the agent's segments first.
	for _, s := range []store.Segment{
		{Speaker: "agent", Text: "a1", StartMs: 3000, EndMs: 5400},
		{Speaker: "customer", Text: "c1", StartMs: 500, EndMs: 2900},
		{Speaker: "customer", Text: "c2", StartMs: 7000, EndMs: 11700},
	} {
		if err := l.SubmitWait(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	l.EndAt("upload", start.Add(12400*time.Millisecond))
	<-l.Done()
	got, err := h.st.Engagement(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusEnded || got.End.Sub(got.Start) != 12400*time.Millisecond {
		t.Errorf("stored %s..%s (%s), want ended after 12.4 s", got.Start, got.End, got.Status)
	}
	h.rec.mu.Lock()
	conv := h.rec.post[l.ID()]
	h.rec.mu.Unlock()
	var texts []string
	for _, u := range conv {
		texts = append(texts, u.Text)
	}
	if diff := cmp.Diff([]string{"c1", "a1", "c2"}, texts); diff != "" {
		t.Errorf("post analyzers' conversation (-want +got):\n%s", diff)
	}
}
