package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/store"
)

// botEnv is a daemon with the card-services bot published: the cards
// queue, an ingest source, an agent and a supervisor of the queue, the
// card-services skill plugin (a real plugin process built from
// testdata/cardskills), a knowledge-base article about fees, and the
// virtual agent switched on for the queue.
type botEnv struct {
	td                  *testDaemon
	ingest, agent, sup  string
	analyst, otherAgent string
	record, mode        string
}

const cardsManifest = `{"name":"card-services","version":"1.0.0","executable":"card-services","kinds":["skill"],"scopes":["customer_ref"]}`

func startBotEnv(t *testing.T, mod func(*Config)) *botEnv {
	t.Helper()
	td := startDaemon(t, func(c *Config) {
		c.Engagements.MaxLive = 256
		if mod != nil {
			mod(c)
		}
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	env := &botEnv{td: td}
	env.ingest = td.tokenFor(t, "web", RoleIngest, "cards", "loans")
	env.agent = td.tokenFor(t, "ana", RoleAgent, "cards")
	env.otherAgent = td.tokenFor(t, "leo", RoleAgent, "loans")
	env.sup = td.tokenFor(t, "sue", RoleSupervisor, "cards")
	env.analyst = td.tokenFor(t, "al", RoleAnalyst, "cards")
	share := pluginShareDir(t)
	env.record, env.mode = filepath.Join(share, "calls.jsonl"), filepath.Join(share, "mode")
	os.WriteFile(env.mode, []byte("ok"), 0o666)
	installTestPlugin(t, td, "./daemon/testdata/cardskills", "card-services", cardsManifest, map[string]any{
		"enabled": true, "approved_scopes": []string{"customer_ref"},
		"config":      map[string]string{"record": env.record, "mode_file": env.mode},
		"write_paths": []string{share},
	})
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/kb-fees", map[string]any{"title": "Card fees",
		"body": "Using your card abroad costs a 2% foreign transaction fee. Cash withdrawals at ATMs are free up to 200 EUR a month, then cost 2% of the amount. A replacement card costs 5 EUR."}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/virtual_agent", map[string]any{"enabled": true}, 200)
	env.importBot(t, "../inference/bot/testdata/card-services.yaml")
	return env
}

// importBot creates a bot from a YAML file and publishes it.
func (env *botEnv) importBot(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code, body := env.td.callRaw(t, env.td.Admin, "POST", "/api/v1/bots/import?publish=true", "application/yaml", string(raw))
	if code != 200 {
		t.Fatalf("import %s = %d %s", path, code, body)
	}
}

// callRaw sends a body with a content type.
func (td *testDaemon) callRaw(t *testing.T, token, method, path, ctype, body string) (int, []byte) {
	t.Helper()
	req := mustRequest(t, method, td.URL+path, body)
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp.StatusCode, []byte(b.String())
}

// eventStream follows an engagement's events in the background.
type eventStream struct {
	ch     chan sseEvent
	cancel context.CancelFunc
}

func (td *testDaemon) follow(t *testing.T, id, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", td.URL+"/api/v1/engagements/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("events of %s = %d", id, resp.StatusCode)
	}
	s := &eventStream{ch: make(chan sseEvent, 256), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(s.ch)
		var cur sseEvent
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.Type != "" {
					s.ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.ID, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				cur.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.Data = line[6:]
			}
		}
	}()
	return s
}

// next returns the next event of one of the types (skipping others).
func (s *eventStream) next(t *testing.T, timeout time.Duration, types ...string) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				t.Fatalf("event stream closed waiting for %v", types)
			}
			if slices.Contains(types, ev.Type) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event within %v", types, timeout)
		}
	}
}

// botTexts reads bot messages until the bot has said want messages.
func (s *eventStream) botTexts(t *testing.T, n int) []botMessage {
	t.Helper()
	var out []botMessage
	for len(out) < n {
		ev := s.next(t, 20*time.Second, EventBotMessage)
		var m botMessage
		json.Unmarshal([]byte(ev.Data), &m)
		out = append(out, m)
	}
	return out
}

// startConversation starts a chat-API conversation and follows it.
func (env *botEnv) startConversation(t *testing.T, customerRef string) (string, *eventStream) {
	t.Helper()
	var resp struct {
		Engagement store.Engagement
	}
	body := map[string]string{}
	if customerRef != "" {
		body["customer_ref"] = customerRef
	}
	json.Unmarshal(env.td.mustCall(t, env.ingest, "POST", "/api/v1/bots/card-services/conversations", body, 201), &resp)
	id := resp.Engagement.ID
	return id, env.td.follow(t, id, env.td.Admin)
}

func (env *botEnv) say(t *testing.T, id, text string) {
	t.Helper()
	env.td.mustCall(t, env.ingest, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "customer", Text: text}, 201)
}

// recorded reads the plugin's record of calls.
func (env *botEnv) recorded(t *testing.T) []map[string]any {
	t.Helper()
	raw, _ := os.ReadFile(env.record)
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		json.Unmarshal([]byte(ln), &m)
		out = append(out, m)
	}
	return out
}

func texts(ms []botMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

func hasPrefixes(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// waitResult waits for a conversation's stored result.
func (env *botEnv) waitResult(t *testing.T, id string) virtualAgentResult {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := env.td.store.Result(t.Context(), id, resultVirtualAgent)
		if err == nil {
			var va virtualAgentResult
			json.Unmarshal(res.Payload, &va)
			return va
		}
		if time.Now().After(deadline) {
			t.Fatalf("no virtual_agent result for %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBotChatAPI drives the card-services bot through the chat API: a
// lost card blocked through the block_card plugin, a balance, a fees
// question answered from the knowledge base with its citation, "talk to a
// person" and two misunderstandings handed over with the slots visible to
// the agent, who takes the conversation and writes to the customer; then
// the bot's report.
func TestBotChatAPI(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td

	t.Run("lost card", func(t *testing.T) {
		id, ev := env.startConversation(t, "C-42")
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "Hi, I'm the card services assistant") {
			t.Fatalf("greeting = %q", got)
		}
		env.say(t, id, "Hello, I lost my card yesterday")
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "What are the last four digits of the card?") {
			t.Fatalf("after the request: %q", got)
		}
		env.say(t, id, "it's 4321")
		m := ev.botTexts(t, 1)
		if !strings.Contains(m[0].Text, "ending 4321") || !slices.Equal(m[0].Choices, []string{"Yes", "No"}) {
			t.Fatalf("confirmation = %+v", m)
		}
		env.say(t, id, "Yes")
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "Done: the card ending 4321 is blocked. A replacement card will arrive") {
			t.Fatalf("after yes: %q", got)
		}
		ev.next(t, 20*time.Second, "engagement.ended")
		calls := env.recorded(t)
		if len(calls) != 1 || calls[0]["skill"] != "block_card" || calls[0]["input"].(map[string]any)["last4"] != "4321" {
			t.Fatalf("plugin calls = %+v", calls)
		}
		if eng := calls[0]["engagement"].(map[string]any); eng["CustomerRef"] != "C-42" || eng["EngagementID"] != id {
			t.Errorf("the plugin got %+v, want the engagement and its customer_ref (approved)", eng)
		}
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: id, Action: "bot.skill"}); len(got) != 1 || got[0].Detail["result"] != "ok" {
			t.Errorf("bot.skill audit = %+v", got)
		}
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: id, Action: "plugin.handover"}); len(got) != 1 {
			t.Errorf("plugin.handover audit = %+v", got)
		}
		va := env.waitResult(t, id)
		if va.Stats.Outcome != "card_blocked" || !va.Stats.Contained() || va.Stats.Skills["block_card"].Calls != 1 {
			t.Errorf("stored result = %+v", va.Stats)
		}
		// The transcript holds the customer's and the bot's messages.
		var tr struct{ Segments []store.Segment }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200), &tr)
		if len(tr.Segments) != 7 || tr.Segments[0].Speaker != "bot" || tr.Segments[1].Speaker != "customer" {
			t.Errorf("transcript = %+v", tr.Segments)
		}
	})

	t.Run("balance", func(t *testing.T) {
		id, ev := env.startConversation(t, "")
		ev.botTexts(t, 1)
		env.say(t, id, "how much money is on my card?")
		ev.botTexts(t, 1)
		env.say(t, id, "4321")
		if got := texts(ev.botTexts(t, 2)); !hasPrefixes(got, "The balance of the card ending 4321 is 1250.40 EUR.", "Is there anything else") {
			t.Fatalf("balance: %q", got)
		}
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+id+"/end", nil, 202)
		if va := env.waitResult(t, id); va.Stats.Outcome != "completed" {
			t.Errorf("outcome = %q, want completed", va.Stats.Outcome)
		}
	})

	t.Run("fees from the knowledge base", func(t *testing.T) {
		id, ev := env.startConversation(t, "")
		ev.botTexts(t, 1)
		env.say(t, id, "What fees do you charge for cash withdrawals abroad?")
		m := ev.botTexts(t, 1)
		if m[0].Kind != "answer" || len(m[0].Citations) == 0 || m[0].Citations[0].Title != "Card fees" || !strings.Contains(m[0].Text, "[1]") {
			t.Fatalf("answer = %+v", m)
		}
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+id+"/end", nil, 202)
		env.waitResult(t, id)
	})

	var waiting string
	t.Run("talk to a person", func(t *testing.T) {
		id, ev := env.startConversation(t, "C-7")
		waiting = id
		ev.botTexts(t, 1)
		env.say(t, id, "my card was stolen")
		ev.botTexts(t, 1)
		env.say(t, id, "5555")
		ev.botTexts(t, 1)
		env.say(t, id, "I want to talk to a person")
		var got []string
		var h sseEvent
		for len(got) < 2 || h.Type == "" {
			e := ev.next(t, 20*time.Second, EventBotMessage, EventBotHandover)
			if e.Type == EventBotHandover {
				h = e
				continue
			}
			var m botMessage
			json.Unmarshal([]byte(e.Data), &m)
			got = append(got, m.Text)
		}
		if !hasPrefixes(got, "I'm passing you to a member of our team", "You are number 1 in the queue") {
			t.Fatalf("hand-over messages = %q", got)
		}
		if !strings.Contains(h.Data, `"reason":"customer_request"`) || !strings.Contains(h.Data, `"value":"5555"`) {
			t.Errorf("bot.handover = %s", h.Data)
		}
		// The queue's agent sees it waiting, without content.
		var list []handoverView
		json.Unmarshal(td.mustCall(t, env.agent, "GET", "/api/v1/handovers", nil, 200), &list)
		if len(list) != 1 || list[0].Engagement != id || list[0].Reason != "customer_request" || list[0].Position != 1 {
			t.Fatalf("handovers = %+v", list)
		}
		// Staff of other queues do not.
		json.Unmarshal(td.mustCall(t, env.otherAgent, "GET", "/api/v1/handovers", nil, 200), &list)
		if len(list) != 0 {
			t.Errorf("an agent of another queue sees %+v", list)
		}
		td.mustCall(t, env.otherAgent, "GET", "/api/v1/handovers/"+id, nil, 404)
		// The agent reads the transcript, slots and preview (audited), then
		// takes it.
		var detail struct {
			Slots []struct {
				Name, Value string
				Sensitive   bool
			}
			Transcript []store.Segment
			Preview    *struct{ Text string }
		}
		json.Unmarshal(td.mustCall(t, env.agent, "GET", "/api/v1/handovers/"+id, nil, 200), &detail)
		if len(detail.Slots) != 1 || detail.Slots[0].Name != "last4" || detail.Slots[0].Value != "5555" || !detail.Slots[0].Sensitive {
			t.Errorf("slots = %+v", detail.Slots)
		}
		if len(detail.Transcript) < 7 || detail.Preview == nil || detail.Preview.Text == "" {
			t.Errorf("transcript %d segments, preview %+v", len(detail.Transcript), detail.Preview)
		}
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: id, Action: "content.read"}); len(got) == 0 {
			t.Error("reading the hand-over was not audited")
		}
		td.mustCall(t, env.agent, "GET", "/api/v1/engagements/"+id, nil, 404) // not theirs yet
		td.mustCall(t, env.agent, "POST", "/api/v1/handovers/"+id+"/accept", nil, 200)
		td.mustCall(t, env.agent, "POST", "/api/v1/handovers/"+id+"/accept", nil, 409) // taken: no longer waiting
		ev.next(t, 5*time.Second, EventHandoverAccepted)
		td.mustCall(t, env.agent, "GET", "/api/v1/engagements/"+id, nil, 200)
		td.mustCall(t, env.agent, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "agent", Text: "Hello, this is Ana. I'll help you with the card ending 5555."}, 201)
		// The customer keeps writing; the bot stays quiet.
		env.say(t, id, "thanks Ana")
		for {
			e := ev.next(t, 10*time.Second, EventBotMessage, "transcript.final")
			if e.Type == EventBotMessage {
				t.Fatalf("the bot answered after the hand-over: %s", e.Data)
			}
			if strings.Contains(e.Data, "thanks Ana") {
				break
			}
		}
		// Agent assist runs on the human part: the customer's message to
		// the agent gets its sentiment.
		var s struct{ Party string }
		if e := ev.next(t, 10*time.Second, EventSentiment); json.Unmarshal([]byte(e.Data), &s) != nil || s.Party != "customer" {
			t.Errorf("sentiment after the hand-over = %s", e.Data)
		}
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: id, Action: "handover.accept"}); len(got) != 1 || got[0].Actor != "ana" {
			t.Errorf("handover.accept audit = %+v", got)
		}
	})

	t.Run("two misunderstandings", func(t *testing.T) {
		id, ev := env.startConversation(t, "")
		ev.botTexts(t, 1)
		env.say(t, id, "the penguin parliament meets on thursdays")
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "Sorry, I didn't understand") {
			t.Fatalf("first misunderstanding: %q", got)
		}
		env.say(t, id, "purple elephants juggling in my garden")
		got := texts(ev.botTexts(t, 2))
		if !hasPrefixes(got, "I'm passing you to a member of our team", "You are number 1 in the queue") {
			t.Fatalf("second misunderstanding: %q", got)
		}
		var list []handoverView
		json.Unmarshal(td.mustCall(t, env.sup, "GET", "/api/v1/handovers?queue=cards", nil, 200), &list)
		if len(list) != 1 || list[0].Reason != "fallbacks" {
			t.Fatalf("handovers = %+v", list)
		}
		// A supervisor gives it to the agent.
		td.mustCall(t, env.sup, "POST", "/api/v1/handovers/"+id+"/accept", map[string]string{"agent": "leo"}, 400) // not of the queue
		td.mustCall(t, env.sup, "POST", "/api/v1/handovers/"+id+"/accept", map[string]string{"agent": "ana"}, 200)
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+id+"/end", nil, 202)
		va := env.waitResult(t, id)
		if va.Stats.HandoverReason != "fallbacks" || va.Stats.Unmatched != 2 || va.Agent != "ana" {
			t.Errorf("result = %+v", va)
		}
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+waiting+"/end", nil, 202)
	env.waitResult(t, waiting)

	t.Run("report", func(t *testing.T) {
		var rep struct {
			Report struct {
				Sessions, Contained, Handovers, Unmatched int
				HandoverReasons                           map[string]int `json:"handover_reasons"`
				Intents                                   []struct{ Name string }
				Skills                                    []struct {
					Name   string
					Calls  int
					Errors int
				}
				Slots []struct {
					Name           string
					CompletionRate float64 `json:"completion_rate"`
				}
			}
			Versions        []versionReport
			UnmatchedTopics []struct{ Label string } `json:"unmatched_topics"`
		}
		json.Unmarshal(td.mustCall(t, env.sup, "GET", "/api/v1/bots/card-services/report", nil, 200), &rep)
		r := rep.Report
		if r.Sessions != 5 || r.Contained != 3 || r.Handovers != 2 || r.HandoverReasons["customer_request"] != 1 || r.HandoverReasons["fallbacks"] != 1 || r.Unmatched != 2 {
			t.Errorf("report = %+v", r)
		}
		if len(rep.Versions) != 1 || rep.Versions[0].Version != 1 || rep.Versions[0].Sessions != 5 {
			t.Errorf("versions = %+v", rep.Versions)
		}
		if len(rep.UnmatchedTopics) == 0 {
			t.Error("no topics of unmatched queries")
		}
		td.mustCall(t, env.otherAgent, "GET", "/api/v1/bots/card-services/report", nil, 403)
		anl := td.tokenFor(t, "al2", RoleAnalyst, "loans")
		td.mustCall(t, anl, "GET", "/api/v1/bots/card-services/report", nil, 404)
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: "bot.report"}); len(got) != 1 {
			t.Errorf("bot.report audit entries = %d", len(got))
		}
	})
}

// wsClient is a chat WebSocket client.
type wsClient struct {
	c      *websocket.Conn
	frames chan chatFrame
	closed chan websocket.StatusCode
}

func dialChat(t *testing.T, url string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	w := &wsClient{c: c, frames: make(chan chatFrame, 512), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				w.closed <- websocket.CloseStatus(err)
				close(w.frames)
				return
			}
			var f chatFrame
			json.Unmarshal(data, &f)
			w.frames <- f
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w, resp, nil
}

func (w *wsClient) send(t *testing.T, text string) {
	t.Helper()
	raw, _ := json.Marshal(clientFrame{Type: "message", Text: text})
	if err := w.c.Write(context.Background(), websocket.MessageText, raw); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// next returns the next frame of one of the types.
func (w *wsClient) next(t *testing.T, timeout time.Duration, types ...string) chatFrame {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				t.Fatalf("connection closed waiting for %v", types)
			}
			if slices.Contains(types, f.Type) {
				return f
			}
		case <-deadline:
			t.Fatalf("no %v frame within %v", types, timeout)
		}
	}
}

// botSays reads the next n bot messages.
func (w *wsClient) botSays(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		f := w.next(t, 20*time.Second, "message")
		if f.From == "bot" {
			out = append(out, f.Text)
		}
	}
	return out
}

func wsURL(td *testDaemon, path string) string {
	return "ws" + strings.TrimPrefix(td.URL, "http") + path
}

// TestBotWebSocket chats over the chat WebSocket with an ingest token:
// the lost-card flow to its end; a second connection is closed when its
// token is revoked.
func TestBotWebSocket(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	w, _, err := dialChat(t, wsURL(td, "/api/v1/bots/card-services/chat?access_token="+env.ingest), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := w.next(t, 10*time.Second, "session")
	if len(s.Conversation) != 32 {
		t.Fatalf("session = %+v", s)
	}
	w.botSays(t, 1)
	w.send(t, "I think I left my card at the restaurant, ending in 9876")
	if got := w.botSays(t, 1); !strings.Contains(got[0], "ending 9876") {
		t.Fatalf("confirmation = %q", got)
	}
	w.send(t, "yes please")
	if got := w.botSays(t, 1); !strings.HasPrefix(got[0], "Done: the card ending 9876 is blocked") {
		t.Fatalf("after yes = %q", got)
	}
	w.next(t, 10*time.Second, "ended")
	if code := <-w.closed; code != websocket.StatusNormalClosure {
		t.Errorf("close code = %v, want normal", code)
	}

	// Revocation: a second client's token is revoked mid-conversation.
	src := td.tokenFor(t, "web2", RoleIngest, "cards", "loans")
	w2, _, err := dialChat(t, wsURL(td, "/api/v1/bots/card-services/chat"), http.Header{"Authorization": {"Bearer " + src}})
	if err != nil {
		t.Fatal(err)
	}
	w2.botSays(t, 1)
	var toks []tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/tokens", nil, 200), &toks)
	for _, tk := range toks {
		if tk.UserID == "web2" {
			td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+tk.ID, nil, 204)
		}
	}
	if f := w2.next(t, 10*time.Second, "error"); f.Code != "revoked" {
		t.Errorf("after revocation: %+v", f)
	}
	select {
	case code := <-w2.closed:
		if code != websocket.StatusPolicyViolation {
			t.Errorf("close code after revocation = %v", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("connection still open 10 s after its token was revoked")
	}
	// Without a token: 401.
	if _, resp, err := dialChat(t, wsURL(td, "/api/v1/bots/card-services/chat"), nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("dial without a token: %v %v", err, resp)
	}
}

// TestBotBadInput: definitions refused with every problem named; a skill
// that hangs or crashes takes the error branch within its timeout; long,
// empty and control-character messages; one widget client flooding is
// limited while another chats on; a disallowed origin and an old key are
// refused; a rotated key closes open widget chats.
func TestBotBadInput(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td

	t.Run("malformed definitions", func(t *testing.T) {
		code, body := td.callRaw(t, td.Admin, "POST", "/api/v1/bots", "application/yaml", "id: x\ncolour: red\n")
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != "colour" {
			t.Errorf("unknown field: %d %s", code, body)
		}
		code, body = td.callRaw(t, td.Admin, "POST", "/api/v1/bots", "application/json", `{"id":`)
		if code != 400 {
			t.Errorf("broken JSON: %d %s", code, body)
		}
		raw, _ := os.ReadFile("../inference/bot/testdata/card-services.yaml")
		bad := strings.Replace(string(raw), "id: card-services", "id: broken", 1)
		bad = strings.Replace(bad, "plugin: card-services\n    skill: balance", "plugin: core-banking\n    skill: balance", 1)
		bad = strings.Replace(bad, "      - collect: [last4]\n      - skill: card_balance", "      - send: Checking the card ending {{last4}}.\n      - skill: card_balance", 1)
		bad = strings.Replace(bad, "queue: cards", "queue: mortgages", 1)
		code, body = td.callRaw(t, td.Admin, "POST", "/api/v1/bots", "application/yaml", bad)
		if code != 201 {
			t.Fatalf("a draft with problems is stored: %d %s", code, body)
		}
		code, body = td.callRaw(t, td.Admin, "POST", "/api/v1/bots/broken/publish", "application/json", "")
		var prob struct {
			Type     string
			Field    string
			Problems []struct{ Path, Code string }
		}
		json.Unmarshal(body, &prob)
		var codes []string
		for _, p := range prob.Problems {
			codes = append(codes, p.Path+" "+p.Code)
		}
		// The balance flow says the digits, calls the skill with them and
		// words its answer with them before any step collects them: three
		// steps; the queue does not exist; the skill's plugin is not
		// installed.
		want := []string{"flows[balance].steps[0] used_before_collected", "flows[balance].steps[1] used_before_collected",
			"flows[balance].steps[2] used_before_collected", "queue unknown_reference", "skills[card_balance] skill_unavailable"}
		if code != 422 || !strings.HasSuffix(prob.Type, "invalid-definition") || prob.Field == "" || !slices.Equal(codes, want) {
			t.Errorf("publish = %d %s\nproblems %q, want %q", code, prob.Type, codes, want)
		}
		if b, _ := td.store.Bot("broken"); b.Published != 0 {
			t.Error("a broken definition was published")
		}
	})

	for _, mode := range []string{"hang", "panic"} {
		t.Run("skill "+mode, func(t *testing.T) {
			os.WriteFile(env.mode, []byte(mode), 0o666)
			defer os.WriteFile(env.mode, []byte("ok"), 0o666)
			id, ev := env.startConversation(t, "")
			ev.botTexts(t, 1)
			env.say(t, id, "I lost my card")
			ev.botTexts(t, 1)
			env.say(t, id, "1111")
			ev.botTexts(t, 1)
			start := time.Now()
			env.say(t, id, "yes")
			got := texts(ev.botTexts(t, 3))
			took := time.Since(start)
			if !hasPrefixes(got, "I'm sorry, I couldn't block the card just now.", "I'm passing you", "You are number") {
				t.Errorf("after a %s skill: %q", mode, got)
			}
			// The skill's timeout is 3s; the error branch comes within it
			// (and at once for a crash), with a margin for a loaded machine.
			if took > 8*time.Second {
				t.Errorf("error branch after %v", took)
			}
			if a, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: id, Action: "bot.skill"}); len(a) != 1 || a[0].Detail["result"] == "ok" {
				t.Errorf("bot.skill audit = %+v", a)
			}
			td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+id+"/end", nil, 202)
			if va := env.waitResult(t, id); va.Stats.Skills["block_card"].Errors != 1 || va.Stats.HandoverReason != "block_failed" {
				t.Errorf("result = %+v", va.Stats)
			}
		})
	}

	t.Run("long and control-character messages over the chat API", func(t *testing.T) {
		id, ev := env.startConversation(t, "")
		ev.botTexts(t, 1)
		env.say(t, id, strings.Repeat("lorem ipsum dolor sit amet ", 380)) // 10.3 kB
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "Sorry, I didn't understand") {
			t.Errorf("10 kB message: %q", got)
		}
		env.say(t, id, "I \x1b[31mlost\x00 my \u202ecard\x07")
		if got := texts(ev.botTexts(t, 1)); !hasPrefixes(got, "What are the last four digits") {
			t.Errorf("control characters: %q", got)
		}
		td.mustCall(t, env.ingest, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "customer", Text: strings.Repeat("x", 17<<10)}, 400)
	})

	b, _ := td.store.Bot("card-services")
	widget := wsURL(td, "/chat/card-services/ws?key="+b.WidgetKey)
	own := http.Header{"Origin": {td.URL}}

	t.Run("widget origins and keys", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			url    string
			origin string
			status int
		}{
			{"disallowed origin", widget, "https://evil.example", 403},
			{"no origin", widget, "", 403},
			{"allowed origin", widget, "https://www.bank.example", 101},
			{"own page", widget, td.URL, 101},
			{"wrong key", wsURL(td, "/chat/card-services/ws?key=pk_nope"), td.URL, 403},
			{"unknown bot", wsURL(td, "/chat/nope/ws?key="+b.WidgetKey), td.URL, 404},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := http.Header{}
				if tc.origin != "" {
					h.Set("Origin", tc.origin)
				}
				w, resp, err := dialChat(t, tc.url, h)
				if tc.status == 101 {
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					w.botSays(t, 1)
					return
				}
				if err == nil || resp == nil || resp.StatusCode != tc.status {
					t.Errorf("dial = %v %v, want %d", err, resp, tc.status)
				}
			})
		}
	})

	t.Run("widget messages and floods", func(t *testing.T) {
		flood, _, err := dialChat(t, widget, own)
		if err != nil {
			t.Fatal(err)
		}
		calm, _, err := dialChat(t, widget, own)
		if err != nil {
			t.Fatal(err)
		}
		flood.botSays(t, 1)
		calm.botSays(t, 1)
		flood.send(t, strings.Repeat("a", 10<<10))
		if f := flood.next(t, 5*time.Second, "error"); f.Code != "too_long" {
			t.Errorf("10 kB widget message: %+v", f)
		}
		flood.send(t, " \x00\x07 ")
		if f := flood.next(t, 5*time.Second, "error"); f.Code != "empty" {
			t.Errorf("control characters only: %+v", f)
		}
		for i := 0; i < 300; i++ {
			raw, _ := json.Marshal(clientFrame{Type: "message", Text: "flood " + strconv.Itoa(i)})
			if flood.c.Write(context.Background(), websocket.MessageText, raw) != nil {
				break
			}
		}
		// The calm client's conversation goes on meanwhile.
		var lat []time.Duration
		for _, msg := range []string{"I lost my card", "2468", "no"} {
			start := time.Now()
			calm.send(t, msg)
			calm.botSays(t, 1)
			lat = append(lat, time.Since(start))
		}
		for _, l := range lat {
			if l > 5*time.Second {
				t.Errorf("calm client waited %v during the flood", lat)
			}
		}
		limited := false
		var code websocket.StatusCode
	loop:
		for {
			select {
			case f, ok := <-flood.frames:
				if !ok {
					code = <-flood.closed
					break loop
				}
				limited = limited || f.Code == "rate_limited"
			case <-time.After(15 * time.Second):
				t.Fatal("the flooding client was not closed")
			}
		}
		if !limited || code != websocket.StatusPolicyViolation {
			t.Errorf("flood: rate_limited %v, close %v", limited, code)
		}
	})

	t.Run("rotated key closes widget chats", func(t *testing.T) {
		w, _, err := dialChat(t, widget, own)
		if err != nil {
			t.Fatal(err)
		}
		w.botSays(t, 1)
		td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/widget-key", nil, 200)
		if f := w.next(t, 10*time.Second, "error"); f.Code != "revoked" {
			t.Errorf("after rotation: %+v", f)
		}
		if _, resp, err := dialChat(t, widget, own); err == nil || resp.StatusCode != 403 {
			t.Errorf("old key after rotation: %v %v", err, resp)
		}
	})
}

// TestBotVersioningAndControls: drafts, publish, rollback, export and
// import round trip, the audit of every change, roles, and the
// virtual_agent feature per queue (off refuses new conversations and
// hands live ones over).
func TestBotVersioningAndControls(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	raw, _ := os.ReadFile("../inference/bot/testdata/card-services.yaml")
	v2 := strings.Replace(string(raw), "Hi, I'm the card services assistant.", "Hello from version two.", 1)
	code, body := td.callRaw(t, td.Admin, "PUT", "/api/v1/bots/card-services/draft", "application/yaml", v2)
	if code != 200 || !strings.Contains(string(body), `"problems": []`) {
		t.Fatalf("draft = %d %s", code, body)
	}
	var pub struct{ Version int }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/publish", nil, 200), &pub)
	if pub.Version != 2 {
		t.Fatalf("published version %d, want 2", pub.Version)
	}
	greet := func() string {
		_, ev := env.startConversation(t, "")
		return ev.botTexts(t, 1)[0].Text
	}
	if g := greet(); !strings.HasPrefix(g, "Hello from version two.") {
		t.Errorf("greeting of v2 = %q", g)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/rollback", map[string]int{"version": 9}, 400)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/rollback", map[string]int{"version": 1}, 200)
	if g := greet(); !strings.HasPrefix(g, "Hi, I'm the card services assistant.") {
		t.Errorf("greeting after rollback = %q", g)
	}
	// Export (YAML) and import it as a new bot: the same definition.
	code, body = td.callRaw(t, td.Admin, "GET", "/api/v1/bots/card-services/export?format=yaml&version=2", "", "")
	if code != 200 || !strings.Contains(string(body), "Hello from version two.") {
		t.Fatalf("export = %d %s", code, body)
	}
	copyYAML := strings.Replace(string(body), "id: card-services", "id: card-services-copy", 1)
	code, body = td.callRaw(t, td.Admin, "POST", "/api/v1/bots/import", "application/yaml", copyYAML)
	if code != 200 || !strings.Contains(string(body), `"problems": []`) {
		t.Fatalf("import = %d %s", code, body)
	}
	var a, b2 struct{ Definition json.RawMessage }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/card-services/versions/2", nil, 200), &a)
	var got struct{ Draft json.RawMessage }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/card-services-copy", nil, 200), &got)
	b2.Definition = got.Draft
	if strings.Replace(string(a.Definition), "card-services", "card-services-copy", 1) != string(b2.Definition) {
		t.Errorf("import of the export differs:\n%s\n%s", a.Definition, b2.Definition)
	}
	for _, action := range []string{"bot.import", "bot.publish", "bot.draft.update", "bot.rollback"} {
		if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: action}); len(got) == 0 {
			t.Errorf("no %s audit entry", action)
		}
	}
	// Roles: agents and supervisors do not design bots.
	td.mustCall(t, env.sup, "PUT", "/api/v1/bots/card-services/draft", v2, 403)
	td.mustCall(t, env.agent, "GET", "/api/v1/bots", nil, 403)
	var list []botView
	json.Unmarshal(td.mustCall(t, env.analyst, "GET", "/api/v1/bots", nil, 200), &list)
	if len(list) != 2 || list[0].WidgetKey != "" {
		t.Errorf("analyst's list = %+v", list)
	}

	// The feature per queue: a live conversation is handed over at its
	// next message, new ones are refused.
	id, ev := env.startConversation(t, "")
	ev.botTexts(t, 1)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/virtual_agent", map[string]any{"enabled": false}, 200)
	td.mustCall(t, env.ingest, "POST", "/api/v1/bots/card-services/conversations", nil, 403)
	env.say(t, id, "I lost my card")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list []handoverView
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/handovers", nil, 200), &list)
		if len(list) == 1 && list[0].Reason == "virtual_agent_off" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handovers = %+v, want the live conversation handed over", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBotBackgroundPublish: ?background=true answers 202 with a job at
// once; the job's state goes to published with the new version (the bot
// then runs it), or refused with the definition's problems; bad and
// unknown job numbers are refused.
func TestBotBackgroundPublish(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots", matrixBot("bg"), 201)
	type job struct {
		Job      int64
		State    string
		Result   *struct{ Version int }
		Problems []struct{ Path, Code string }
	}
	wait := func(location string) job {
		t.Helper()
		var j job
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			json.Unmarshal(td.mustCall(t, td.Admin, "GET", location, nil, 200), &j)
			if j.State != "queued" && j.State != "running" {
				return j
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish job %s still %s after 60 s", location, j.State)
			}
		}
	}
	var j job
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/bg/publish?background=true", nil, 202), &j)
	if j.Job == 0 || (j.State != "queued" && j.State != "running" && j.State != "published") {
		t.Fatalf("accepted job = %+v", j)
	}
	loc := fmt.Sprintf("/api/v1/bots/bg/publishes/%d", j.Job)
	if j = wait(loc); j.State != "published" || j.Result == nil || j.Result.Version != 1 {
		t.Fatalf("job = %+v, want published as version 1", j)
	}
	var b struct{ Bot struct{ Published int } }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/bg", nil, 200), &b)
	if b.Bot.Published != 1 {
		t.Errorf("bot published version = %d, want 1", b.Bot.Published)
	}
	// A draft with a problem: the job is refused and names it.
	broken := matrixBot("bg")
	broken["flows"] = []map[string]any{{"name": "block", "steps": []map[string]any{{"goto": "nowhere"}}}}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/bots/bg/draft", broken, 200)
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/bg/publish?background=true", nil, 202), &j)
	if j = wait(fmt.Sprintf("/api/v1/bots/bg/publishes/%d", j.Job)); j.State != "refused" || len(j.Problems) == 0 {
		t.Errorf("job of a broken draft = %+v, want refused with problems", j)
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/bg", nil, 200), &b)
	if b.Bot.Published != 1 {
		t.Errorf("bot published version = %d after a refused publish, want 1", b.Bot.Published)
	}
	td.mustCall(t, td.Admin, "GET", "/api/v1/bots/bg/publishes/x", nil, 400)
	td.mustCall(t, td.Admin, "GET", "/api/v1/bots/bg/publishes/999", nil, 404)
	td.mustCall(t, td.Admin, "GET", "/api/v1/bots/other/publishes/1", nil, 404)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/bg/publish?background=maybe", nil, 400)
}

// TestBotChannelLiveLimit: max_live_per_source names a virtual agent's
// channel (bot_api here): the channel's conversations are bounded on their
// own, and other sources keep their share.
func TestBotChannelLiveLimit(t *testing.T) {
	env := startBotEnv(t, func(c *Config) {
		c.Engagements.MaxLivePerSource = map[string]int{"bot_api": 1}
	})
	env.td.mustCall(t, env.ingest, "POST", "/api/v1/bots/card-services/conversations", nil, 201)
	code, body := env.td.call(t, env.ingest, "POST", "/api/v1/bots/card-services/conversations", nil)
	if code != 503 {
		t.Fatalf("second bot_api conversation = %d %s, want 503 (the channel's limit is 1)", code, body)
	}
	env.td.mustCall(t, env.ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Channel: "chat"}, 201)
}
