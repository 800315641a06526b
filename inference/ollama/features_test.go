package ollama

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/inference"
)

var testConv = []inference.Utterance{
	{Party: inference.PartyAgent, Text: "Thank you for calling, how can I help?", StartMS: 0, EndMS: 2100},
	{Party: inference.PartyCustomer, Text: "My debit card was blocked after I travelled abroad.", StartMS: 2300, EndMS: 5600},
	{Party: inference.PartyAgent, Text: "I have unblocked the card and I will send you a confirmation email by Friday.", StartMS: 5900, EndMS: 9800},
	{Party: inference.PartyCustomer, Text: "Great, thanks.", StartMS: 10100, EndMS: 11000},
}

func TestResolveDue(t *testing.T) {
	wed := time.Date(2026, 11, 25, 15, 4, 0, 0, time.UTC) // a Wednesday
	sat := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)  // a Saturday
	tests := []struct {
		word string
		ref  time.Time
		want string
	}{
		{"none", wed, ""},
		{"garbage", wed, ""},
		{"today", wed, "2026-11-25"},
		{"tomorrow", wed, "2026-11-26"},
		{"friday", wed, "2026-11-27"},
		{"wednesday", wed, "2026-12-02"}, // the next one, not today
		{"monday", wed, "2026-11-30"},
		{"sunday", wed, "2026-11-29"},
		{"end_of_week", wed, "2026-11-27"},
		{"end_of_week", sat, "2026-12-04"},
		{"next_week", wed, "2026-11-30"},
		{"in_a_week", wed, "2026-12-02"},
		{"end_of_month", wed, "2026-11-30"},
		{"next_month", wed, "2026-12-01"},
		{"end_of_month", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2026-12-31"},
		{"next_month", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2027-01-01"},
		// The date is the engagement's local date, not UTC's.
		{"today", time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600)), "2026-11-25"},
	}
	for _, tt := range tests {
		if got := resolveDue(tt.word, tt.ref); got != tt.want {
			t.Errorf("resolveDue(%q, %s) = %q, want %q", tt.word, tt.ref.Format(time.RFC3339), got, tt.want)
		}
	}
	for _, w := range dueWords { // every word the model may choose resolves
		if got := resolveDue(w, wed); (got == "") != (w == "none") {
			t.Errorf("resolveDue(%q) = %q", w, got)
		}
	}
}

func TestTranscript(t *testing.T) {
	got := transcript(testConv[:2], 1000)
	want := "<conversation>\n[0] agent: Thank you for calling, how can I help?\n" +
		"[1] customer: My debit card was blocked after I travelled abroad.\n</conversation>"
	if got != want {
		t.Errorf("transcript = %q, want %q", got, want)
	}

	// A long conversation keeps its beginning and end, with original indexes.
	var long []inference.Utterance
	for i := range 200 {
		long = append(long, inference.Utterance{Party: inference.PartyCustomer, Text: strings.Repeat("word ", 10) + string(rune('a'+i%26))})
	}
	got = transcript(long, 2000)
	if len(got) > 2000+100 {
		t.Errorf("transcript of 200 utterances has %d bytes, want about 2000", len(got))
	}
	for _, s := range []string{"[0] customer:", "[199] customer:", "utterances omitted"} {
		if !strings.Contains(got, s) {
			t.Errorf("truncated transcript lacks %q", s)
		}
	}

	// Whitespace is normalised and a huge utterance is cut.
	got = transcript([]inference.Utterance{{Party: "agent", Text: "a\n\tb  " + strings.Repeat("x", 3000)}}, 100000)
	if !strings.Contains(got, "[0] agent: a b x") || strings.Count(got, "x") != utteranceChars-len("a b ") {
		t.Errorf("transcript did not normalise or cut: %d x", strings.Count(got, "x"))
	}
}

func TestRankedKeywords(t *testing.T) {
	got := rankedKeywords([]string{" Debit card ", "debit  CARD", "", "blocked", "mortgage"}, convText(testConv))
	want := []inference.Keyword{{Term: "Debit card", Weight: 1}, {Term: "blocked", Weight: 0.5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rankedKeywords (-want +got):\n%s", diff)
	}
	if got := rankedKeywords([]string{"mortgage"}, ""); len(got) != 1 {
		t.Errorf("rankedKeywords without a text = %v, want every term kept", got)
	}
}

func TestTasksSchemaBounds(t *testing.T) {
	s := tasksSchema(testConv)
	if err := s.check("$", 0); err != nil {
		t.Fatal(err)
	}
	item := s.Properties[0].Schema.Items
	owner := item.Properties[1].Schema
	if diff := cmp.Diff([]any{"agent", "customer"}, owner.Enum); diff != "" {
		t.Errorf("owner enum (-want +got):\n%s", diff)
	}
	idx := item.Properties[3].Schema
	if *idx.Minimum != 0 || *idx.Maximum != float64(len(testConv)-1) {
		t.Errorf("utterance range = %v..%v, want 0..%d", *idx.Minimum, *idx.Maximum, len(testConv)-1)
	}
}
