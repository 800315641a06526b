package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/internal/testdep"
)

// abcdDir is the ABCD data (asappresearch/abcd @6b8700ce, MIT), read from
// the shared evaluation folder, never copied here.
func abcdDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("EARSHOT_EVAL_DIR")
	if d == "" {
		d = filepath.Join("..", "..", "shared", "eval")
	}
	d = filepath.Join(d, "abcd_partial")
	if _, err := os.Stat(filepath.Join(d, "guidelines.json")); err != nil {
		testdep.Missing(t, "the ABCD guidelines in "+d, "set EARSHOT_EVAL_DIR to the shared evaluation data")
	}
	return d
}

// snake makes an identifier of a guideline's button.
func snake(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "_")
}

// TestBotABCDFlow runs the returns flow built from the ABCD guidelines
// ("Return Due to Size"): every action of the guideline is a step of the
// flow, and the sample conversation's customer turns (read from the
// data) take the bot through it, with the scenario's values collected and
// the plugin's skills called.
func TestBotABCDFlow(t *testing.T) {
	dir := abcdDir(t)
	var guide map[string]struct {
		Subflows map[string]struct {
			Actions []struct{ Type, Button string }
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "guidelines.json"))
	if err := json.Unmarshal(raw, &guide); err != nil {
		t.Fatal(err)
	}
	sub, ok := guide["Product Defect"].Subflows["Return Due to Size"]
	if !ok || len(sub.Actions) == 0 {
		t.Fatal("guideline Product Defect / Return Due to Size not found")
	}
	defRaw, _ := os.ReadFile("testdata/abcd-return.yaml")
	def, err := bot.Decode(defRaw, bot.YAML)
	if err != nil {
		t.Fatal(err)
	}
	skills := map[string]bool{}
	for _, s := range def.Skills {
		skills[s.Name] = true
	}
	for _, a := range sub.Actions {
		if a.Button == "End Conversation" {
			continue // the flow's end steps
		}
		if !skills[snake(a.Button)] {
			t.Errorf("guideline action %q (%s) has no skill in the flow", a.Button, a.Type)
		}
	}

	env := startBotEnv(t, nil)
	td := env.td
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "returns"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/returns/virtual_agent", map[string]any{"enabled": true}, 200)
	// The widget's ingest user feeds the returns queue too.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/web", map[string]any{"queues": []string{"cards", "loans", "returns"}}, 200)
	env.importBot(t, "testdata/abcd-return.yaml")

	var samples []struct {
		Scenario struct {
			Personal map[string]string
			Order    map[string]string
			Subflow  string
		}
		Original [][2]string
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "abcd_sample.json"))
	if err := json.Unmarshal(raw, &samples); err != nil {
		t.Fatal(err)
	}
	s := samples[0]
	if s.Scenario.Subflow != "return_size" {
		t.Fatalf("sample 0 is %s", s.Scenario.Subflow)
	}
	var customer []string
	for _, turn := range s.Original {
		if turn[0] == "customer" {
			customer = append(customer, turn[1])
		}
	}
	var start struct{ Engagement struct{ ID string } }
	json.Unmarshal(td.mustCall(t, env.ingest, "POST", "/api/v1/bots/abcd-returns/conversations", nil, 201), &start)
	id := start.Engagement.ID
	ev := td.follow(t, id, td.Admin)
	ev.botTexts(t, 1)
	var said []string
	for _, text := range customer {
		env.say(t, id, text)
		ms := ev.botTexts(t, 1)
		said = append(said, ms[0].Text)
		if strings.HasPrefix(ms[0].Text, "I'm sorry, because it has been more than") {
			ev.botTexts(t, 1) // the call-back question follows
		}
		if strings.HasPrefix(ms[0].Text, "I have let my manager know") {
			break
		}
	}
	t.Logf("the bot's answers: %q", said)
	ev.next(t, 20*time.Second, "engagement.ended")
	va := env.waitResult(t, id)
	if va.Stats.Outcome != "escalated" {
		t.Errorf("outcome = %q, want escalated", va.Stats.Outcome)
	}
	got := map[string]string{}
	for _, sl := range va.Slots {
		got[sl.Name] = sl.Value
	}
	p := s.Scenario.Personal
	phone := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p["phone"])
	want := map[string]string{"customer_name": "Crystal Minh", "username": p["username"], "email": p["email"],
		"order_id": s.Scenario.Order["order_id"], "membership": p["member_level"], "within_window": "no", "phone": phone}
	if !strings.EqualFold(got["customer_name"], p["customer_name"]) {
		t.Errorf("customer_name = %q, scenario %q", got["customer_name"], p["customer_name"])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected slots (-want +got):\n%s", diff)
	}
	var called []string
	for _, c := range env.recorded(t) {
		called = append(called, c["skill"].(string))
	}
	if diff := cmp.Diff([]string{"pull_up_account", "validate_purchase", "membership_privileges", "notify_team"}, called); diff != "" {
		t.Errorf("skills called (-want +got):\n%s", diff)
	}
	if va.Stats.Slots["username"].Asked != 2 {
		t.Errorf("username asked %d times; the sample's \"I got the wrong size\" should get a reprompt", va.Stats.Slots["username"].Asked)
	}

	// A gold member of the second sample returns by mail: the address and
	// return-method steps of the guideline.
	p2 := samples[1].Scenario
	json.Unmarshal(td.mustCall(t, env.ingest, "POST", "/api/v1/bots/abcd-returns/conversations", nil, 201), &start)
	id = start.Engagement.ID
	ev = td.follow(t, id, td.Admin)
	ev.botTexts(t, 1)
	for _, text := range []string{"I'd like to return the jeans I bought, they are too small", p2.Personal["customer_name"],
		"my username is " + p2.Personal["username"], p2.Personal["email"], "order " + p2.Order["order_id"], "I'm a gold member",
		p2.Order["full_address"], "by mail please"} {
		env.say(t, id, text)
		ev.botTexts(t, 1)
	}
	ev.next(t, 20*time.Second, "engagement.ended")
	va = env.waitResult(t, id)
	if va.Stats.Outcome != "returned" {
		t.Errorf("gold member: outcome %q, slots %+v", va.Stats.Outcome, va.Slots)
	}
}
