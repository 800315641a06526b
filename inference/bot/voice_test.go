package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestValidateVoice: a bot's voice section and its slots' DTMF settings
// are checked, each problem named where it is.
func TestValidateVoice(t *testing.T) {
	d := loadCardBot(t)
	if ps := Validate(context.Background(), d, okEnv).Errors(); len(ps) != 0 {
		t.Fatalf("the card bot has problems: %v", ps)
	}
	neg := -1
	d.Voice = &Voice{Lexicon: map[string]string{"IBAN": ""}, EndOfTurn: Duration(11 * time.Second),
		NoInput: Duration(10 * time.Millisecond), NoInputRetries: &neg, NoInputEnd: "hangup"}
	d.Slots[0].DTMF = &SlotDTMF{Max: 100, Terminator: "5"}
	var got []string
	for _, p := range Validate(context.Background(), d, okEnv).Errors() {
		got = append(got, p.Path)
	}
	slices.Sort(got)
	want := []string{"slots[0].dtmf.max", "slots[0].dtmf.terminator", "voice.end_of_turn", "voice.lexicon", "voice.no_input",
		"voice.no_input_end", "voice.no_input_retries"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
}

// TestAsking: a session waiting for a slot says which, with its DTMF
// settings; an idle one asks for none.
func TestAsking(t *testing.T) {
	d := loadCardBot(t)
	var name string
	for i := range d.Slots {
		if d.Slots[i].Name == "last4" {
			d.Slots[i].DTMF = &SlotDTMF{Max: 4}
			name = d.Slots[i].Name
		}
	}
	if name == "" {
		t.Fatal("the card bot has no last4 slot")
	}
	e, ps, err := NewEngine(context.Background(), DefaultConfig(), d, 1, okEnv, Deps{})
	if err != nil {
		t.Fatalf("NewEngine: %v %v", err, ps)
	}
	s := e.NewSession("e1", time.Now())
	s.Greeting()
	if _, _, _, ok := s.Asking(); ok {
		t.Error("an idle session asks for a slot")
	}
	s.Handle(context.Background(), Input{Text: "I lost my card", Time: time.Now()})
	n, _, dt, ok := s.Asking()
	if !ok || n != "last4" || dt == nil || dt.Max != 4 {
		t.Errorf("Asking() = %q %+v %v, want last4 with 4 digits", n, dt, ok)
	}
}

// TestPeek: Peek reads a message as the session's current step would,
// and leaves the session exactly as it was.
func TestPeek(t *testing.T) {
	e := newCardEngine(t, &skillsFake{})
	idle := e.NewSession("e1", ref)
	idle.Greeting()
	collecting := e.NewSession("e2", ref)
	collecting.Greeting()
	collecting.Handle(t.Context(), Input{Text: "I lost my card", Time: ref})
	ended := e.NewSession("e3", ref)
	ended.Handle(t.Context(), Input{Text: "goodbye", Time: ref})
	tests := []struct {
		name   string
		s      *Session
		text   string
		want   Waiting
		human  bool
		intent string // "" for no reading
		answer string
	}{
		{"flow intent", idle, "I lost my card", WaitingIntent, false, "lost_card", "flow"},
		{"knowledge intent", idle, "what fees do you charge", WaitingIntent, false, "fees", "kb"},
		{"person at an idle step", idle, "can I speak to a person", WaitingIntent, true, "", ""},
		{"person while collecting", collecting, "I want to talk to an agent", WaitingSlot, true, "", ""},
		{"slot answer", collecting, "four three two one", WaitingSlot, false, "", ""},
		{"empty", idle, "  ", WaitingIntent, false, "", ""},
		{"ended", ended, "I lost my card", WaitingNothing, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprintf("%+v", *tc.s)
			p := tc.s.Peek(tc.text)
			if after := fmt.Sprintf("%+v", *tc.s); after != before {
				t.Errorf("Peek changed the session:\nbefore %s\nafter  %s", before, after)
			}
			if p.Waiting != tc.want || p.HumanRequest != tc.human || p.Answer != tc.answer {
				t.Errorf("Peek(%q) = %+v, want waiting %q, human %v, answer %q", tc.text, p, tc.want, tc.human, tc.answer)
			}
			got := ""
			if p.Intent != nil && p.Intent.InScope {
				got = p.Intent.Intent
			}
			if got != tc.intent {
				t.Errorf("Peek(%q) intent = %q (%+v), want %q", tc.text, got, p.Intent, tc.intent)
			}
		})
	}
	// The session peeked at answers as one that was not.
	fresh := e.NewSession("e4", ref)
	fresh.Greeting()
	a := texts(idle.Handle(t.Context(), Input{Text: "I lost my card", Time: ref}))
	b := texts(fresh.Handle(t.Context(), Input{Text: "I lost my card", Time: ref}))
	if d := cmp.Diff(b, a); d != "" {
		t.Errorf("a peeked session answers differently (-fresh +peeked):\n%s", d)
	}
}

// TestStaticPrompts: the fixed wording of the card bot, without the
// prompts that carry a slot's value.
func TestStaticPrompts(t *testing.T) {
	e := newCardEngine(t, &skillsFake{})
	got := e.StaticPrompts()
	if !slices.IsSorted(got) {
		t.Errorf("not sorted: %q", got)
	}
	for _, want := range []string{e.Definition().Greeting, "What are the last four digits of the card?",
		"Please type the last four digits of the card, for example 1234.", e.Definition().Handlers.Fallback} {
		if !slices.Contains(got, want) {
			t.Errorf("%q missing from %q", want, got)
		}
	}
	for _, p := range got {
		if strings.Contains(p, "{{") || strings.Contains(p, "ending") {
			t.Errorf("a prompt with a slot's value is static: %q", p)
		}
	}
}
