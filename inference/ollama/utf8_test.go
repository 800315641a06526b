package ollama

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ollama/ollama/api"

	"github.com/earshot/earshot/inference"
)

// TestRepliesKeepRunesWhole sends conversations in six scripts through
// every structured feature and checks that what a model wrote reaches the
// caller unchanged. A stand-in for the Ollama server answers /api/chat
// with fixed replies in those scripts: the random-weight test model
// writes noise, so it cannot show that text survives intact.
func TestRepliesKeepRunesWhole(t *testing.T) {
	texts := []string{
		"¿Me pueden ayudar? El cliente pidió un reembolso «urgente».",
		"Überweisung storniert; äußerst dringend.",
		"İade talebi alındı, şifre değişti.",
		"Η κάρτα χρεώθηκε δύο φορές.",
		"客户要求退款。",
		"😡 charged twice 💳 — refund issued 🙏",
	}
	var reply string // the JSON document the stand-in answers with
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(api.ChatResponse{Model: "stand-in", CreatedAt: time.Now(),
			Message: api.Message{Role: "assistant", Content: reply}, Done: true, DoneReason: "stop"})
	}))
	defer srv.Close()
	p, reg, fb := newTestProvider(t, testConfig(srv.URL))
	ctx := context.Background()
	for _, text := range texts {
		conv := []inference.Utterance{{Party: "customer", Text: text + " " + strings.Repeat("ä", utteranceChars)}, {Party: "agent", Text: text}}
		enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }

		reply = enc(map[string]any{"summary": text, "keywords": []string{}})
		s, err := p.Summarize(ctx, conv)
		if err != nil || s.Text != text {
			t.Errorf("Summarize = %q, %v; want %q", s.Text, err, text)
		}
		reply = enc(map[string]any{"reason": text, "actions": text, "outcome": text, "follow_ups": []string{text}})
		n, err := p.WriteNotes(ctx, conv)
		if err != nil || n.Reason != text || n.Actions != text || n.Outcome != text || len(n.FollowUps) != 1 || n.FollowUps[0] != text {
			t.Errorf("WriteNotes = %+v, %v; want every field %q", n, err, text)
		}
		reply = enc(map[string]any{"wording": text})
		ns, err := p.WordNextStep(ctx, conv, "«"+text+"»")
		if err != nil || ns.Wording != text {
			t.Errorf("WordNextStep = %q, %v; want %q", ns.Wording, err, text)
		}
		for _, got := range []string{s.Text, n.Reason, ns.Wording} {
			if !utf8.ValidString(got) || strings.ContainsRune(got, utf8.RuneError) {
				t.Errorf("reply %q has a broken character", got)
			}
		}
	}
	if fb.total() != 0 || metric(t, reg, "earshot_inference_ollama_fallbacks_total") != 0 {
		t.Errorf("replies in other scripts fell back (%v)", fb.calls)
	}
}
