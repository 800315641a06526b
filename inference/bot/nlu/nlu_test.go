package nlu

import (
	"errors"
	"maps"
	"math"
	"slices"
	"testing"
)

// cardIntents is a small bot's training data.
var cardIntents = map[string][]string{
	"lost_card": {"I lost my card", "my card was stolen", "I can't find my debit card", "someone stole my wallet with my card",
		"please block my card", "I misplaced my credit card", "my card is missing", "card lost yesterday", "freeze my card it is gone",
		"I think I left my card at the shop"},
	"balance": {"what is my balance", "how much money do I have", "check my account balance", "show me my balance please",
		"how much is left on my card", "balance inquiry", "what's available on my account", "tell me my current balance",
		"how much can I spend", "remaining funds on my card"},
	"fees": {"what fees do you charge", "is there a fee for foreign transactions", "how much does a transfer cost",
		"are there any charges for withdrawals", "why was I charged a fee", "what is the monthly fee", "atm withdrawal fee",
		"do you charge for card replacement", "overdraft fee question", "what are your charges"},
	"address": {"I moved house", "change my address", "update my postal address", "I have a new address",
		"my address is wrong", "where do I change my home address", "new home address please", "update where I live",
		"I need to correct my address", "relocated, need address change"},
}

// examples lists cardIntents in a fixed order (intents sorted): a model
// is a function of its examples' order.
func examples() []Example {
	var out []Example
	for _, it := range slices.Sorted(maps.Keys(cardIntents)) {
		for _, p := range cardIntents[it] {
			out = append(out, Example{Text: p, Intent: it})
		}
	}
	return out
}

func TestTrainClassify(t *testing.T) {
	m, err := Train(t.Context(), DefaultConfig(), examples())
	if err != nil {
		t.Fatal(err)
	}
	rep := m.Report()
	if rep.Intents != 4 || rep.HeldOutInScope == 0 || rep.HeldOutOOS == 0 {
		t.Errorf("report = %+v: want 4 intents and held-out phrases of both kinds", rep)
	}
	if rep.Temperature <= 0 || math.IsNaN(rep.Temperature) || rep.ClosedAccuracy-rep.Accuracy > max(0.015, 1/float64(rep.HeldOutInScope))+1e-9 {
		t.Errorf("report = %+v: temperature or accuracy drop out of bounds", rep)
	}
	for _, tc := range []struct {
		text    string
		want    string
		inScope bool
	}{
		{"I have lost my card", "lost_card", true},
		{"how much money is in my account", "balance", true},
		{"what is the fee for sending money abroad", "fees", true},
		{"I moved to a new flat, please update my address", "address", true},
		{"zxqv blorp", "", false},
		{"", "", false},
	} {
		r := m.Classify(tc.text)
		if r.InScope != tc.inScope || (tc.inScope && r.Intent != tc.want) {
			t.Errorf("Classify(%q) = %s in scope %v (score %.2f, threshold %.2f), want %q in scope %v",
				tc.text, r.Intent, r.InScope, r.Score, m.Threshold(), tc.want, tc.inScope)
		}
		if r.Confidence < 0 || r.Confidence > 1 || len(r.Ranked) == 0 || r.Ranked[0].Intent != r.Intent {
			t.Errorf("Classify(%q) = %+v: bad confidence or ranking", tc.text, r)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	a, err := Train(t.Context(), DefaultConfig(), examples())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(t.Context(), DefaultConfig(), examples())
	if err != nil {
		t.Fatal(err)
	}
	if a.Threshold() != b.Threshold() || a.Report() != b.Report() {
		t.Errorf("two trainings differ: %+v vs %+v", a.Report(), b.Report())
	}
}

func TestTrainErrors(t *testing.T) {
	if _, err := Train(t.Context(), DefaultConfig(), []Example{{"hi", "a"}, {"yo", "a"}}); !errors.Is(err, ErrTooFew) {
		t.Errorf("one intent: err = %v, want ErrTooFew", err)
	}
	if _, err := Train(t.Context(), DefaultConfig(), []Example{{"", "a"}, {"x", "b"}}); err == nil {
		t.Error("empty text accepted")
	}
	cfg := DefaultConfig()
	cfg.Folds = 1
	if _, err := Train(t.Context(), cfg, examples()); err == nil {
		t.Error("one fold accepted")
	}
	// Two intents, one phrase each: nothing to hold out, everything the
	// classifier ranks first is accepted.
	m, err := Train(t.Context(), DefaultConfig(), []Example{{"lost card", "a"}, {"balance", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Classify("lost card please"); !r.InScope || r.Intent != "a" {
		t.Errorf("tiny model: %+v", r)
	}
}
