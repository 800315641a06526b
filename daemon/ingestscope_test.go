package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/store"
)

// TestIngestScope: an ingest token feeds only its user's queues, narrowed
// by the token's own queues and sources, whichever way the queue is named
// (API body, upload and WHIP query, Twilio customParameters); it reaches
// only those queues' engagements; no one assigns an agent who does not
// handle the engagement's queue.
func TestIngestScope(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Media.Engine = "none"
		loopbackWHIP(c)
	})
	for _, q := range []string{"cards", "billing"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.tokenFor(t, "ana", RoleAgent, "cards")
	td.tokenFor(t, "bob", RoleAgent, "billing")
	td.tokenFor(t, "sam", RoleSupervisor, "cards")
	pbx := newPrincipal(t, td, "pbx", RoleIngest, "", "cards")
	chat := func(tok, queue, agent string, want int) (store.Engagement, Problem) {
		t.Helper()
		code, body := td.call(t, tok, "POST", "/api/v1/engagements", engagementRequest{Queue: queue, Agent: agent, Channel: "chat"})
		var e store.Engagement
		var p Problem
		json.Unmarshal(body, &e)
		json.Unmarshal(body, &p)
		if code != want {
			t.Fatalf("chat in %s with agent %q = %d %s, want %d", queue, agent, code, body, want)
		}
		return e, p
	}

	// Engagements through the API.
	if _, p := chat(pbx.secret, "billing", "", 403); p.Field != "queue" {
		t.Errorf("refusal names field %q, want queue", p.Field)
	}
	own, _ := chat(pbx.secret, "cards", "ana", 201)
	for _, agent := range []string{"bob", "nobody", "pbx"} {
		for _, tok := range []string{pbx.secret, td.Admin} {
			if _, p := chat(tok, "cards", agent, 400); p.Field != "agent" {
				t.Errorf("agent %s: refusal names field %q, want agent", agent, p.Field)
			}
		}
	}
	chat(pbx.secret, "cards", "sam", 201) // a supervisor of the queue may take a contact
	other, _ := chat(td.Admin, "billing", "bob", 201)
	td.mustCall(t, pbx.secret, "POST", "/api/v1/engagements/"+own.ID+"/messages", messageRequest{Sender: "customer", Text: "hello"}, 201)
	td.mustCall(t, pbx.secret, "POST", "/api/v1/engagements/"+other.ID+"/messages", messageRequest{Sender: "customer", Text: "hello"}, 404)
	td.mustCall(t, pbx.secret, "POST", "/api/v1/engagements/"+other.ID+"/end", nil, 404)

	// Uploads and WHIP name the queue in the query.
	upload := func(tok, queue string) int {
		req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue="+queue, strings.NewReader(`{"segments":[{"party":"customer","text":"hi","start_ms":0,"end_ms":500}]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := upload(pbx.secret, "billing"); code != 403 {
		t.Errorf("upload to billing = %d, want 403", code)
	}
	if code := upload(pbx.secret, "cards"); code != 201 {
		t.Errorf("upload to cards = %d, want 201", code)
	}
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/ingest/whip?queue=billing", strings.NewReader(minimalOffer))
	req.Header.Set("Authorization", "Bearer "+pbx.secret)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(body, []byte("ingest scope")) {
		t.Errorf("WHIP to billing = %d %s, want 403 naming the scope", resp.StatusCode, body)
	}
	if n := td.media.whip.Sessions(); n != 0 {
		t.Errorf("%d WHIP sessions after the refusal, want 0", n)
	}

	// A Twilio stream's customParameters pick the queue and the agent only
	// within the token's scope.
	for _, tc := range []struct {
		name   string
		params map[string]string
		ok     bool
	}{
		{"queue outside", map[string]string{"queue": "billing"}, false},
		{"agent outside", map[string]string{"queue": "cards", "agent": "bob"}, false},
		{"within", map[string]string{"queue": "cards", "agent": "ana", "customer_ref": "C-1"}, true},
	} {
		status := twilioStart(t, td, pbx.secret, "", tc.params)
		if tc.ok != (status == -1) {
			t.Errorf("%s: stream close status %d; want it open %v", tc.name, status, tc.ok)
		}
		if !tc.ok && status != int(websocket.StatusPolicyViolation) {
			t.Errorf("%s: close status %d, want 1008", tc.name, status)
		}
	}

	// A token narrowed to WHIP in cards may not chat or upload.
	var narrow tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "pbx", Queues: []string{"cards"}, Sources: []string{"whip"}}, 201), &narrow)
	if narrow.Queues[0] != "cards" || narrow.Sources[0] != "whip" {
		t.Errorf("narrowed token = %+v", narrow)
	}
	chat(narrow.Secret, "cards", "", 403)
	if code := upload(narrow.Secret, "cards"); code != 403 {
		t.Errorf("upload with a WHIP-only token = %d, want 403", code)
	}
	for _, bad := range []struct {
		req   tokenRequest
		field string
	}{
		{tokenRequest{UserID: "pbx", Queues: []string{"billing"}}, "queues"},
		{tokenRequest{UserID: "pbx", Sources: []string{"fax"}}, "sources"},
		{tokenRequest{UserID: "ana", Queues: []string{"cards"}}, "queues"},
	} {
		code, body := td.call(t, td.Admin, "POST", "/api/v1/tokens", bad.req)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != bad.field {
			t.Errorf("token %+v = %d %s, want 400 naming %s", bad.req, code, body, bad.field)
		}
	}
}

// minimalOffer is an SDP offer the WHIP server parses (one PCMU track);
// it is refused before any connection is made.
const minimalOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtpmap:0 PCMU/8000\r\n"

// twilioStart opens a Twilio stream, sends its start message and a few
// media messages, and returns the close status the server sent within two
// seconds, or -1 if it kept the stream open.
func twilioStart(t *testing.T, td *testDaemon, token, query string, params map[string]string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+token+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	b, _ := json.Marshal(map[string]any{"event": "start", "streamSid": "MZ1", "start": map[string]any{"streamSid": "MZ1", "callSid": "CA1",
		"tracks": []string{"inbound"}, "customParameters": params,
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	_, _, err = ws.Read(rctx)
	if rctx.Err() != nil {
		ws.Close(websocket.StatusNormalClosure, "")
		return -1
	}
	return int(websocket.CloseStatus(err))
}

// TestLiveLimitsAndChatIdle: chats cannot take every live slot: each
// source and each token has its own limit, and a refusal says which one
// (problem detail and metric reason); an idle chat ends by itself.
func TestLiveLimitsAndChatIdle(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Engagements.MaxLive = 4
		c.Engagements.MaxLivePerSource = map[string]int{"api": 3}
		c.Engagements.MaxLivePerToken = 2
		c.Engagements.ChatIdleTimeout = Duration(2 * time.Second)
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	pbx := newPrincipal(t, td, "pbx", RoleIngest, "", "q")
	open := func(tok string, want int) Problem {
		t.Helper()
		code, body := td.call(t, tok, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat"})
		var p Problem
		json.Unmarshal(body, &p)
		if code != want {
			t.Fatalf("chat = %d %s, want %d", code, body, want)
		}
		return p
	}
	open(td.Admin, 201)
	open(td.Admin, 201)
	if p := open(td.Admin, 503); !strings.Contains(p.Detail, "token holds its maximum of 2") {
		t.Errorf("third chat of one token: %q, want the token's limit named", p.Detail)
	}
	open(pbx.secret, 201)
	if p := open(pbx.secret, 503); !strings.Contains(p.Detail, "source api holds its maximum of 3") {
		t.Errorf("fourth chat: %q, want the source's limit named", p.Detail)
	}
	for reason, want := range map[string]string{"token_limit": "1", "source_limit": "1"} {
		if got := metricValue(t, td, `earshot_engagements_refused_total{reason="`+reason+`"}`); got != want {
			t.Errorf("refused{%s} = %q, want %s", reason, got, want)
		}
	}
	// Another source still starts while chats hold their share.
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue=q", strings.NewReader(`{"segments":[{"party":"customer","text":"hi","start_ms":0,"end_ms":500}]}`))
	req.Header.Set("Authorization", "Bearer "+pbx.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("upload while chats hold their share = %d, want 201", resp.StatusCode)
	}
	// Nobody writes: the chats end by themselves and free their slots.
	waitUntil(t, "idle chats to end", func() bool { return td.hub.LiveCount() == 0 })
	if got := metricValue(t, td, `earshot_engagements_ended_total{reason="idle_timeout"}`); got != "3" {
		t.Errorf("ended{idle_timeout} = %q, want 3", got)
	}
	open(td.Admin, 201)
}
