package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/store"
)

// leakCall is a conversation that brings out every feature's output:
// negative sentiment, an escalation phrase, a trained intent with a
// catalogue action, knowledge-base matches, a follow-up task, a
// disposition.
var leakCall = []messageRequest{
	{"customer", "Hi, my card was stolen yesterday and I was charged twice for the same order on my credit card."},
	{"agent", "I am sorry about that. Let me look at your recent transactions."},
	{"customer", "This is ridiculous and awful, it is the third time this happens. I want to speak to a manager right now."},
	{"agent", "I understand. I will refund the duplicate charge today and I will email you the confirmation by Friday."},
	{"customer", "Fine. This is terrible service. If this happens again I will cancel my account."},
}

// leakAction is the catalogue's action for the lost_card intent.
const leakAction = "Block the card and order a replacement"

// leakOutputs is everything Earshot shows of one engagement.
type leakOutputs struct {
	events     map[string][]sseEvent
	escalation string // the engagement's row of GET /escalations while live ("" if absent)
	results    map[string]json.RawMessage
	preview    string // GET /preview for its customer and queue (body)
	previewOK  bool
	sink       sdk.Event // what a sink with every scope receives
}

func (o leakOutputs) all() string {
	raw, _ := json.Marshal(o.sink)
	var b strings.Builder
	for _, evs := range o.events {
		for _, e := range evs {
			b.WriteString(e.Data)
		}
	}
	for _, r := range o.results {
		b.Write(r)
	}
	return b.String() + o.escalation + o.preview + string(raw)
}

// shows lists where an engagement's outputs reveal each feature's result.
var shows = map[Feature]func(o leakOutputs) []string{
	"sentiment": func(o leakOutputs) []string {
		var out []string
		if len(o.events[EventSentiment]) > 0 {
			out = append(out, "sentiment events")
		}
		// The queue names hold "sentiment"; these are the sentiment's marks.
		marks := []string{"negative_trend", "sentiment_drop", "sentiment_trend", "customer sentiment"}
		has := func(s string) bool {
			return slices.ContainsFunc(marks, func(m string) bool { return strings.Contains(s, m) })
		}
		if has(o.eventsOf(EventEscalation)) {
			out = append(out, "escalation event reasons")
		}
		if has(o.escalation) {
			out = append(out, "escalation list")
		}
		return out
	},
	"next_best_action": func(o leakOutputs) []string {
		var out []string
		if len(o.events[EventNextBestAction]) > 0 {
			out = append(out, "next_best_action events")
		}
		if strings.Contains(strings.ReplaceAll(o.all(), o.eventsOf(EventNextBestAction), ""), leakAction) {
			out = append(out, "the catalogue's action in another output")
		}
		return out
	},
	"top_escalation": func(o leakOutputs) []string {
		var out []string
		if len(o.events[EventEscalation]) > 0 {
			out = append(out, "escalation events")
		}
		if o.escalation != "" {
			out = append(out, "escalation list")
		}
		return out
	},
	"kb_retrieval": func(o leakOutputs) []string {
		if len(o.events[EventKBSuggestions]) > 0 {
			return []string{"kb.suggestions events"}
		}
		return nil
	},
	"engagement_summary": func(o leakOutputs) []string {
		var out []string
		if o.results["engagement_summary"] != nil {
			out = append(out, "results")
		}
		if o.sink.Engagement.Summary != "" {
			out = append(out, "sink summary")
		}
		if strings.Contains(o.preview, "Customer:") {
			out = append(out, "preview")
		}
		return out
	},
	"smart_notes": func(o leakOutputs) []string { return o.resultShows("smart_notes") },
	"follow_up_tasks": func(o leakOutputs) []string {
		out := o.resultShows("follow_up_tasks")
		var n inference.Notes
		json.Unmarshal(o.results["smart_notes"], &n)
		if len(n.FollowUps) > 0 || strings.Contains(n.Outcome, "ollow-up") {
			out = append(out, "draft note")
		}
		if strings.Contains(o.sink.Engagement.Results["smart_notes"], "follow_ups\":[") {
			out = append(out, "sink's draft note")
		}
		if strings.Contains(o.preview, "follow-up") {
			out = append(out, "preview")
		}
		return out
	},
	"recommended_disposition": func(o leakOutputs) []string { return o.resultShows("recommended_disposition") },
	"topic_detection":         func(o leakOutputs) []string { return o.resultShows("topic_detection") },
	"engagement_preview": func(o leakOutputs) []string {
		if o.previewOK {
			return []string{"preview"}
		}
		return nil
	},
}

// resultShows says whether the stored result of a feature shows in the
// results API and in the sink event.
func (o leakOutputs) resultShows(feature string) []string {
	var out []string
	if o.results[feature] != nil {
		out = append(out, "results")
	}
	if _, ok := o.sink.Engagement.Results[feature]; ok {
		out = append(out, "sink")
	}
	return out
}

func (o leakOutputs) eventsOf(typ string) string {
	var b strings.Builder
	for _, e := range o.events[typ] {
		b.WriteString(e.Data)
	}
	return b.String()
}

// TestNoFeatureLeaksThroughAnother switches each feature off for one queue
// and runs the same engagement in every queue: the feature that is off
// shows in no output of its queue's engagement (events, escalation list,
// results, preview, sink event), and every other feature shows in some.
func TestNoFeatureLeaksThroughAnother(t *testing.T) {
	td := startDaemon(t, nil)
	var features []Feature
	for f := range shows {
		features = append(features, f)
	}
	slices.Sort(features)
	queues := []string{"control"}
	for _, f := range features {
		queues = append(queues, "off-"+string(f))
	}
	for _, q := range queues {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	for _, f := range features {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/off-"+string(f)+"/"+string(f), map[string]any{"enabled": false}, 200)
	}
	agent := td.tokenFor(t, "ana", RoleAgent, queues...)
	sup := td.tokenFor(t, "sam", RoleSupervisor, queues...)
	ingest := td.tokenFor(t, "pbx", RoleIngest, queues...)
	trainIntents(t, td)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/next-best-actions", []map[string]any{{"intent": "lost_card", "action": leakAction}}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/dispositions", []map[string]any{
		{"code": "refund", "name": "Refund issued", "description": "a duplicate charge was refunded to the customer"},
		{"code": "address", "name": "Address changed", "description": "the customer's postal address was updated"},
	}, 200)
	for i, a := range []struct{ title, body string }{
		{"Refunding a duplicate card charge", "When a customer was charged twice for the same order, refund the duplicate charge and email a confirmation."},
		{"Reporting a stolen card", "Block a stolen card at once and order a replacement card."},
		{"Opening a savings account", "Savings accounts open online in a few minutes."},
		{"Ordering a cheque book", "Cheque books arrive by post within a week."},
		{"Changing a postal address", "Verify the customer, then update the postal address."},
		{"Setting up a standing order", "Standing orders are set up in the app."},
	} {
		td.mustCall(t, td.Admin, "PUT", fmt.Sprintf("/api/v1/kb/articles/kb-%d", i), map[string]any{"title": a.title, "body": a.body}, 200)
	}

	ids := map[string]string{}
	outs := map[string]*leakOutputs{}
	for _, q := range queues {
		var e store.Engagement
		json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements",
			engagementRequest{Queue: q, Agent: "ana", Channel: "chat", CustomerRef: "C-" + q}, 201), &e)
		for _, m := range leakCall {
			td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/messages", m, 201)
		}
		ids[q] = e.ID
		outs[q] = &leakOutputs{}
	}
	// The escalation list, while the engagements are live.
	code, body := td.call(t, sup, "GET", "/api/v1/escalations", nil)
	if code != 200 {
		t.Fatalf("escalations = %d %s", code, body)
	}
	var rows []json.RawMessage
	json.Unmarshal(body, &rows)
	for _, row := range rows {
		var v struct{ Engagement, Queue string }
		json.Unmarshal(row, &v)
		if o := outs[v.Queue]; o != nil && v.Engagement == ids[v.Queue] {
			o.escalation = string(row)
		}
	}
	for _, q := range queues {
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+ids[q]+"/end", nil, 202)
	}
	for _, q := range queues {
		l, _ := td.hub.Get(ids[q])
		select {
		case <-l.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("engagement in %s did not finish", q)
		}
	}
	for _, q := range queues {
		o := outs[q]
		o.events = events(t, td, td.Admin, ids[q])
		var res struct{ Results map[string]json.RawMessage }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+ids[q]+"/results", nil, 200), &res)
		o.results = res.Results
		code, body := td.call(t, agent, "GET", "/api/v1/preview?customer_ref=C-"+q+"&queue="+q, nil)
		o.preview, o.previewOK = string(body), code == 200
		if code != 200 && code != 403 {
			t.Errorf("preview in %s = %d %s", q, code, body)
		}
		ev, err := td.sinks.event(context.Background(), store.OutboxEntry{EventID: ids[q] + ".ended", Type: SinkEventEnded,
			Engagement: ids[q], Created: time.Now()}, sdk.Scopes)
		if err != nil {
			t.Fatal(err)
		}
		o.sink = ev
	}

	// The control queue shows everything, sentiment-drawn escalation
	// reasons included: the matrix below can fail.
	if !strings.Contains(outs["control"].eventsOf(EventEscalation), "negative_trend") {
		t.Errorf("control: escalation events %s lack the sentiment reason the test looks for", outs["control"].eventsOf(EventEscalation))
	}
	for _, q := range queues {
		for _, g := range features {
			where := shows[g](*outs[q])
			off := q == "off-"+string(g)
			switch {
			case off && len(where) > 0:
				t.Errorf("%s is off for queue %s but shows in: %s", g, q, strings.Join(where, ", "))
			case !off && len(where) == 0:
				t.Errorf("%s is on for queue %s but shows nowhere", g, q)
			}
		}
	}
}

// TestPreviewScope: a preview carries verbatim customer content only from
// engagements its reader may read. Another agent of the same queue learns
// when the customer called, about what (intent names) and how it ended,
// never what was said; and the feature is decided on the queue of each
// engagement read.
func TestPreviewScope(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"cards", "loans"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	bob := td.tokenFor(t, "bob", RoleAgent, "cards", "loans")
	ana := td.tokenFor(t, "ana", RoleAgent, "cards", "loans")
	sup := td.tokenFor(t, "sam", RoleSupervisor, "cards")
	trainIntents(t, td)
	const account = "ACC-99887766"
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "bob", Channel: "chat", CustomerRef: "C-7"},
		messageRequest{"customer", "Hello, my card was stolen and my account number is " + account + " please help."},
		messageRequest{"agent", "I will send you a replacement card by Friday."},
		messageRequest{"customer", "Someone took my card, I need it blocked."})
	td.mustCall(t, bob, "PUT", "/api/v1/engagements/"+id+"/disposition", map[string]string{"code": "nope"}, 400) // no codes: nothing saved

	type preview struct {
		Text      string
		Count     int
		OpenTasks []string `json:"open_tasks"`
	}
	get := func(token, query string, want int) preview {
		t.Helper()
		var pv preview
		json.Unmarshal(td.mustCall(t, token, "GET", "/api/v1/preview?customer_ref=C-7"+query, nil, want), &pv)
		return pv
	}
	// The agent who handled it, and the queue's supervisor, may read it.
	for name, tok := range map[string]string{"bob": bob, "sam": sup} {
		pv := get(tok, "&queue=cards", 200)
		if pv.Count != 1 || !strings.Contains(pv.Text, account) || len(pv.OpenTasks) == 0 {
			t.Errorf("%s's preview = %+v, want the summary and the open task", name, pv)
		}
	}
	// Another agent of the queue gets no verbatim text.
	pv := get(ana, "&queue=cards", 200)
	if pv.Count != 1 || strings.Contains(pv.Text, account) || strings.Contains(pv.Text, "stolen") || strings.Contains(pv.Text, "Customer:") ||
		len(pv.OpenTasks) != 0 {
		t.Errorf("another agent's preview = %+v, want no customer text", pv)
	}
	if !strings.Contains(pv.Text, "lost_card") || !strings.Contains(pv.Text, "1 more open follow-up") {
		t.Errorf("another agent's preview = %q, want the intent and a count of open follow-ups", pv.Text)
	}
	// The feature is decided on the engagement's queue, not the request's.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/engagement_preview", map[string]any{"enabled": false}, 200)
	for _, query := range []string{"", "&queue=cards"} {
		var pr Problem
		json.Unmarshal(td.mustCall(t, bob, "GET", "/api/v1/preview?customer_ref=C-7"+query, nil, 403), &pr)
		if !strings.Contains(pr.Detail, "engagement_preview is switched off") {
			t.Errorf("preview%s with the feature off for cards: %+v, want the reason", query, pr)
		}
	}
	if pv := get(bob, "&queue=loans", 200); pv.Count != 0 || strings.Contains(pv.Text, account) {
		t.Errorf("preview asked for loans draws on the cards engagement: %+v", pv)
	}
}

// TestChatTextIntegrity runs chats in six scripts through the API: no
// output (events, results, preview) splits a character.
func TestChatTextIntegrity(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "q")
	chats := map[string][]string{
		"es":    {"¿Me pueden ayudar? Me cobraron dos veces y quiero hablar con un gerente.", "¡Claro! Le enviaré la confirmación el viernes."},
		"de":    {"Überweisung fehlgeschlagen, äußerst ärgerlich.", "Über die Gebühr sprechen wir gleich."},
		"tr":    {"İyi günler, kartım çalındı.", "Şifrenizi değiştirmeniz gerekiyor."},
		"el":    {"Ένα λεπτό, η κάρτα μου χρεώθηκε δύο φορές.", "Ελέγχω τη χρέωση τώρα."},
		"zh":    {"你好，我的信用卡被扣了两次钱。", "好的，我现在查一下。"},
		"emoji": {"😡 charged twice 💳 this is the third time I call", "🙏 I will refund it today"},
	}
	for lang, lines := range chats {
		id := chat(t, td, td.Admin, engagementRequest{Queue: "q", Agent: "ana", Channel: "chat", CustomerRef: "C-" + lang},
			messageRequest{"customer", lines[0]}, messageRequest{"agent", lines[1]})
		var all strings.Builder
		for _, evs := range events(t, td, td.Admin, id) {
			for _, e := range evs {
				all.WriteString(e.Data)
			}
		}
		results := td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200)
		all.Write(results)
		all.Write(td.mustCall(t, td.Admin, "GET", "/api/v1/preview?customer_ref=C-"+lang, nil, 200))
		if out := all.String(); strings.Contains(out, `\ufffd`) || strings.ContainsRune(out, '\uFFFD') {
			t.Errorf("%s: an output holds a broken character: %s", lang, out)
		}
		if lang == "es" && !strings.Contains(string(results), "¿Me pueden ayudar?") {
			t.Errorf("the Spanish summary lost its opening question: %s", results)
		}
	}
}
