package hub

import (
	"context"
	"errors"
	"testing"

	"github.com/earshot/earshot/store"
)

// Chat messages sent within the same millisecond keep the order the
// engagement took them in: their times are strictly increasing, so the
// transcript (sorted by time, then party) lists them as sent.
func TestMessagesKeepTheirOrder(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("billing"), "api")
	if err != nil {
		t.Fatal(err)
	}
	// Alternate parties so that a tie in time would put "agent" first.
	parties := []string{"customer", "agent", "customer", "agent", "customer", "agent"}
	for i, p := range parties {
		// A caller-provided time is ignored: the engagement times messages.
		if err := l.SubmitMessage(ctx, store.Segment{Speaker: p, Text: string(rune('a' + i)), StartMs: 99999}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	l.End("api")
	<-l.Done()
	segs, err := h.st.Segments(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != len(parties) {
		t.Fatalf("%d segments stored, want %d", len(segs), len(parties))
	}
	for i, s := range segs {
		if int(s.Seq) != i || s.Speaker != parties[i] {
			t.Errorf("segment %d = seq %d %s, want seq %d %s", i, s.Seq, s.Speaker, i, parties[i])
		}
		if s.StartMs >= 99999 || s.EndMs != s.StartMs {
			t.Errorf("segment %d timed %d..%d: want the engagement's own clock", i, s.StartMs, s.EndMs)
		}
		if i > 0 && s.StartMs <= segs[i-1].StartMs {
			t.Errorf("segment %d at %d ms, not after segment %d at %d ms", i, s.StartMs, i-1, segs[i-1].StartMs)
		}
	}
}

// A turn's messages submitted together are stored in order, and stored
// when SubmitMessages returns.
func TestSubmitMessagesStoresInOrder(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("billing"), "api")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SubmitMessage(ctx, store.Segment{Speaker: "customer", Text: "q"}); err != nil {
		t.Fatal(err)
	}
	texts := []string{"one", "two", "three"}
	var segs []store.Segment
	for _, x := range texts {
		segs = append(segs, store.Segment{Speaker: "bot", Text: x})
	}
	if err := l.SubmitMessages(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	got, err := h.st.Segments(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1+len(texts) {
		t.Fatalf("%d segments stored on return, want %d", len(got), 1+len(texts))
	}
	for i, x := range texts {
		s := got[1+i]
		if s.Text != x || s.Speaker != "bot" || int(s.Seq) != 1+i || s.StartMs <= got[i].StartMs {
			t.Errorf("segment %d = %q seq %d at %d ms, want %q seq %d after %d ms", 1+i, s.Text, s.Seq, s.StartMs, x, 1+i, got[i].StartMs)
		}
	}
	l.End("api")
	<-l.Done()
	if err := l.SubmitMessages(ctx, store.Segment{Speaker: "bot", Text: "late"}); !errors.Is(err, ErrNotLive) {
		t.Errorf("after the end: %v, want ErrNotLive", err)
	}
}
