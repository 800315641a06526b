package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/store"
)

// TestReviseFinal: a revised final replaces the first one in the store
// (same Seq, stored once), is published as transcript.final with the same
// seq, runs the live analyzers on the revised text with the conversation
// up to it, reaches the post analyzers, and a reader resuming with
// Last-Event-ID after the first final sees the revision.
func TestReviseFinal(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	l := startVoice(t, h)
	if !l.SubmitKeyed(7, store.Segment{Speaker: "customer", StartMs: 100, EndMs: 900, Text: "my car number", Final: true}) ||
		!l.SubmitKeyed(8, store.Segment{Speaker: "agent", StartMs: 1000, EndMs: 1500, Text: "go ahead", Final: true}) {
		t.Fatal("final refused")
	}
	// Wait until both are stored, so the reader below can resume after them.
	waitFor(t, func() bool { evs, _, _, _ := l.Since(0); return len(evs) >= 4 })
	evs, _, _, _ := l.Since(0)
	resumeAfter := evs[len(evs)-1].ID
	if !l.Revise(7, store.Segment{Speaker: "customer", StartMs: 120, EndMs: 880, Text: "my card number",
		Words: []store.Word{{Text: "card", StartMs: 300, EndMs: 600, Confidence: 0.8}}}) {
		t.Fatal("revision refused")
	}
	// A revision whose original is unknown is stored as a new final.
	if !l.Revise(99, store.Segment{Speaker: "agent", StartMs: 2000, EndMs: 2500, Text: "thank you"}) {
		t.Fatal("revision refused")
	}
	l.End("api")
	<-l.Done()

	segs, err := h.st.Segments(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Seq     uint32
		Text    string
		Revised bool
	}
	var got []row
	for _, s := range segs {
		got = append(got, row{s.Seq, s.Text, s.Revised})
	}
	want := []row{{0, "my card number", true}, {1, "go ahead", false}, {2, "thank you", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored transcript (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(h.metrics.revised); n != 1 {
		t.Errorf("segments_revised_total = %v, want 1", n)
	}
	h.rec.mu.Lock()
	post := h.rec.post[l.ID()]
	h.rec.mu.Unlock()
	if len(post) != 3 || post[0].Text != "my card number" {
		t.Errorf("post analyzer saw %+v", post)
	}

	// The event stream: the revision follows, same seq, marked revised,
	// and the analyzer ran on the revised utterance as the first of two.
	type final struct {
		Seq     uint32 `json:"seq"`
		Text    string `json:"text"`
		Revised bool   `json:"revised"`
	}
	var finals []final
	var echoes []map[string]any
	evs, _, _, _ = l.Since(0)
	for _, ev := range evs {
		switch ev.Type {
		case EventTranscriptFinal:
			var f final
			json.Unmarshal(ev.Data, &f)
			finals = append(finals, f)
		case "echo":
			var m map[string]any
			json.Unmarshal(ev.Data, &m)
			echoes = append(echoes, m)
		}
	}
	wantFinals := []final{{0, "my car number", false}, {1, "go ahead", false}, {0, "my card number", true}, {2, "thank you", false}}
	if diff := cmp.Diff(wantFinals, finals); diff != "" {
		t.Errorf("transcript.final events (-want +got):\n%s", diff)
	}
	if len(echoes) != 4 || echoes[2]["text"] != "my card number" || echoes[2]["n"] != float64(1) || echoes[3]["n"] != float64(3) {
		t.Errorf("live analyzer calls: %v", echoes)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _, _ := LastEventID(r)
		h.ServeEvents(w, r, l.Engagement(), after)
	}))
	defer srv.Close()
	_, resumed := readStream(t, srv.URL, strconv.FormatUint(resumeAfter, 10))
	if len(resumed) == 0 || resumed[0].Type != EventTranscriptFinal || resumed[0].ID != resumeAfter+1 {
		t.Errorf("resumed after %d: %+v, want the revision first", resumeAfter, resumed)
	}
	// Replayed from the store once the hub forgot it: the revised text once.
	h.mu.Lock()
	delete(h.recent, l.ID())
	h.mu.Unlock()
	_, replay := readStream(t, srv.URL, "")
	if len(replay) != 4 || replay[3].Type != EventEnded {
		t.Errorf("stored replay = %+v, want three finals and the end", replay)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startVoice starts a voice engagement in queue q as SIP would.
func startVoice(t *testing.T, h *testHub) *Live {
	t.Helper()
	voice := chat("q")
	voice.Channel = "voice"
	l, err := h.Start(context.Background(), voice, "sip")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
