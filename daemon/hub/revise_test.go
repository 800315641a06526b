package hub

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/store"
)

// scriptedRedaction answers the hub's seam from a script: the n-th final
// segment is released as script[n] says. (The detectors are tested in
// inference/redact and through the daemon; this tests what the hub does
// with a revision.)
type scriptedRedaction struct{ script [][]Redacted }

func (s *scriptedRedaction) Open(*store.Engagement, string) SegmentRedactor {
	return &scriptedRedactor{script: s.script}
}

type scriptedRedactor struct {
	script [][]Redacted
	n      int
}

func (s *scriptedRedactor) Final(id uint64, seg store.Segment, hold bool, now time.Time) []Redacted {
	out := s.script[s.n]
	s.n++
	for i := range out {
		if !out[i].Revised {
			out[i].ID = id
		}
	}
	return out
}
func (s *scriptedRedactor) Partial(seg store.Segment) store.Segment { return seg }
func (s *scriptedRedactor) Deadline() (time.Time, bool)             { return time.Time{}, false }
func (s *scriptedRedactor) Expire(time.Time) []Redacted             { return nil }
func (s *scriptedRedactor) Flush() []Redacted                       { return nil }
func (s *scriptedRedactor) Output(text string) string               { return text }
func (s *scriptedRedactor) Counts() map[string]int                  { return nil }
func (s *scriptedRedactor) OriginalDays() int                       { return 0 }

// TestRevisionReplacesStored: a revision of a stored segment replaces it
// in the store and in the conversation the analyzers read, and is
// published as transcript.revised.
func TestRevisionReplacesStored(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	first := store.Segment{Speaker: "customer", Text: "my card is four one one one", EndMs: 1000, Final: true}
	h.SetRedaction(&scriptedRedaction{script: [][]Redacted{
		{{Seg: first}},
		{
			{ID: 1, Seg: store.Segment{Speaker: "customer", Text: "my card is [CARD]", EndMs: 1000}, Revised: true},
			{Seg: store.Segment{Speaker: "customer", Text: "[CARD ending 1111]", StartMs: 4000, EndMs: 5000, Final: true}},
		},
	}})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("billing"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []store.Segment{first, {Speaker: "customer", Text: "one one one one", StartMs: 4000, EndMs: 5000}} {
		if err := l.SubmitWait(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	l.End("test")
	<-l.Done()

	segs, err := h.st.Segments(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, g := range segs {
		stored = append(stored, g.Text)
	}
	want := []string{"my card is [CARD]", "[CARD ending 1111]"}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored transcript (-want +got):\n%s", diff)
	}
	h.rec.mu.Lock()
	conv := h.rec.post[l.ID()]
	h.rec.mu.Unlock()
	var read []string
	for _, u := range conv {
		read = append(read, u.Text)
	}
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("post analyzers' conversation (-want +got):\n%s", diff)
	}
	var revised int
	evs, _, _, _ := l.Since(0)
	for _, ev := range evs {
		if ev.Type == EventTranscriptRevised {
			revised++
		}
	}
	if revised != 1 {
		t.Errorf("%d transcript.revised events, want 1", revised)
	}
}
