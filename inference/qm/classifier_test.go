package qm

import (
	"testing"
)

// TestClassifierNearestExample checks the classifier engine sentence by
// sentence: a sentence counts when its nearest example is a yes example,
// similar enough; lines about something else, questions, and sentences
// nearest to another question's yes examples do not.
func TestClassifierNearestExample(t *testing.T) {
	sc := testScorecard()
	// A second classifier question whose yes examples are negatives of
	// the first's and the other way round.
	sc.Sections[1].Questions = append(sc.Sections[1].Questions, Question{ID: "resolved", Text: "Did the agent resolve the issue?",
		Type: TypeYesNo, Weight: 1, Engine: EngineClassifier, Examples: &Examples{
			Yes: []string{"i've sent you a new card", "i've refunded the charge to your account", "the payment has now been reversed"},
			No:  []string{"there is nothing i can do", "you will have to visit a branch", "i can't help with that"}}})
	if err := sc.Validate(Known{}); err != nil {
		t.Fatal(err)
	}
	ev := newEvaluator(t)
	tests := []struct {
		question, text, want string
	}{
		{"empathy", "Oh I'm really sorry to hear about that.", AnswerYes},
		{"empathy", "I understand, that must be so frustrating.", AnswerYes},
		{"empathy", "Thanks for holding.", AnswerNo},
		{"empathy", "What is the account number?", AnswerNo},
		{"empathy", "Right. Let me look.", AnswerNo},
		{"empathy", "", AnswerNo},
		{"resolved", "I've sent a new card to your home address.", AnswerYes},
		{"resolved", "I've refunded the charge.", AnswerYes},
		{"resolved", "Sorry, which card is this?", AnswerNo},
		{"resolved", "I'm so sorry to hear that.", AnswerNo},
		{"resolved", "You will need to visit a branch for that.", AnswerNo},
		// One sentence of a longer turn is enough; the evidence is the turn.
		{"resolved", "Thanks for waiting. I've refunded the charge to your account. Anything else?", AnswerYes},
	}
	for _, tt := range tests {
		f := &Facts{Engagement: "e", Channel: "voice", Turns: []Turn{
			{Seq: 0, Party: PartyCustomer, StartMS: 0, EndMS: 2000, Text: "I'm sorry but my card has not come, can you refund the fee?"},
			{Seq: 1, Party: PartyAgent, StartMS: 2500, EndMS: 6000, Text: tt.text},
		}}
		var q Question
		for _, x := range sc.Questions() {
			if x.ID == tt.question {
				q = x
			}
		}
		a := ev.classifierAnswer(sc, q, f)
		if a.Value != tt.want || a.Engine != EngineClassifier || a.Justification == "" {
			t.Errorf("%s %q: %s by %s (%s), want %s", tt.question, tt.text, a.Value, a.Engine, a.Justification, tt.want)
		}
		// The customer's words never count for an agent question.
		if tt.text != "" && (len(a.Evidence) != 1 || a.Evidence[0].Seq != 1) {
			t.Errorf("%s %q: evidence %+v, want the agent's turn", tt.question, tt.text, a.Evidence)
		}
	}
}

// TestSentenceMood checks the question/statement term.
func TestSentenceMood(t *testing.T) {
	m := newExampleMatcher(defaultMatchConfig(), []string{"a b"}, []string{"c d"}, nil)
	for text, ask := range map[string]bool{"Which card is it?": true, "could you spell that": true, "I've sent it.": false, "The card is here": false} {
		terms := m.rawTerms(text)
		if (terms[moodAsk] > 0) != ask || (terms[moodTell] > 0) == ask {
			t.Errorf("%q: terms %v, want ask %v", text, terms, ask)
		}
	}
}
