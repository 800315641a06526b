package bot

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// skillsFake is an in-memory skill runner: the daemon's tests run the real
// plugin; these check the runtime's side of the contract.
type skillsFake struct {
	mu    sync.Mutex
	calls []SkillCall
	// fail makes a skill fail; hang makes it wait for its deadline.
	fail, hang map[string]bool
}

func (f *skillsFake) RunSkill(ctx context.Context, c SkillCall) (SkillResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	switch {
	case f.hang[c.Skill]:
		<-ctx.Done()
		return SkillResult{}, ctx.Err()
	case f.fail[c.Skill]:
		return SkillResult{}, errors.New("plugin crashed")
	}
	var in map[string]string
	json.Unmarshal(c.Input, &in)
	switch c.Skill {
	case "block_card":
		return SkillResult{Message: "A new card is on its way.", Result: map[string]any{"blocked": true}}, nil
	case "balance":
		return SkillResult{Result: map[string]any{"balance": "1250.40", "currency": "EUR"}}, nil
	}
	return SkillResult{}, errors.New("unknown skill")
}

type kbFake struct{}

func (kbFake) Answer(_ context.Context, q string) (KBAnswer, error) {
	if strings.Contains(strings.ToLower(q), "fee") || strings.Contains(strings.ToLower(q), "charge") {
		return KBAnswer{Text: "Cash withdrawals abroad cost 2% [1].", Citations: []Citation{{ArticleID: "kb-fees", Title: "Card fees"}}}, nil
	}
	return KBAnswer{}, nil
}

func loadCardBot(t testing.TB) Definition {
	t.Helper()
	raw, err := os.ReadFile("testdata/card-services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var okEnv = Env{QueueExists: func(q string) bool { return q == "cards" },
	CheckSkill: func(_ context.Context, plugin, skill string) error {
		if plugin == "card-services" && (skill == "block_card" || skill == "balance") {
			return nil
		}
		return errors.New("not installed")
	}}

func newCardEngine(t testing.TB, sk *skillsFake) *Engine {
	t.Helper()
	e, ps, err := NewEngine(context.Background(), DefaultConfig(), loadCardBot(t), 1, okEnv, Deps{Skills: sk, Knowledge: kbFake{}})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	return e
}

// ref is a Wednesday afternoon.
var ref = time.Date(2026, 2, 11, 14, 0, 0, 0, time.UTC)

func texts(t Turn) []string {
	var out []string
	for _, m := range t.Messages {
		out = append(out, m.Text)
	}
	return out
}

// converse plays customer messages and returns each turn.
func converse(t *testing.T, s *Session, msgs ...string) []Turn {
	t.Helper()
	var out []Turn
	for _, m := range msgs {
		out = append(out, s.Handle(t.Context(), Input{Text: m, Time: ref}))
	}
	return out
}

func TestLostCardFlow(t *testing.T) {
	sk := &skillsFake{}
	e := newCardEngine(t, sk)
	s := e.NewSession("eng-1", ref)
	if g := s.Greeting(); len(g.Messages) != 1 || !strings.Contains(g.Messages[0].Text, "card services assistant") {
		t.Fatalf("greeting = %+v", g)
	}
	turns := converse(t, s, "Hi, I lost my card", "it's 4321", "yes please")
	if turns[0].Intent == nil || turns[0].Intent.Intent != "lost_card" || !turns[0].Intent.InScope {
		t.Fatalf("intent = %+v", turns[0].Intent)
	}
	if got := texts(turns[0]); len(got) != 1 || got[0] != "What are the last four digits of the card?" {
		t.Errorf("turn 1 = %q", got)
	}
	if m := turns[1].Messages; len(m) != 1 || !strings.Contains(m[0].Text, "ending 4321") || !slices.Equal(m[0].Choices, []string{"Yes", "No"}) {
		t.Errorf("turn 2 = %+v, want the confirmation with the digits and yes/no buttons", m)
	}
	if got := texts(turns[2]); len(got) != 1 || got[0] != "Done: the card ending 4321 is blocked. A new card is on its way." {
		t.Errorf("turn 3 = %q", got)
	}
	if turns[2].End != "card_blocked" || s.Active() {
		t.Errorf("end = %q, active %v", turns[2].End, s.Active())
	}
	if len(sk.calls) != 1 || sk.calls[0].Skill != "block_card" || string(sk.calls[0].Input) != `{"last4":"4321"}` || sk.calls[0].Conversation != "eng-1" {
		t.Errorf("skill calls = %+v", sk.calls)
	}
	st := s.Finish(ref.Add(time.Minute))
	want := Stats{Bot: "card-services", Version: 1, Start: ref, End: ref.Add(time.Minute), Turns: 3,
		Intents: map[string]IntentStat{"lost_card": {Hits: 1, ConfidenceSum: st.Intents["lost_card"].ConfidenceSum}},
		Slots:   map[string]SlotStat{"last4": {Asked: 1, Filled: 1}, "confirm_block": {Asked: 1, Filled: 1}},
		Skills:  map[string]SkillStat{"block_card": {Calls: 1}}, Outcome: "card_blocked"}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if !st.Contained() {
		t.Error("a blocked card is not counted as contained")
	}
}

func TestConversations(t *testing.T) {
	for _, tc := range []struct {
		name     string
		msgs     []string
		fail     []string
		hang     []string
		last     []string // texts of the last turn (prefix match on each)
		handover string
		end      string
		slots    []SlotValue
		outcome  string
	}{
		{name: "digits given with the request", msgs: []string{"my card ending 9876 was stolen", "no"},
			last: []string{"OK, I haven't blocked the card."}, outcome: OutcomeCompleted},
		{name: "balance skill", msgs: []string{"what's my balance?", "1234"},
			last: []string{"The balance of the card ending 1234 is 1250.40 EUR.", "Is there anything else"}, outcome: OutcomeCompleted},
		{name: "fees from the knowledge base", msgs: []string{"what fees do you charge for withdrawals abroad?"},
			last: []string{"Cash withdrawals abroad cost 2% [1]."}, outcome: OutcomeCompleted},
		{name: "talk to a person", msgs: []string{"I lost my card", "5555", "I want to talk to a person"},
			last: []string{"I'm passing you to a member of our team"}, handover: "customer_request",
			slots: []SlotValue{{Name: "last4", Type: "card_last4", Value: "5555", Sensitive: true}}, outcome: OutcomeHandover},
		{name: "two misunderstandings", msgs: []string{"the weather on mars is purple", "tell me about octopus migration"},
			last: []string{"I'm passing you to a member of our team"}, handover: "fallbacks", slots: []SlotValue{}, outcome: OutcomeHandover},
		{name: "skill error branch", msgs: []string{"I lost my card", "1111", "yes"}, fail: []string{"block_card"},
			last: []string{"I'm sorry, I couldn't block the card just now.", "I'm passing you"}, handover: "block_failed",
			slots:   []SlotValue{{Name: "last4", Type: "card_last4", Value: "1111", Sensitive: true}, {Name: "confirm_block", Type: "yes_no", Value: "yes"}},
			outcome: OutcomeHandover},
		{name: "hanging skill times out to the error branch", msgs: []string{"what is my balance", "2222"}, hang: []string{"balance"},
			last: []string{"Sorry, I can't get the balance right now."}, outcome: OutcomeCompleted},
		{name: "cancel a form", msgs: []string{"I lost my card", "cancel"},
			last: []string{"No problem, I've stopped that."}, outcome: OutcomeAbandoned},
		{name: "reprompt then give up", msgs: []string{"I lost my card", "no idea", "dunno", "what"},
			last: []string{"I'm passing you"}, handover: "slot_not_collected", slots: []SlotValue{}, outcome: OutcomeHandover},
		{name: "goodbye", msgs: []string{"what fees are there for a replacement card", "ok thanks bye"},
			last: []string{"Thank you for chatting with us."}, end: "customer_goodbye", outcome: "customer_goodbye"},
		{name: "abandoned mid form", msgs: []string{"I lost my card"},
			last: []string{"What are the last four digits of the card?"}, outcome: OutcomeAbandoned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &skillsFake{fail: map[string]bool{}, hang: map[string]bool{}}
			for _, f := range tc.fail {
				sk.fail[f] = true
			}
			for _, h := range tc.hang {
				sk.hang[h] = true
			}
			e := newCardEngine(t, sk)
			s := e.NewSession("eng", ref)
			start := time.Now()
			turns := converse(t, s, tc.msgs...)
			if len(tc.hang) > 0 && time.Since(start) > 10*time.Second {
				t.Errorf("hanging skill held the turn for %v; its timeout is 3s", time.Since(start))
			}
			last := turns[len(turns)-1]
			got := texts(last)
			if len(got) != len(tc.last) {
				t.Fatalf("last turn = %q, want %q", got, tc.last)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.last[i]) {
					t.Errorf("last turn message %d = %q, want prefix %q", i, got[i], tc.last[i])
				}
			}
			if tc.handover != "" {
				if last.Handover == nil || last.Handover.Reason != tc.handover {
					t.Fatalf("handover = %+v, want reason %s", last.Handover, tc.handover)
				}
				if diff := cmp.Diff(tc.slots, last.Handover.Slots); diff != "" {
					t.Errorf("handover slots (-want +got):\n%s", diff)
				}
			} else if last.Handover != nil {
				t.Errorf("unexpected handover %+v", last.Handover)
			}
			if last.End != tc.end {
				t.Errorf("end = %q, want %q", last.End, tc.end)
			}
			if st := s.Finish(ref); st.Outcome != tc.outcome {
				t.Errorf("outcome = %q, want %q", st.Outcome, tc.outcome)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	e := newCardEngine(t, &skillsFake{})
	s := e.NewSession("eng", ref)
	// Control characters and escape sequences are dropped; 10 kB are cut
	// to what the bot reads; neither breaks the turn.
	turn := s.Handle(t.Context(), Input{Text: "I \x00lost\x1b[2J my \u202ecard\x07", Time: ref})
	if turn.Intent == nil || turn.Intent.Intent != "lost_card" {
		t.Errorf("intent of a message with control characters = %+v", turn.Intent)
	}
	for _, m := range turn.Messages {
		for _, r := range m.Text {
			if r < 0x20 {
				t.Errorf("control character in %q", m.Text)
			}
		}
	}
	big := strings.Repeat("lorem ipsum dolor sit amet ", 400) // 10.8 kB
	start := time.Now()
	s2 := e.NewSession("eng2", ref)
	turn = s2.Handle(t.Context(), Input{Text: big, Time: ref})
	if len(turn.Messages) == 0 || !turn.Fallback {
		t.Errorf("10 kB message: %+v, want a fallback", turn)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 kB message took %v", d)
	}
	// Empty after cleaning: nothing happens.
	if turn := s2.Handle(t.Context(), Input{Text: "\x00\x01 \t", Time: ref}); len(turn.Messages) != 0 || s2.Stats().Turns != 1 {
		t.Errorf("empty message: %+v, turns %d", turn, s2.Stats().Turns)
	}
}

func TestDecodeEncodeRoundTrip(t *testing.T) {
	d := loadCardBot(t)
	for _, f := range []Format{JSON, YAML} {
		raw, err := Encode(d, f)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(raw, f)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, raw)
		}
		if diff := cmp.Diff(d, back); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", f, diff)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"empty", "  ", "empty document"},
		{"unknown field json", `{"id":"x","colour":"red"}`, `unknown field "colour"`},
		{"unknown field yaml", "id: x\ncolour: red\n", "colour"},
		{"wrong type", `{"id":"x","intents":"many"}`, `field "intents"`},
		{"bad duration", "id: x\nsettings:\n  idle_timeout: soon\n", "soon"},
		{"trailing", `{"id":"x"} {}`, "trailing data"},
		{"syntax", `{"id":`, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc), "")
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want ErrFormat mentioning %q", err, tc.want)
			}
		})
	}
}
