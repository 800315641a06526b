package daemon

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
	"github.com/earshot/earshot/store"
)

// chat runs a chat engagement through the API and returns its ID once its
// post-engagement analysis has finished.
func chat(t *testing.T, td *testDaemon, token string, req engagementRequest, msgs ...messageRequest) string {
	t.Helper()
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, token, "POST", "/api/v1/engagements", req, 201), &e)
	for _, m := range msgs {
		td.mustCall(t, token, "POST", "/api/v1/engagements/"+e.ID+"/messages", m, 201)
	}
	td.mustCall(t, token, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	l, _ := td.hub.Get(e.ID)
	select {
	case <-l.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("engagement did not finish")
	}
	return e.ID
}

var angryCall = []messageRequest{
	{"customer", "Hi, I was charged twice for the same order on my credit card."},
	{"agent", "I am sorry about that. Let me look at your recent transactions."},
	{"customer", "This is ridiculous, it is the third time this happens. I want to speak to a manager right now."},
	{"agent", "I understand. I will refund the duplicate charge today and I will email you the confirmation by Friday."},
	{"customer", "Fine. If this happens again I will cancel my account."},
}

func events(t *testing.T, td *testDaemon, token, id string) map[string][]sseEvent {
	t.Helper()
	out := map[string][]sseEvent{}
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", token, "", 0, 20*time.Second) {
		out[ev.Type] = append(out[ev.Type], ev)
	}
	return out
}

// TestAnalyticsOnChat checks the live events and the stored results of a
// chat engagement with the built-in models.
func TestAnalyticsOnChat(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	sup := td.tokenFor(t, "sam", RoleSupervisor, "cards")
	ingest := td.tokenFor(t, "pbx", RoleIngest, "cards")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/dispositions", []map[string]any{
		{"code": "refund", "name": "Refund issued", "description": "a charge was refunded to the customer"},
		{"code": "address", "name": "Address changed", "description": "the customer's postal address was updated"},
	}, 200)

	// A live engagement shows up in the supervisor's escalation list.
	var live store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat", CustomerRef: "C-1"}, 201), &live)
	for _, m := range angryCall[:3] {
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+live.ID+"/messages", m, 201)
	}
	var esc []escalationView
	// top_escalation is an expert-assist feature: an unlicensed supervisor
	// of the same queue is told why she sees none.
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: "sue", Role: "supervisor", Queues: []string{"cards"}}, 201)
	var sueTok tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "sue"}, 201), &sueTok)
	var pr Problem
	json.Unmarshal(td.mustCall(t, sueTok.Secret, "GET", "/api/v1/escalations", nil, 403), &pr)
	if !strings.HasSuffix(pr.Type, "/licence-required") || !strings.Contains(pr.Detail, "licence") {
		t.Errorf("unlicensed supervisor's escalations = %+v, want a licence-required problem", pr)
	}
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/escalations", nil, 200), &esc)
	if len(esc) != 1 || esc[0].Engagement != live.ID || esc[0].Score <= 0 || len(esc[0].Reasons) == 0 {
		t.Fatalf("escalations = %+v, want the live engagement with reasons", esc)
	}
	for _, r := range esc[0].Reasons {
		if strings.Contains(r.Text, "ridiculous") || strings.Contains(r.Text, "manager right now") {
			t.Errorf("escalation reason quotes the customer: %q", r.Text)
		}
	}
	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+live.ID+"/end", nil, 202)
	l, _ := td.hub.Get(live.ID)
	<-l.Done()

	ev := events(t, td, agent, live.ID)
	if len(ev[EventSentiment]) != 2 {
		t.Errorf("sentiment events = %d, want 2 (one per customer message)", len(ev[EventSentiment]))
	}
	if len(ev[EventEscalation]) == 0 {
		t.Error("no escalation event after the customer asked for a manager")
	}
	if len(ev[EventResults]) != 1 {
		t.Fatalf("results.ready events = %+v", ev[EventResults])
	}
	var res struct {
		Results map[string]json.RawMessage
	}
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+live.ID+"/results", nil, 200), &res)
	for _, f := range []string{"engagement_summary", "smart_notes", "follow_up_tasks", "recommended_disposition", "topic_detection"} {
		if len(res.Results[f]) == 0 {
			t.Errorf("result %s missing; have %v", f, keys(res.Results))
		}
	}
	if !strings.Contains(string(res.Results["engagement_summary"]), "charged twice") {
		t.Errorf("summary %s does not mention the reason for the call", res.Results["engagement_summary"])
	}

	// The agent saves the wrap-up; the next engagement of the customer gets a preview.
	td.mustCall(t, agent, "PUT", "/api/v1/engagements/"+live.ID+"/disposition", map[string]string{"code": "refund"}, 200)
	td.mustCall(t, agent, "PUT", "/api/v1/engagements/"+live.ID+"/disposition", map[string]string{"code": "nope"}, 400)
	td.mustCall(t, agent, "PUT", "/api/v1/engagements/"+live.ID+"/notes", map[string]any{"reason": "duplicate charge", "outcome": "refunded"}, 200)
	var pv struct {
		Text  string
		Count int
	}
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/preview?customer_ref=C-1&queue=cards", nil, 200), &pv)
	if pv.Count != 1 || !strings.Contains(strings.ToLower(pv.Text), "refund") {
		t.Errorf("preview = %+v, want one past engagement ending in a refund", pv)
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAnalyticsFeatureControls turns features off at account, queue and
// user level and checks nothing is computed or returned.
func TestAnalyticsFeatureControls(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"cards", "loans"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.tokenFor(t, "ana", RoleAgent, "cards", "loans")
	td.tokenFor(t, "bob", RoleAgent, "cards")
	off := map[string]any{"enabled": false}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/engagement_summary", off, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/loans/sentiment", off, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/users/bob/follow_up_tasks", off, 200)

	run := func(queue, agent string) (map[string][]sseEvent, map[string]json.RawMessage) {
		id := chat(t, td, td.Admin, engagementRequest{Queue: queue, Agent: agent, Channel: "chat"}, angryCall...)
		var res struct{ Results map[string]json.RawMessage }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &res)
		return events(t, td, td.Admin, id), res.Results
	}
	ev, res := run("cards", "ana")
	if len(ev[EventSentiment]) == 0 || len(res["follow_up_tasks"]) == 0 {
		t.Errorf("cards/ana: sentiment %d events, tasks %s; want both", len(ev[EventSentiment]), res["follow_up_tasks"])
	}
	if _, ok := res["engagement_summary"]; ok {
		t.Error("summary computed although switched off for the account")
	}
	ev, _ = run("loans", "ana")
	if len(ev[EventSentiment]) != 0 {
		t.Errorf("loans: %d sentiment events although switched off for the queue", len(ev[EventSentiment]))
	}
	_, res = run("cards", "bob")
	if _, ok := res["follow_up_tasks"]; ok {
		t.Error("tasks computed although switched off for the user")
	}
	// Switching a feature off later hides what it computed before.
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, angryCall...)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/topic_detection", off, 200)
	var got struct{ Results map[string]json.RawMessage }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &got)
	if _, ok := got.Results["topic_detection"]; ok {
		t.Error("topics returned after topic_detection was switched off")
	}
}

// trainIntents trains two intents (lost_card, change_address) through the
// API and waits for the job.
func trainIntents(t *testing.T, td *testDaemon) {
	t.Helper()
	var job struct{ Job uint64 }
	json.Unmarshal(td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/intents", []map[string]any{
		{"intent": "lost_card", "phrases": []string{"I lost my card", "my card was stolen", "I can't find my credit card", "someone took my wallet with my card"}},
		{"intent": "change_address", "phrases": []string{"I moved house", "please update my address", "change my postal address", "new home address"}},
	}, 202), &job)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct{ State, Error string }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/training/"+itoa(job.Job), nil, 200), &st)
		if st.State == "done" {
			return
		}
		if st.State == "failed" || time.Now().After(deadline) {
			t.Fatalf("training job = %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntentTrainingAndNextBestAction trains intents through the API and
// checks that a matching customer message yields the catalogue's action.
func TestIntentTrainingAndNextBestAction(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards")
	trainIntents(t, td)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/next-best-actions", []map[string]any{
		{"intent": "lost_card", "action": "Block the card and order a replacement"},
	}, 200)
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Hello, I think my card was stolen yesterday"})
	ev := events(t, td, td.Admin, id)
	if len(ev[EventNextBestAction]) != 1 || !strings.Contains(ev[EventNextBestAction][0].Data, "Block the card") {
		t.Errorf("next_best_action events = %+v", ev[EventNextBestAction])
	}
	// The trained model survives a restart: it is stored.
	var raw []byte
	if err := td.store.Setting(settingModelPrefix+"intent", &raw); err != nil || len(raw) == 0 {
		t.Errorf("trained intent model not stored: %v", err)
	}
}

// wordingFailures counts the next-step wordings that failed or were
// skipped.
func wordingFailures(t *testing.T, td *testDaemon) float64 {
	t.Helper()
	n := 0.0
	for _, stage := range []string{"next_step", "next_step_busy"} {
		if v := metricValue(t, td, `earshot_analytics_failures_total{stage="`+stage+`"}`); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			n += f
		}
	}
	return n
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// withOllama points the daemon at a test Ollama server for features, on
// one thread with a fixed seed.
func withOllama(srv *ollamatest.Server, features ...ollama.Feature) func(*Config) {
	return func(c *Config) {
		c.Ollama.URL = srv.URL
		c.Ollama.NumThread = 1
		c.Ollama.Seed = 42
		c.Ollama.Timeout = 2 * time.Minute
		c.Ollama.Models = map[ollama.Feature]string{}
		for _, f := range features {
			c.Ollama.Models[f] = ollamatest.Model
		}
	}
}

// TestOllamaResults runs the post-engagement analysis through a real
// Ollama server with a tiny random-weight model: results are stored with
// the Ollama provenance; with the server stopped, the built-in models take
// over.
func TestOllamaResults(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	td := startDaemon(t, withOllama(srv, ollama.FeatureSummary, ollama.FeatureNotes))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	id := chat(t, td, td.Admin, engagementRequest{Queue: "q", Channel: "chat"}, angryCall...)
	var res struct{ Results map[string]json.RawMessage }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &res)
	var sum struct{ Provider, Text string }
	json.Unmarshal(res.Results["engagement_summary"], &sum)
	if sum.Provider != "ollama" {
		t.Errorf("summary provider = %q (%s), want ollama", sum.Provider, res.Results["engagement_summary"])
	}
	srv.Stop()
	id = chat(t, td, td.Admin, engagementRequest{Queue: "q", Channel: "chat"}, angryCall...)
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &res)
	json.Unmarshal(res.Results["engagement_summary"], &sum)
	if sum.Provider != "builtin" || !strings.Contains(sum.Text, "charged twice") {
		t.Errorf("with the server stopped, summary = %s, want the built-in one", res.Results["engagement_summary"])
	}
}

// TestOllamaNextStepWording words the catalogue's next best action with a
// real Ollama server (tiny random-weight model: only the event's shape
// and provenance can be asserted, not its text). The catalogue's own
// action comes first and stands alone once the server is stopped.
func TestOllamaNextStepWording(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	td := startDaemon(t, withOllama(srv, ollama.FeatureNextStep))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards") // next best actions are licensed per agent
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/next-best-actions", []map[string]any{
		{"intent": "lost_card", "action": "Block the card and order a replacement"},
	}, 200)
	trainIntents(t, td)
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Hello, I think my card was stolen yesterday"},
		messageRequest{"customer", "Someone took my card, please help"})
	deadline := time.Now().Add(2 * time.Minute)
	var ev map[string][]sseEvent
	for {
		ev = events(t, td, td.Admin, id)
		if len(ev[EventNextStepWording]) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(ev[EventNextBestAction]) == 0 {
		t.Fatalf("no next_best_action event: %v", ev)
	}
	if n := len(ev[EventNextStepWording]); n != 1 {
		t.Fatalf("%d next_best_action.wording events, want exactly 1 (once per intent and action)", n)
	}
	var w struct{ Intent, Action, Wording, Provider, Model string }
	if err := json.Unmarshal([]byte(ev[EventNextStepWording][0].Data), &w); err != nil {
		t.Fatal(err)
	}
	if w.Intent != "lost_card" || w.Action != "Block the card and order a replacement" || w.Provider != "ollama" ||
		w.Model == "" || w.Wording == "" || len([]rune(w.Wording)) > 240 {
		t.Errorf("wording event = %+v", w)
	}
	srv.Stop()
	// The wording of the next engagement fails: once the failure is
	// counted, its goroutine is done and can no longer publish.
	failedBefore := wordingFailures(t, td)
	id = chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Hello, I think my card was stolen yesterday"})
	waitUntil(t, "the failed wording to be counted", func() bool { return wordingFailures(t, td) > failedBefore })
	ev = events(t, td, td.Admin, id)
	if len(ev[EventNextBestAction]) != 1 || len(ev[EventNextStepWording]) != 0 {
		t.Errorf("with the server stopped: %d actions, %d wordings; want 1 and 0", len(ev[EventNextBestAction]), len(ev[EventNextStepWording]))
	}
}

// TestDefaultIntents trains the shipped banking77 intent set at first
// start, so that next best actions work before the site trains intents;
// the model is stored and loaded at the next start without training.
func TestDefaultIntents(t *testing.T) {
	dataDir := t.TempDir()
	withDefaults := func(c *Config) {
		c.DataDir = dataDir
		c.Analytics.DefaultIntents = "banking77"
	}
	td := startDaemon(t, withDefaults)
	job := td.analytics.defaultIntentsJob
	if job == 0 {
		t.Fatal("no default intent training started")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var st struct{ State, Error string }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/training/"+itoa(job), nil, 200), &st)
		if st.State == "done" {
			break
		}
		if st.State == "failed" || time.Now().After(deadline) {
			t.Fatalf("default intent training = %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(td.analytics.p.Intents()); n != 77 {
		t.Fatalf("default model knows %d intents, want 77", n)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/next-best-actions", []map[string]any{
		{"intent": "lost_or_stolen_card", "action": "Block the card and order a replacement"},
	}, 200)
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Hello, I lost my card yesterday"},
		messageRequest{"customer", "Thanks for your help, goodbye"})
	ev := events(t, td, td.Admin, id)
	if len(ev[EventNextBestAction]) != 1 || !strings.Contains(ev[EventNextBestAction][0].Data, "lost_or_stolen_card") {
		t.Errorf("next_best_action events = %+v, want one for lost_or_stolen_card", ev[EventNextBestAction])
	}
	td.stop(t)

	td2 := startDaemon(t, withDefaults)
	if td2.analytics.defaultIntentsJob != 0 || len(td2.analytics.p.Intents()) != 77 {
		t.Errorf("after a restart: job %d, %d intents; want the stored model and no training", td2.analytics.defaultIntentsJob, len(td2.analytics.p.Intents()))
	}
}
