package bot

import (
	"context"
	"slices"
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
