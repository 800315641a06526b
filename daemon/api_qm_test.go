package daemon

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/store"
)

// testScorecardBody is a valid scorecard of four questions: rules on
// phrases and a metric, a classifier, and a question that may not apply.
func testScorecardBody(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "Service basics", "pass_score": 60,
		"sections": []any{
			map[string]any{"name": "Opening", "weight": 1, "questions": []any{
				map[string]any{"id": "greet", "text": "Did the agent greet the customer?", "type": "yes_no", "weight": 1, "engine": "rule",
					"rule": map[string]any{"kind": "phrase", "phrases": []string{"thank you for calling"}, "party": "agent", "within_first_s": 30}},
				map[string]any{"id": "listen", "text": "Did the agent let the customer finish?", "type": "scale_1_5", "weight": 1, "engine": "rule",
					"rule": map[string]any{"kind": "metric", "metric": "interruptions", "party": "agent", "op": "==", "value": 0}},
			}},
			map[string]any{"name": "Care", "weight": 2, "questions": []any{
				map[string]any{"id": "empathy", "text": "Did the agent show empathy?", "type": "yes_no", "weight": 1, "engine": "classifier",
					"examples": map[string]any{
						"yes": []string{"i am so sorry to hear that", "i understand how frustrating this is", "i apologise for the trouble"},
						"no":  []string{"what is your account number", "please hold while i check", "the card was posted on monday"}}},
				map[string]any{"id": "refund", "text": "Did the agent explain the refund policy?", "type": "yes_no", "weight": 1, "allow_na": true, "engine": "rule",
					"applies": map[string]any{"kind": "phrase", "phrases": []string{"refund"}, "party": "customer"},
					"rule":    map[string]any{"kind": "phrase", "phrases": []string{"refund policy"}, "party": "agent"}},
			}},
		},
	}
}

// uploadCall stores a call through the transcript upload and waits until
// its post-engagement analysis is done.
func uploadCall(t *testing.T, td *testDaemon, token, queue, agent string, segs []map[string]any) string {
	t.Helper()
	q := url.Values{"queue": {queue}, "agent": {agent}}
	var res struct {
		Engagement store.Engagement `json:"engagement"`
	}
	json.Unmarshal(td.mustCall(t, token, "POST", "/api/v1/uploads?"+q.Encode(), map[string]any{"segments": segs}, 201), &res)
	waitAnalysed(t, td, res.Engagement.ID)
	return res.Engagement.ID
}

func waitAnalysed(t *testing.T, td *testDaemon, id string) {
	t.Helper()
	l, ok := td.hub.Get(id)
	if !ok {
		t.Fatalf("engagement %s is not in the hub", id)
	}
	select {
	case <-l.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("engagement %s: post analysis did not finish", id)
	}
}

func seg(party string, start, end int64, text string) map[string]any {
	return map[string]any{"party": party, "start_ms": start, "end_ms": end, "text": text}
}

// serviceCall is a call with a greeting, an interruption by the agent and
// an empathetic line.
func serviceCall() []map[string]any {
	return []map[string]any{
		seg("agent", 0, 3000, "Thank you for calling, how can I help?"),
		seg("customer", 3300, 9000, "My new card has not arrived and I am fed up with waiting."),
		seg("agent", 8000, 12000, "I am so sorry to hear that, I understand how frustrating this is."),
		seg("agent", 12300, 16000, "I have ordered a replacement card for you."),
		seg("customer", 16300, 18000, "Perfect, thank you so much."),
	}
}

func TestScorecardDefinitions(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/dispositions", []map[string]any{{"code": "resolved", "name": "Resolved"}}, 200)
	edit := func(f func(b map[string]any)) map[string]any {
		b := testScorecardBody("bad")
		f(b)
		return b
	}
	question := func(b map[string]any, s, q int) map[string]any {
		return b["sections"].([]any)[s].(map[string]any)["questions"].([]any)[q].(map[string]any)
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"missing question weight", edit(func(b map[string]any) { delete(question(b, 0, 0), "weight") }), "sections[0].questions[0].weight"},
		{"missing section weight", edit(func(b map[string]any) { delete(b["sections"].([]any)[1].(map[string]any), "weight") }), "sections[1].weight"},
		{"unknown question type", edit(func(b map[string]any) { question(b, 0, 0)["type"] = "essay" }), "sections[0].questions[0].type"},
		{"rule with an empty phrase", edit(func(b map[string]any) {
			question(b, 0, 0)["rule"].(map[string]any)["phrases"] = []string{"!!"}
		}), "sections[0].questions[0].rule.phrases[0]"},
		{"rule naming an unknown metric", edit(func(b map[string]any) {
			question(b, 0, 1)["rule"].(map[string]any)["metric"] = "charm"
		}), "sections[0].questions[1].rule.metric"},
		{"rule naming an unknown disposition", edit(func(b map[string]any) {
			question(b, 0, 0)["rule"] = map[string]any{"kind": "disposition", "codes": []string{"vanished"}}
		}), "sections[0].questions[0].rule.codes[0]"},
		{"unknown engine", edit(func(b map[string]any) { question(b, 1, 0)["engine"] = "oracle" }), "sections[1].questions[0].engine"},
		{"unknown queue", edit(func(b map[string]any) { b["queues"] = []string{"mars"} }), "queues[0]"},
		{"unknown field", edit(func(b map[string]any) { b["colour"] = "red" }), "colour"},
		{"wrong type", edit(func(b map[string]any) { b["pass_score"] = "high" }), "pass_score"},
	} {
		code, body := td.call(t, td.Admin, "POST", "/api/v1/scorecards", tc.body)
		var p struct {
			Field string `json:"field"`
		}
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != tc.field {
			t.Errorf("%s: POST = %d %s, want 400 naming %s", tc.name, code, body, tc.field)
		}
	}
	// Nothing bad was stored.
	var list []qm.Scorecard
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/scorecards", nil, 200), &list)
	if len(list) != 0 {
		t.Fatalf("bad definitions were stored: %+v", list)
	}

	// Versions: create, edit, stale edit, archive.
	var sc qm.Scorecard
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/scorecards", testScorecardBody("basics"), 201), &sc)
	if sc.Version != 1 || sc.CreatedBy != "admin" {
		t.Fatalf("created %+v", sc)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/scorecards", testScorecardBody("basics"), 409)
	b := testScorecardBody("basics")
	b["version"], b["pass_score"] = 1, 80
	json.Unmarshal(td.mustCall(t, td.Admin, "PUT", "/api/v1/scorecards/basics", b, 200), &sc)
	if sc.Version != 2 || sc.PassScore != 80 {
		t.Fatalf("edited %+v", sc)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/scorecards/basics", b, 409) // edited from version 1 again
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/scorecards/basics?version=1", nil, 200), &sc)
	if sc.Version != 1 || sc.PassScore != 60 {
		t.Errorf("version 1 = %+v", sc)
	}
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/scorecards/basics", nil, 200)
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/scorecards", nil, 200), &list)
	if len(list) != 0 {
		t.Errorf("archived scorecard listed: %+v", list)
	}
	if a, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: "scorecard.update"}); len(a) != 1 {
		t.Errorf("scorecard updates audited %d times, want 1", len(a))
	}
}

func TestQMFlow(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"cards", "loans"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_qm", map[string]any{"enabled": true}, 200)
	sup := td.tokenFor(t, "sue", RoleSupervisor, "cards")
	ann := td.tokenFor(t, "ann", RoleAgent, "cards")
	bob := td.tokenFor(t, "bob", RoleAgent, "cards")
	other := td.tokenFor(t, "olga", RoleAnalyst, "loans")
	ingest := td.tokenFor(t, "pbx", RoleIngest, "cards", "loans")
	td.mustCall(t, td.Admin, "POST", "/api/v1/scorecards", testScorecardBody("basics"), 201)

	id := uploadCall(t, td, ingest, "cards", "ann", serviceCall())

	// Speaker metrics are among the results, and the interaction view.
	var res struct {
		Results map[string]json.RawMessage `json:"results"`
	}
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &res)
	var m qm.Metrics
	if err := json.Unmarshal(res.Results["speaker_metrics"], &m); err != nil {
		t.Fatalf("speaker_metrics result: %v (%s)", err, res.Results["speaker_metrics"])
	}
	if len(m.Interruptions) != 1 || m.Interruptions[0].By != "agent" || m.Parties["customer"].TalkMS != 5700+1700 {
		t.Errorf("metrics: interruptions %+v, customer talk %d", m.Interruptions, m.Parties["customer"].TalkMS)
	}
	var view interactionView
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/engagements/"+id+"/analytics", nil, 200), &view)
	if !strings.Contains(view.Summary.Text, "The agent has ordered a replacement card for the customer.") || len(view.Callouts) == 0 {
		t.Errorf("view: summary %q, callouts %+v", view.Summary.Text, view.Callouts)
	}
	td.mustCall(t, other, "GET", "/api/v1/engagements/"+id+"/analytics", nil, 404)

	// The automatic evaluation.
	evID := id + ".basics"
	var ev qm.Evaluation
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/evaluations/"+evID, nil, 200), &ev)
	got := map[string]string{}
	for _, a := range ev.Answers {
		got[a.Question] = a.Value
		if a.Justification == "" || a.Evidence == nil {
			t.Errorf("%s: justification %q evidence %v", a.Question, a.Justification, a.Evidence)
		}
	}
	if want := (map[string]string{"greet": "yes", "listen": "1", "empathy": "yes", "refund": "na"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers = %v, want %v", got, want)
	}

	// Scoping: the other queue's analyst and another agent see nothing.
	td.mustCall(t, other, "GET", "/api/v1/evaluations/"+evID, nil, 404)
	td.mustCall(t, bob, "GET", "/api/v1/evaluations/"+evID, nil, 404)
	for _, tok := range []string{other, bob} {
		var l []qm.EvaluationSummary
		json.Unmarshal(td.mustCall(t, tok, "GET", "/api/v1/evaluations", nil, 200), &l)
		if len(l) != 0 {
			t.Errorf("an outsider lists %d evaluations", len(l))
		}
		var rep struct{ Rows []qm.RollupRow }
		json.Unmarshal(td.mustCall(t, tok, "GET", "/api/v1/reports/scores", nil, 200), &rep)
		if len(rep.Rows) != 0 {
			t.Errorf("an outsider gets score rows %+v", rep.Rows)
		}
	}
	td.mustCall(t, other, "GET", "/api/v1/reports/engagements?queue=cards", nil, 403)
	var own []qm.EvaluationSummary
	json.Unmarshal(td.mustCall(t, ann, "GET", "/api/v1/evaluations", nil, 200), &own)
	if len(own) != 1 || own[0].ID != evID {
		t.Errorf("the agent lists %+v", own)
	}

	// Review, dispute, re-review, acknowledge.
	code, body := td.call(t, sup, "POST", "/api/v1/evaluations/"+evID+"/review",
		map[string]any{"items": []map[string]any{{"question": "listen", "action": "override", "value": "4"}}})
	if code != 400 || !strings.Contains(string(body), `"field":"items[0].comment"`) {
		t.Errorf("override without comment = %d %s", code, body)
	}
	td.mustCall(t, ann, "POST", "/api/v1/evaluations/"+evID+"/review", map[string]any{"items": []any{}}, 403)
	json.Unmarshal(td.mustCall(t, sup, "POST", "/api/v1/evaluations/"+evID+"/review", map[string]any{"items": []map[string]any{
		{"question": "greet", "action": "accept"},
		{"question": "empathy", "action": "override", "value": "no", "comment": "read from a script"},
	}}, 200), &ev)
	if ev.Status != qm.StatusReviewed {
		t.Errorf("status after review %s", ev.Status)
	}
	td.mustCall(t, bob, "POST", "/api/v1/evaluations/"+evID+"/dispute", map[string]any{"comment": "not mine"}, 404)
	td.mustCall(t, ann, "POST", "/api/v1/evaluations/"+evID+"/dispute", map[string]any{"comment": ""}, 400)
	json.Unmarshal(td.mustCall(t, ann, "POST", "/api/v1/evaluations/"+evID+"/dispute", map[string]any{"comment": "I did apologise"}, 200), &ev)
	if ev.Status != qm.StatusDisputed {
		t.Errorf("status after dispute %s", ev.Status)
	}
	td.mustCall(t, ann, "POST", "/api/v1/evaluations/"+evID+"/acknowledge", nil, 409)
	td.mustCall(t, sup, "POST", "/api/v1/evaluations/"+evID+"/review", map[string]any{"comment": "upheld", "items": []map[string]any{
		{"question": "empathy", "action": "override", "value": "yes", "comment": "the apology was sincere"}}}, 200)
	json.Unmarshal(td.mustCall(t, ann, "POST", "/api/v1/evaluations/"+evID+"/acknowledge", nil, 200), &ev)
	if ev.Status != qm.StatusAcknowledged || len(ev.History) != 5 {
		t.Errorf("after acknowledge: status %s, history %+v", ev.Status, ev.History)
	}
	for _, action := range []string{"evaluation.review", "evaluation.dispute", "evaluation.acknowledge"} {
		if a, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: action}); len(a) == 0 || a[0].Engagement != id {
			t.Errorf("%s audit = %+v", action, a)
		}
	}
	if a, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: "content.read"}); len(a) == 0 {
		t.Error("evaluation reads are not audited")
	}

	// Calibration: the reviewed answers against the automatic ones.
	td.mustCall(t, sup, "POST", "/api/v1/evaluations/"+evID+"/calibration", map[string]any{"answers": map[string]string{"greet": "maybe"}}, 400)
	td.mustCall(t, td.Admin, "POST", "/api/v1/evaluations/"+evID+"/calibration", map[string]any{"answers": map[string]string{"greet": "yes", "empathy": "no"}}, 200)
	var cal qm.CalibrationReport
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/reports/calibration?scorecard=basics", nil, 200), &cal)
	// greet accepted (auto yes = human yes); empathy overridden twice,
	// back to the automatic yes; the admin's calibration agrees with the
	// reviewer on greet and not on empathy.
	if cal.Reviewed != 1 || cal.AutoVsHuman[0].Pairs != 1 || cal.AutoVsHuman[0].Agree != 1 ||
		cal.BetweenEvaluators[0].Agree != 1 || cal.BetweenEvaluators[2].Pairs != 1 || cal.BetweenEvaluators[2].Agree != 0 {
		t.Errorf("calibration = %+v", cal)
	}

	// Reports: JSON and CSV.
	var rep struct{ Rows []qm.ReportRow }
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/reports/engagements?group_by=agent", nil, 200), &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].Group != "ann" || rep.Rows[0].Interruptions != 1 || rep.Rows[0].Evaluated != 1 {
		t.Errorf("engagement report = %+v", rep.Rows)
	}
	csv := string(td.mustCall(t, sup, "GET", "/api/v1/reports/scores?group_by=queue&format=csv", nil, 200))
	if !strings.HasPrefix(csv, "queue,evaluations,mean_score") || !strings.Contains(csv, "\ncards,1,") {
		t.Errorf("scores CSV:\n%s", csv)
	}
	td.mustCall(t, sup, "GET", "/api/v1/reports/scores?group_by=shoe", nil, 400)

	// Switching auto QM off hides evaluations.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/auto_qm", map[string]any{"enabled": false}, 200)
	td.mustCall(t, sup, "GET", "/api/v1/evaluations/"+evID, nil, 404)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/auto_qm", map[string]any{"enabled": true}, 200)

	// Purge removes metrics, evaluations and report records.
	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: id, Reason: "erasure"}, 200)
	td.mustCall(t, td.Admin, "GET", "/api/v1/evaluations/"+evID, nil, 404)
	var l []qm.EvaluationSummary
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/evaluations", nil, 200), &l)
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/reports/engagements", nil, 200), &rep)
	if len(l) != 0 || len(rep.Rows) != 0 {
		t.Errorf("after purge: %d evaluations, report rows %+v", len(l), rep.Rows)
	}
	if _, err := td.store.Result(t.Context(), id, "speaker_metrics"); err == nil {
		t.Error("speaker metrics survive the purge")
	}
}

// uploadTopicCalls uploads 36 calls to queue whose customers speak of
// three subjects (cards not arrived, disputed charges, passwords), and
// returns their IDs.
func uploadTopicCalls(t *testing.T, td *testDaemon, token, queue string) []string {
	t.Helper()
	subjects := [][]string{
		{"my card has not arrived yet", "when will my new card arrive", "still waiting for the card to arrive in the post", "the replacement card never arrived"},
		{"i want to dispute a charge on my statement", "there is a charge i do not recognise", "someone charged me twice for one purchase", "a shop charged me the wrong amount"},
		{"i forgot my online banking password", "the app says my password is wrong", "locked out of online banking after three password attempts", "please reset my login password"},
	}
	var ids []string
	for round := range 3 {
		for _, list := range subjects {
			for _, text := range list {
				id := uploadCall(t, td, token, queue, "", []map[string]any{
					seg("agent", 0, 2000, "thank you for calling"),
					seg("customer", 2500, 6000, text+[]string{"", " today", " again"}[round]),
				})
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func TestTopicsAcrossEngagements(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	analyst := td.tokenFor(t, "al", RoleAnalyst, "cards")
	other := td.tokenFor(t, "olga", RoleAnalyst, "loans")
	ingest := td.tokenFor(t, "pbx", RoleIngest, "cards")
	ids := uploadTopicCalls(t, td, ingest, "cards")
	code, body := td.call(t, other, "POST", "/api/v1/topics/discover", map[string]any{"queues": []string{"cards"}})
	if code != 403 || !strings.Contains(string(body), `"field":"queues[0]"`) {
		t.Errorf("discover outside scope = %d %s", code, body)
	}
	var disc struct {
		Model  uint64 `json:"model"`
		Topics int    `json:"topics"`
	}
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/topics/discover", map[string]any{}, 201), &disc)
	if disc.Topics < 3 {
		t.Fatalf("discovered %d topics", disc.Topics)
	}
	var list struct {
		Model  *uint64     `json:"model"`
		Topics []topicView `json:"topics"`
	}
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/topics", nil, 200), &list)
	total := 0
	for _, tp := range list.Topics {
		total += tp.Engagements
		if tp.Trend != "new" || tp.Label == "" {
			t.Errorf("topic %+v", tp)
		}
	}
	if list.Model == nil || *list.Model != disc.Model || total != len(ids) {
		t.Fatalf("listing model %v, %d memberships for %d engagements", list.Model, total, len(ids))
	}
	var otherList struct{ Topics []topicView }
	json.Unmarshal(td.mustCall(t, other, "GET", "/api/v1/topics", nil, 200), &otherList)
	if len(otherList.Topics) != 0 {
		t.Errorf("another queue's analyst sees %d topics", len(otherList.Topics))
	}

	// A new engagement is assigned as it ends; drill down to it.
	newID := uploadCall(t, td, ingest, "cards", "", []map[string]any{seg("customer", 0, 3000, "my new card still has not arrived")})
	topicOf := -1
	td.store.TopicMembers(t.Context(), disc.Model, func(eng string, raw []byte) error {
		if eng == newID {
			var m membership
			json.Unmarshal(raw, &m)
			for k := range m.Topics {
				fmt.Sscan(k, &topicOf)
			}
		}
		return nil
	})
	if topicOf < 0 {
		t.Fatal("the new engagement was not assigned a topic")
	}
	var detail struct {
		Label    string
		Snippets []struct{ Text string }
		Members  []struct{ Engagement string } `json:"engagements"`
	}
	path := fmt.Sprintf("/api/v1/topics/%d/%d", disc.Model, topicOf)
	json.Unmarshal(td.mustCall(t, analyst, "GET", path, nil, 200), &detail)
	found := false
	for _, m := range detail.Members {
		found = found || m.Engagement == newID
	}
	if !found || len(detail.Snippets) == 0 || !strings.Contains(detail.Snippets[0].Text, "card") {
		t.Errorf("topic %d detail: label %q snippets %+v, new engagement listed %v", topicOf, detail.Label, detail.Snippets, found)
	}
	td.mustCall(t, other, "GET", path, nil, 404)

	// Purge removes the engagement's membership.
	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: newID, Reason: "erasure"}, 200)
	td.store.TopicMembers(t.Context(), disc.Model, func(eng string, _ []byte) error {
		if eng == newID {
			t.Error("a purged engagement keeps its topic membership")
		}
		return nil
	})

	// Discovering again keeps the newest two models of the scope.
	for range 2 {
		td.mustCall(t, analyst, "POST", "/api/v1/topics/discover", map[string]any{"queues": []string{"cards"}}, 201)
	}
	models, err := td.store.TopicModels(t.Context())
	if err != nil || len(models) != 2 || models[0].ID == disc.Model {
		t.Errorf("models after two more discoveries = %+v, %v; want the newest two", models, err)
	}
	td.mustCall(t, analyst, "GET", path, nil, 404)
}

// TestLiveMetricsEvents: a live call publishes metrics events as it goes,
// and a reader does not see them once speaker metrics are switched off.
func TestLiveMetricsEvents(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	ingest := td.tokenFor(t, "pbx", RoleIngest, "cards")
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Channel: "voice"}, 201), &e)
	l, ok := td.hub.Get(e.ID)
	if !ok {
		t.Fatal("engagement not live")
	}
	for _, s := range []store.Segment{
		{Speaker: "agent", StartMs: 0, EndMs: 3000, Text: "thank you for calling"},
		{Speaker: "customer", StartMs: 2000, EndMs: 6000, Text: "my card has not arrived"},
		{Speaker: "agent", StartMs: 9000, EndMs: 12000, Text: "let me check that for you"},
	} {
		if err := l.SubmitWait(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	events := td.URL + "/api/v1/engagements/" + e.ID + "/events"
	var metrics []sseEvent
	for _, ev := range readSSE(t, events, td.Admin, "", 0, 3*time.Second) {
		if ev.Type == EventMetrics {
			metrics = append(metrics, ev)
		}
	}
	// The first utterance publishes, then every 5 s of media: 0-3 s and 9-12 s.
	if len(metrics) != 2 {
		t.Fatalf("metrics events = %+v, want 2", metrics)
	}
	var last struct {
		AtMS    int64      `json:"at_ms"`
		Metrics qm.Metrics `json:"metrics"`
	}
	json.Unmarshal([]byte(metrics[1].Data), &last)
	if last.AtMS != 12000 || len(last.Metrics.Interruptions) != 1 || last.Metrics.Parties["agent"].TalkMS != 6000 {
		t.Errorf("last metrics event = %+v", last)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/speaker_metrics", map[string]any{"enabled": false}, 200)
	for _, ev := range readSSE(t, events, td.Admin, "", 0, 2*time.Second) {
		if ev.Type == EventMetrics {
			t.Errorf("a metrics event is shown with speaker metrics off: %+v", ev)
		}
	}
	l.End("test")
}

// generateRequests sums the Ollama provider's text generation calls.
func generateRequests(t *testing.T, td *testDaemon) float64 {
	t.Helper()
	_, body := td.call(t, "", "GET", "/metrics", nil)
	var n float64
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, `earshot_inference_ollama_requests_total{feature="generate"`) {
			var v float64
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
			n += v
		}
	}
	return n
}

// TestTopicLabelsByModel: with a local language model serving text
// generation (a real Ollama server with the random-weight test model,
// whose labels are noise: only the checks can be asserted, not the
// wording), a discovery asks it to label the topics; a topic keeps a
// model's label only when it is short and names the model, else its
// keywords. With the server gone, the discovery still succeeds with
// keyword labels and the failure is counted.
func TestTopicLabelsByModel(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	td := startDaemon(t, withOllama(srv, ollama.FeatureGenerate))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	// The interaction view's summary would ask the model for every call.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/interaction_analytics", map[string]any{"enabled": false}, 200)
	analyst := td.tokenFor(t, "al", RoleAnalyst, "cards")
	uploadTopicCalls(t, td, td.tokenFor(t, "pbx", RoleIngest, "cards"), "cards")

	check := func(modelUp bool) {
		t.Helper()
		var list struct {
			Topics []topicView `json:"topics"`
		}
		json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/topics", nil, 200), &list)
		if len(list.Topics) < 3 {
			t.Fatalf("%d topics, want 3 or more", len(list.Topics))
		}
		for _, tp := range list.Topics {
			t.Logf("topic %d: %q (model %q)", tp.ID, tp.Label, tp.LabelModel)
			words := len(strings.Fields(tp.Label))
			switch {
			case tp.LabelModel == "" && tp.Label != strings.Join(tp.Keywords[:min(3, len(tp.Keywords))], ", "):
				t.Errorf("topic %d: label %q is neither the model's nor its keywords %v", tp.ID, tp.Label, tp.Keywords)
			case tp.LabelModel != "" && (!modelUp || tp.LabelModel != "ollama" || words == 0 || words > 6 || len([]rune(tp.Label)) > 60 ||
				strings.ContainsAny(tp.Label, "<>?\n")):
				t.Errorf("topic %d: model label %q by %q kept (server up: %t)", tp.ID, tp.Label, tp.LabelModel, modelUp)
			}
		}
	}
	before := generateRequests(t, td)
	td.mustCall(t, analyst, "POST", "/api/v1/topics/discover", map[string]any{}, 201)
	if after := generateRequests(t, td); after <= before {
		t.Errorf("generation requests %v before the discovery, %v after: the model was not asked for labels", before, after)
	}
	check(true)

	srv.Stop()
	td.mustCall(t, analyst, "POST", "/api/v1/topics/discover", map[string]any{}, 201)
	check(false)
	if v := metricValue(t, td, `earshot_qm_failures_total{stage="topic_labels"}`); v == "" || v == "0" {
		t.Errorf("failed labelling counted %q times, want at least 1", v)
	}
}

// TestLiveMetricsMediaClock drives the live speaker metrics of a call fed
// by the pipeline: ticks are timed on the call's media clock (the arrival
// of its first media packet), not by the engagement's age, nothing is
// published before media arrives, and a tick's figures count the silence
// since the last turn.
func TestLiveMetricsMediaClock(t *testing.T) {
	td := startDaemon(t, nil)
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	e := &store.Engagement{ID: "e-clock", Queue: "cards", Channel: "voice", Start: start}
	var origin time.Time // the first packet: none yet
	td.quality.origins.Store(e.ID, func() time.Time { return origin })
	defer td.quality.origins.Delete(e.ID)
	s, ok := td.quality.Start(e).(*liveMetrics)
	if !ok {
		t.Fatal("no live metrics session for a call")
	}
	type event struct {
		AtMS    int64
		Metrics qm.Metrics
	}
	var got []event
	emit := func(typ string, data any) {
		if typ != EventMetrics {
			return
		}
		d := data.(map[string]any)
		got = append(got, event{d["at_ms"].(int64), d["metrics"].(qm.Metrics)})
	}
	s.Tick(t.Context(), 30000, emit)
	if len(got) != 0 {
		t.Fatalf("published before the first media packet: %+v", got)
	}
	origin = start.Add(6 * time.Second) // the pipeline opened 6 s after the engagement
	conv := []inference.Utterance{{Party: "agent", StartMS: 0, EndMS: 3000, Text: "thank you for calling"}}
	s.OnUtterance(t.Context(), conv, emit)
	// 15 s of engagement age is 9 s of media: under two periods since
	// the event at 3 s, nothing.
	s.Tick(t.Context(), 15000, emit)
	if len(got) != 1 || got[0].AtMS != 3000 {
		t.Fatalf("events = %+v, want the first utterance's only", got)
	}
	// 20 s of age is 14 s of media: the silence from 3 s to 14 s counts.
	s.Tick(t.Context(), 20000, emit)
	if len(got) != 2 {
		t.Fatalf("events = %+v, want a tick's at 14 s of media", got)
	}
	if last := got[1]; last.AtMS != 14000 || last.Metrics.DurationMS != 14000 || last.Metrics.NonTalkMS != 11000 {
		t.Errorf("tick event at %d ms: duration %d ms, non-talk %d ms; want 14000, 14000, 11000",
			last.AtMS, last.Metrics.DurationMS, last.Metrics.NonTalkMS)
	}
}
