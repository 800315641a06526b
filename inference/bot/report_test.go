package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAggregate(t *testing.T) {
	stats := []Stats{
		{Turns: 3, Outcome: "card_blocked", Intents: map[string]IntentStat{"lost_card": {1, 0.9}},
			Slots: map[string]SlotStat{"last4": {Asked: 1, Filled: 1}}, Skills: map[string]SkillStat{"block_card": {Calls: 1}}},
		{Turns: 2, Fallbacks: 2, Unmatched: 2, Outcome: OutcomeHandover, HandoverReason: "fallbacks"},
		{Turns: 4, Outcome: OutcomeHandover, HandoverReason: "block_failed", Intents: map[string]IntentStat{"lost_card": {1, 0.7}},
			Slots: map[string]SlotStat{"last4": {Asked: 2, Filled: 1}}, Skills: map[string]SkillStat{"block_card": {Calls: 1, Errors: 1}}},
		{Turns: 1, Outcome: OutcomeAbandoned, Slots: map[string]SlotStat{"last4": {Asked: 1}}},
		{Turns: 2, Outcome: OutcomeCompleted, KBAnswers: 1, Intents: map[string]IntentStat{"fees": {1, 0.8}}},
	}
	r := Aggregate(stats)
	want := Report{Sessions: 5, Contained: 2, ContainmentRate: 0.4, Handovers: 2, HandoverRate: 0.4,
		HandoverReasons: map[string]int{"fallbacks": 1, "block_failed": 1}, Abandoned: 1, AbandonRate: 0.2,
		Outcomes: map[string]int{"card_blocked": 1, OutcomeHandover: 2, OutcomeAbandoned: 1, OutcomeCompleted: 1},
		Turns:    12, AverageTurns: 2.4, Fallbacks: 2, FallbackRate: 0.1667, Unmatched: 2,
		Intents: []IntentReport{{"lost_card", 2, 0.8}, {"fees", 1, 0.8}},
		Slots:   []SlotReport{{Name: "last4", Asked: 4, Filled: 2, Sessions: 3, CompletionRate: 0.6667}},
		Skills:  []SkillReport{{"block_card", 2, 1, 0.5}}, KBAnswers: 1}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestClusters(t *testing.T) {
	texts := []string{"how do I change my address", "I moved, need to change the address on my account",
		"change address please", "my card is not working at the atm", "the atm swallowed my card",
		"card not working at the atm", "what's the weather"}
	topics, err := Clusters{}.Topics(t.Context(), texts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) < 2 || topics[0].Count < 2 || topics[1].Count < 2 {
		t.Fatalf("topics = %+v", topics)
	}
	labels := topics[0].Label + " " + topics[1].Label
	if !strings.Contains(labels, "address") || !strings.Contains(labels, "atm") {
		t.Errorf("labels %q should name the address and ATM groups", labels)
	}
}

func TestAssistBuiltin(t *testing.T) {
	a := &Assistant{}
	d := loadCardBot(t)
	ph, src, err := a.Phrases(t.Context(), d, d.Intents[0], 5)
	if err != nil || src != SourceBuiltin || len(ph) != 5 {
		t.Fatalf("Phrases = %q, %s, %v", ph, src, err)
	}
	for _, p := range ph {
		if slices.ContainsFunc(d.Intents[0].Phrases, func(x string) bool { return normPhrase(x) == normPhrase(p) }) {
			t.Errorf("suggested an existing phrase %q", p)
		}
	}
	props, _, err := a.Intents(t.Context(), []string{"change my address", "I need to change my address", "address change",
		"refund my order", "I want a refund for my order", "order refund please", "hello"}, 5)
	if err != nil || len(props) != 2 || props[0].Count != 3 {
		t.Fatalf("Intents = %+v, %v", props, err)
	}
	base := loadCardBot(t)
	got, src, err := a.Flow(t.Context(), FlowRequest{Base: base, Intent: "pin_reset", Plugin: "card-services",
		Phrases: []string{"I forgot my PIN", "reset my pin", "new pin please", "my pin is blocked", "change my PIN number",
			"I can't remember my PIN", "PIN reminder", "locked out of my card, need a PIN"},
		Instructions: "Ask for the last four digits of the card.\nAsk for the customer's email address.\nUse [Block Card] to secure it.\nTell the customer that a new PIN is on its way by post.\nEnd the conversation."})
	if err != nil || src != SourceBuiltin {
		t.Fatalf("Flow: %v", err)
	}
	if ps := Validate(t.Context(), got, okEnv).Errors(); len(ps) > 0 {
		t.Errorf("generated flow does not validate: %v", ps)
	}
	f := got.Flows[len(got.Flows)-1]
	if f.Name != "pin_reset" || !slices.Equal(f.Steps[0].Collect, []string{"last4", "email_address"}) || f.Steps[1].Skill != "block_card" {
		t.Errorf("flow = %+v", f)
	}
	if _, _, err := a.Flow(t.Context(), FlowRequest{Base: base, Intent: "x", Instructions: "Hmm."}); !errors.Is(err, ErrNeedsModel) {
		t.Errorf("unparseable instructions: %v, want ErrNeedsModel", err)
	}
	qs, _, _ := a.KBQueries(t.Context(), []Article{{ID: "kb-1", Title: "Replacing a card", Body: "# Fees\nA replacement costs 5 EUR."}}, 3)
	if len(qs) != 3 || qs[0].ArticleID != "kb-1" {
		t.Errorf("KBQueries = %+v", qs)
	}
}
