package builtin

import (
	"strings"
	"testing"

	"github.com/earshot/earshot/inference"
)

func TestInnerCaps(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"I told Mr. Smith about Paris.", 3},
		{"Then I'll call you back.", 0},
		{"Please send it to Acme today.", 1},
		{"", 0},
	} {
		if got := innerCaps(c.text); got != c.want {
			t.Errorf("innerCaps(%q) = %d, want %d", c.text, got, c.want)
		}
	}
}

// longConv repeats the same topic over many turns so every sentence is a
// candidate.
var longConv = func() []inference.Utterance {
	var conv []inference.Utterance
	lines := []string{
		"My broadband router keeps dropping the connection every evening since the engineer visited last Tuesday.",
		"The router firmware on your line is out of date, so the connection drops when the evening traffic peaks.",
		"Can the engineer update the router firmware remotely tonight or does somebody need to visit the house again?",
		"The firmware update runs remotely tonight and the router restarts on its own after midnight.",
		"If the connection still drops tomorrow evening an engineer visits on Thursday morning.",
		"Thursday morning suits me because I work from home and need the connection for calls.",
	}
	for i, l := range lines {
		p := inference.PartyCustomer
		if i%2 == 1 {
			p = inference.PartyAgent
		}
		conv = append(conv, inference.Utterance{Party: p, Text: l})
	}
	return conv
}()

func TestSummaryWordBudget(t *testing.T) {
	sp := defaultSummaryParams
	sp.Budget, sp.Overshoot = 30, 0
	s := summarizeWith(longConv, nil, 5, sp)
	sents := splitSentences([]inference.Utterance{{Party: inference.PartyAgent, Text: s.Text}})
	if len(sents) == 0 {
		t.Fatalf("empty summary")
	}
	n := 0
	for _, x := range sents {
		n += len(x.words)
	}
	if len(sents) > 1 && n > sp.Budget {
		t.Errorf("summary of %d sentences has %d words, budget %d: %q", len(sents), n, sp.Budget, s.Text)
	}
	// every kept sentence is a whole sentence of the conversation
	for _, x := range sents {
		found := false
		for _, u := range longConv {
			if strings.Contains(u.Text, x.text[1:]) {
				found = true
			}
		}
		if !found {
			t.Errorf("sentence %q is not from the conversation", x.text)
		}
	}
}

func TestSummaryPrefersThirdPerson(t *testing.T) {
	conv := []inference.Utterance{
		{Party: inference.PartyCustomer, Text: "I need you to move my parcel delivery to the depot on Friday."},
		{Party: inference.PartyAgent, Text: "Anna Lee moves the parcel delivery to Friday."},
		{Party: inference.PartyCustomer, Text: "The depot is fine."},
	}
	sp := defaultSummaryParams
	sp.PosWeight, sp.LenExp = 0, 0 // isolate the pronoun and name features from position and length
	sp.Pron, sp.Caps = 0, 0
	if got := summarizeWith(conv, nil, 1, sp).Text; !strings.HasPrefix(got, "I need you") {
		t.Fatalf("without the pronoun and name features summary = %q, want the first sentence (test premise)", got)
	}
	sp.Pron, sp.Caps = defaultSummaryParams.Pron, defaultSummaryParams.Caps
	if got := summarizeWith(conv, nil, 1, sp).Text; !strings.Contains(got, "Anna Lee") {
		t.Errorf("summary = %q, want the third-person sentence naming Anna Lee", got)
	}
}
