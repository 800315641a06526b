package builtin

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
)

// FuzzAnalyzers feeds arbitrary text through the rule-based analyzers: they
// must not panic, and their outputs must stay in range.
func FuzzAnalyzers(f *testing.F) {
	for _, s := range []string{
		"I'll email you the form by Friday.", "within 3 business days", "on the 31st", "in 99999999999999999999 days",
		"next next friday", "end of", "Dec 0", "@user http://x", "!!!???", "", "¿Qué? ñ 🙂 :)",
	} {
		f.Add(s)
	}
	p, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ref := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		s, err := p.Sentiment(ctx, text)
		if err != nil || s.Score < -1 || s.Score > 1 || s.Confidence < 0 || s.Confidence > 1 {
			t.Fatalf("Sentiment(%q) = %+v, %v", text, s, err)
		}
		conv := []inference.Utterance{{Party: inference.PartyAgent, Text: text}, {Party: inference.PartyCustomer, Text: text}}
		tasks, err := p.ExtractTasks(ctx, conv, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if tk.Due != "" {
				if _, err := time.Parse("2006-01-02", tk.Due); err != nil {
					t.Fatalf("task due %q: %v", tk.Due, err)
				}
			}
		}
		if _, err := p.PostEngagement(ctx, conv, ref, []inference.DispositionCode{{Code: "A", Name: "a"}, {Code: "B", Description: text}}); err != nil {
			t.Fatal(err)
		}
		e := NewEscalation(EscalationConfig{UsualHandleTime: time.Minute})
		r := e.Observe(conv[1], s)
		if r.Score < 0 || r.Score > 1 {
			t.Fatalf("escalation score %v", r.Score)
		}
	})
}
