package hub

import (
	"context"
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
