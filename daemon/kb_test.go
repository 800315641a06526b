package daemon

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference/kb"
)

// TestKnowledgeBase imports an archive with good and bad items, searches,
// answers, and checks live suggestions on a chat engagement.
func TestKnowledgeBase(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"lost-card.md":   "# Reporting a lost or stolen card\n\nBlock the card at once in the card screen, then order a replacement card. The replacement arrives in five working days.",
		"address.html":   "<html><head><title>Changing a postal address</title><script>alert(1)</script></head><body><p>Verify the customer, then update the postal address in the profile. A letter confirms the change.</p></body></html>",
		"broken.html":    "<html><body><p>Unclosed <b>tags and an overdraft fee refund policy: fees are refunded once a year on request.",
		"garbage.md":     "\x00\x01\x02\x03binary\x00\xff",
		"notes/wire.txt": "International wire transfers\n\nWire transfers abroad take two to four business days and cost twenty five dollars.",
	} {
		f, _ := zw.Create(name)
		f.Write([]byte(body))
	}
	zw.Close()
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/kb/import", bytes.NewReader(buf.Bytes()))
	req.Header.Set("Authorization", "Bearer "+td.Admin)
	req.Header.Set("Content-Type", "application/zip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("import = %d %v", resp.StatusCode, rep)
	}
	raw, _ := json.Marshal(rep)
	if !strings.Contains(string(raw), "garbage.md") {
		t.Errorf("import report %s does not name the binary item", raw)
	}
	var list []struct{ ID, Title string }
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/kb/articles", nil, 200), &list)
	if len(list) != 4 {
		t.Fatalf("articles after import = %+v, want 4 (the binary file refused)", list)
	}
	var hits []struct {
		Passage struct{ ArticleID, Title string }
	}
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/kb/search?q=my+card+was+stolen", nil, 200), &hits)
	if len(hits) == 0 || !strings.Contains(hits[0].Passage.Title, "lost or stolen") {
		t.Errorf("search for a stolen card = %+v", hits)
	}
	var ans struct {
		Text      string
		Citations []struct{ ArticleID string }
	}
	json.Unmarshal(td.mustCall(t, agent, "POST", "/api/v1/kb/answer", map[string]string{"question": "how long does an international wire take"}, 200), &ans)
	if !strings.Contains(ans.Text, "two to four business days") || len(ans.Citations) == 0 {
		t.Errorf("answer = %+v", ans)
	}
	td.mustCall(t, agent, "POST", "/api/v1/kb/answer", map[string]string{"question": " "}, 400)

	// Live: the customer's words bring up the right article once.
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Hi, somebody stole my wallet and my card is gone"},
		messageRequest{"agent", "I am sorry to hear that, let me help you block it"},
		messageRequest{"customer", "Yes please block the stolen card"})
	ev := events(t, td, td.Admin, id)
	if len(ev[EventKBSuggestions]) == 0 || !strings.Contains(ev[EventKBSuggestions][0].Data, "lost or stolen") {
		t.Fatalf("kb.suggestions = %+v", ev[EventKBSuggestions])
	}
	n := 0
	for _, e := range ev[EventKBSuggestions] {
		n += strings.Count(e.Data, "Reporting a lost or stolen card")
	}
	if n != 1 {
		t.Errorf("the same article was suggested %d times, want once", n)
	}

	// Articles survive a restart: the index is rebuilt from the store.
	stored, err := td.store.Articles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := kb.New(kb.DefaultConfig(), nil, prometheus.NewRegistry(), kb.BuiltinSynonyms(), nil)
	arts := make([]kb.Article, len(stored))
	for i, a := range stored {
		arts[i] = kb.Article(a)
	}
	if n, errs := idx.Load(t.Context(), arts, 2); n != 4 || len(errs) != 0 {
		t.Errorf("rebuilt index from the store: %d articles, errors %v; want 4", n, errs)
	}
}

// TestAskAnything asks questions whose answers are in stored engagements,
// and checks that callers never get segments outside their scope.
func TestAskAnything(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"cards", "loans"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	sup := td.tokenFor(t, "sam", RoleSupervisor, "cards")
	loansSup := td.tokenFor(t, "lou", RoleSupervisor, "loans")
	analyst := td.tokenFor(t, "ann", RoleAnalyst, "cards")
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	start := time.Now().UTC().Add(-time.Minute)
	e1 := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "My new card has not arrived after two weeks"},
		messageRequest{"agent", "I have reissued it with express delivery, it arrives on Thursday"})
	chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"},
		messageRequest{"customer", "Can I raise the limit on my credit card to five thousand"},
		messageRequest{"agent", "The limit is now five thousand euros"})
	secret := chat(t, td, td.Admin, engagementRequest{Queue: "loans", Channel: "chat"},
		messageRequest{"customer", "My card has not arrived and I need the mortgage papers"},
		messageRequest{"agent", "The mortgage papers go out by courier on Monday"})

	type answer struct {
		Text      string
		Citations []struct {
			EngagementID  string `json:"engagement_id"`
			Speaker, Text string
		}
	}
	ask := func(token string, req askRequest, want int) answer {
		t.Helper()
		var a answer
		json.Unmarshal(td.mustCall(t, token, "POST", "/api/v1/ask", req, want), &a)
		return a
	}
	a := ask(sup, askRequest{Question: "when will the replacement card arrive", Queue: "cards", From: start}, 200)
	if len(a.Citations) == 0 || a.Citations[0].EngagementID != e1 || !strings.Contains(a.Text, "Thursday") {
		t.Errorf("answer = %+v, want the Thursday delivery from %s", a, e1)
	}
	a = ask(analyst, askRequest{Question: "what is the new credit limit", Queue: "cards"}, 200)
	if !strings.Contains(a.Text, "five thousand") {
		t.Errorf("limit answer = %+v", a)
	}
	for _, c := range ask(sup, askRequest{Question: "card not arrived mortgage papers courier", Queue: "cards"}, 200).Citations {
		if c.EngagementID == secret {
			t.Errorf("a cards supervisor got a segment of the loans engagement: %+v", c)
		}
	}
	ask(sup, askRequest{Question: "mortgage papers", Queue: "loans"}, 403)
	ask(sup, askRequest{Question: "mortgage papers", Engagement: secret}, 404)
	if a := ask(loansSup, askRequest{Question: "when do the mortgage papers go out", Queue: "loans"}, 200); !strings.Contains(a.Text, "Monday") {
		t.Errorf("loans answer = %+v", a)
	}
	td.mustCall(t, agent, "POST", "/api/v1/ask", askRequest{Question: "anything", Queue: "cards"}, 403)
	ask(sup, askRequest{Question: ""}, 400)

	// Without a queue, a question searches the caller's own scope: the
	// cards supervisor finds the cards engagements and never the loans one;
	// the administrator's scope is every queue.
	a = ask(sup, askRequest{Question: "when will the replacement card arrive"}, 200)
	if len(a.Citations) == 0 || a.Citations[0].EngagementID != e1 {
		t.Errorf("answer without a queue = %+v, want %s from the caller's queue", a, e1)
	}
	for _, c := range ask(sup, askRequest{Question: "card not arrived mortgage papers courier"}, 200).Citations {
		if c.EngagementID == secret {
			t.Errorf("a cards supervisor asking without a queue got the loans engagement: %+v", c)
		}
	}
	if a := ask(td.Admin, askRequest{Question: "when do the mortgage papers go out"}, 200); !strings.Contains(a.Text, "Monday") {
		t.Errorf("administrator's answer without a queue = %+v", a)
	}
	// The feature is decided on the queue of the engagements read, however
	// the question names them.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/ask_anything", map[string]any{"enabled": false}, 200)
	for _, req := range []askRequest{
		{Question: "when will the replacement card arrive", Queue: "cards"},
		{Question: "when will the replacement card arrive", Engagement: e1},
		{Question: "when will the replacement card arrive"},
	} {
		var pr Problem
		json.Unmarshal(td.mustCall(t, sup, "POST", "/api/v1/ask", req, 403), &pr)
		if !strings.Contains(pr.Detail, "ask_anything is switched off") {
			t.Errorf("ask %+v with the feature off for cards: problem %+v, want the reason", req, pr)
		}
	}
	for _, c := range ask(td.Admin, askRequest{Question: "replacement card arrive Thursday mortgage papers Monday"}, 200).Citations {
		if c.EngagementID != secret {
			t.Errorf("with ask_anything off for cards, the administrator's answer cites %s of cards", c.EngagementID)
		}
	}
	var audit []struct{ Actor, Action string }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?action=ask", nil, 200), &audit)
	if len(audit) < 4 {
		t.Errorf("ask audit entries = %d, want one per answered question", len(audit))
	}
}

// TestKnowledgeStaysInItsQueue: an article restricted to one queue reaches
// no reader of another queue by any read path, with or without a queue in
// the request: search, answer, the article itself, live suggestions.
func TestKnowledgeStaysInItsQueue(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"q1", "q2"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	outsider := td.tokenFor(t, "ana", RoleAgent, "q1")
	insider := td.tokenFor(t, "bob", RoleAgent, "q2")
	sup := td.tokenFor(t, "sam", RoleSupervisor, "q1")
	const secret = "the retention desk may waive the zephyr fee"
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/retention", map[string]any{"title": "Zephyr fee waiver",
		"body": "Only for q2: " + secret + " twice a year.", "queue": "q2"}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/general", map[string]any{"title": "Zephyr fee",
		"body": "The zephyr fee is charged monthly on premium accounts."}, 200)
	// Unrelated articles give the words of the two their weight.
	for i, topic := range []string{"Opening a savings account online", "Ordering a new cheque book", "Changing your postal address",
		"Setting up a standing order", "Travelling abroad with your card", "Forgotten online banking password"} {
		td.mustCall(t, td.Admin, "PUT", fmt.Sprintf("/api/v1/kb/articles/filler-%d", i), map[string]any{"title": topic,
			"body": topic + " takes a few minutes in the app or at a branch."}, 200)
	}
	question := map[string]string{"question": "can the zephyr fee be waived by the retention desk"}

	for _, tok := range []string{outsider, sup} {
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/kb/answer", question},
			{"GET", "/api/v1/kb/search?q=zephyr+fee+waiver+retention+desk", nil},
		} {
			body := td.mustCall(t, tok, call.method, call.path, call.body, 200)
			if strings.Contains(string(body), "waive") || strings.Contains(string(body), `"retention"`) {
				t.Errorf("%s %s without a queue leaks the q2 article to a q1 reader: %s", call.method, call.path, body)
			}
			if !strings.Contains(string(body), "general") {
				t.Errorf("%s %s lost the article for every queue: %s", call.method, call.path, body)
			}
		}
		td.mustCall(t, tok, "POST", "/api/v1/kb/answer", map[string]string{"question": question["question"], "queue": "q2"}, 403)
		td.mustCall(t, tok, "GET", "/api/v1/kb/search?q=zephyr&queue=q2", nil, 403)
		td.mustCall(t, tok, "GET", "/api/v1/kb/articles/retention", nil, 404)
	}
	// The q2 reader and the administrator get it, with or without a queue.
	for _, tok := range []string{insider, td.Admin} {
		if body := td.mustCall(t, tok, "POST", "/api/v1/kb/answer", question, 200); !strings.Contains(string(body), "waive") {
			t.Errorf("answer for a q2 reader lacks the q2 article: %s", body)
		}
	}
	// Live suggestions on a q1 engagement never bring up the q2 article.
	id := chat(t, td, td.Admin, engagementRequest{Queue: "q1", Agent: "ana", Channel: "chat"},
		messageRequest{"customer", "Can the retention desk waive the zephyr fee for me?"},
		messageRequest{"customer", "I heard the zephyr fee waiver exists at the retention desk"})
	ev := events(t, td, td.Admin, id)
	if len(ev[EventKBSuggestions]) == 0 {
		t.Fatal("no kb.suggestions on the q1 engagement; the test shows nothing")
	}
	for _, e := range ev[EventKBSuggestions] {
		if strings.Contains(e.Data, "retention") {
			t.Errorf("a q1 engagement was suggested the q2 article: %s", e.Data)
		}
	}
}
