package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
	"github.com/earshot/earshot/store"
)

// lockedBuffer collects what several goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recordingProxy forwards to target (the Ollama test server) and keeps
// every request body it passes on: the prompts the model received.
func recordingProxy(t *testing.T, target string, rec *lockedBuffer) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.Write(append(body, '\n'))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The sensitive values of the test, as written and as a recogniser
// writes them, and what must never be seen of them.
const (
	cardWritten  = "4111 1111 1111 1111"
	ssnWritten   = "123-45-6789"
	emailWritten = "jane.doe@example.com"
	cardSpoken   = "four one one one one one one one one one one one one one one one"
	ssnSpoken    = "one two three four five six seven eight nine"
	emailSpoken  = "jane dot doe at example dot com"
)

var leaks = []string{"4111 1111", "41111111", "123-45-6789", "123456789", "jane.doe", "one one one one one one",
	"four five six seven", "jane dot doe"}

func leaked(s string) []string {
	var out []string
	for _, l := range leaks {
		if strings.Contains(s, l) {
			out = append(out, l)
		}
	}
	return out
}

// TestRedactionEndToEnd: with pii_redaction on for a queue, a chat, an
// uploaded transcript and a live source (segments and partials submitted
// to the hub as the media bridge does; no audio here) carrying a card
// number, an SSN and an e-mail address leave none of them in the stored
// transcript, the raw database file, a backup, the event stream
// (partials included), the logs, a sink plugin's received event or the
// prompts the Ollama test server received. The same chat on a queue with
// redaction off shows the values (so every check can fail).
func TestRedactionEndToEnd(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	var prompts, logs lockedBuffer
	proxy := recordingProxy(t, srv.URL, &prompts)
	files := pluginShareDir(t)
	record, mode := filepath.Join(files, "delivered.jsonl"), filepath.Join(files, "mode")
	os.WriteFile(mode, []byte("ok"), 0o644)
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	td := startDaemonLogged(t, func(c *Config) {
		withOllama(srv, ollama.FeatureSummary, ollama.FeatureNotes)(c)
		c.Ollama.URL = proxy.URL
		c.Sinks.PollInterval = Duration(20 * time.Millisecond)
	}, logger)
	for _, q := range []string{"secure", "open"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/secure/pii_redaction", map[string]any{"enabled": true}, 200)
	installTestPlugin(t, td, "./plugins/testdata/faulty", "dwh",
		`{"name":"dwh","version":"1.0.0","executable":"dwh","kinds":["sink"],"scopes":["transcript","summary","results"]}`,
		map[string]any{"enabled": true, "approved_scopes": []string{"transcript", "summary", "results"},
			"config": map[string]string{"delivered": record, "mode_file": mode}, "write_paths": []string{files}})

	conversation := []messageRequest{
		{"customer", "Hi, I want to pay by card. The number is " + cardWritten + "."},
		{"agent", "Thank you. Can I have your social security number and email for the receipt?"},
		{"customer", "My SSN is " + ssnWritten + " and you can email me at " + emailWritten + " please."},
	}
	chatID := chat(t, td, td.Admin, engagementRequest{Queue: "secure", Channel: "chat"}, conversation...)

	// An uploaded transcript, words as a recogniser writes them.
	doc := map[string]any{"segments": []map[string]any{
		{"party": "customer", "start_ms": 0, "end_ms": 6000, "text": "my card number is " + cardSpoken},
		{"party": "customer", "start_ms": 7000, "end_ms": 11000, "text": "and my social is " + ssnSpoken},
		{"party": "customer", "start_ms": 12000, "end_ms": 15000, "text": "email " + emailSpoken + " thanks"},
	}}
	body, _ := json.Marshal(doc)
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue=secure", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+td.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct{ Engagement store.Engagement }
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	waitEnded(t, td, up.Engagement.ID)

	// A live voice source: partials while the card is read, the number
	// split across two final segments.
	var live store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "secure", Channel: "voice"}, 201), &live)
	l, _ := td.hub.Get(live.ID)
	segs := []store.Segment{
		{Speaker: "customer", Text: "my card number is four one one one", StartMs: 0, EndMs: 2000},
		{Speaker: "customer", Text: "my card number is four one one one one one one one", StartMs: 0, EndMs: 3000},
		{Speaker: "customer", Text: "my card number is four one one one one one one one", StartMs: 0, EndMs: 3000, Final: true},
		{Speaker: "customer", Text: "one one one one one one", StartMs: 3200, EndMs: 4500},
		{Speaker: "customer", Text: "one one one one one one one one", StartMs: 3200, EndMs: 5000, Final: true},
		{Speaker: "customer", Text: "my social is " + ssnSpoken, StartMs: 6000, EndMs: 9000, Final: true},
		{Speaker: "customer", Text: "and the email is " + emailSpoken, StartMs: 9500, EndMs: 12000, Final: true},
	}
	for _, s := range segs {
		if !l.Submit(s) {
			t.Fatal("live segment refused")
		}
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+live.ID+"/end", nil, 202)
	select {
	case <-l.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("live engagement did not finish")
	}

	ids := []string{chatID, up.Engagement.ID, live.ID}
	for _, id := range ids {
		tr := string(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200))
		if l := leaked(tr); l != nil {
			t.Errorf("%s: transcript shows %v: %s", id, l, tr)
		}
		if !strings.Contains(tr, "[CARD ending 1111]") || !strings.Contains(tr, "[SSN]") || !strings.Contains(tr, "[EMAIL]") {
			t.Errorf("%s: transcript lacks the replacements: %s", id, tr)
		}
		var all strings.Builder
		var ended map[string]any
		for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", td.Admin, "", 0, 20*time.Second) {
			all.WriteString(ev.Data)
			if ev.Type == hub.EventEnded {
				json.Unmarshal([]byte(ev.Data), &ended)
			}
		}
		if l := leaked(all.String()); l != nil {
			t.Errorf("%s: event stream shows %v", id, l)
		}
		red, _ := ended["redactions"].(map[string]any)
		if red["card"] == nil || red["ssn"] == nil || red["email"] == nil {
			t.Errorf("%s: engagement.ended counts = %v", id, ended["redactions"])
		}
		if id == live.ID && !strings.Contains(all.String(), "transcript.partial") && !strings.Contains(all.String(), "[NUMBER]") {
			t.Logf("%s: events %s", id, all.String())
		}
	}

	waitUntil(t, "the sink's three events", func() bool { return len(deliveredEvents(t, record)) >= 3 })
	delivered, _ := os.ReadFile(record)
	if l := leaked(string(delivered)); l != nil {
		t.Errorf("the sink received %v", l)
	}
	if !strings.Contains(string(delivered), "[CARD ending 1111]") {
		t.Errorf("the sink received no transcript: %s", delivered)
	}
	waitUntil(t, "prompts to the model", func() bool { return strings.Contains(prompts.String(), "CARD ending 1111") })
	if l := leaked(prompts.String()); l != nil {
		t.Errorf("Ollama received %v", l)
	}
	backup := td.mustCall(t, td.Admin, "GET", "/api/v1/backup/content", nil, 200)
	if l := leaked(string(backup)); l != nil {
		t.Errorf("the backup holds %v", l)
	}
	dbs, _ := filepath.Glob(filepath.Join(td.cfg.DataDir, "*.db"))
	if len(dbs) == 0 {
		t.Fatal("no database file found")
	}
	for _, p := range dbs {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if l := leaked(string(raw)); l != nil {
			t.Errorf("%s holds %v", p, l)
		}
	}
	if got := metricValue(t, td, `earshot_redact_entities_total{source="chat",type="card"}`); got != "1" {
		t.Errorf("card redactions from chat = %s, want 1", got)
	}

	// Control: the same chat where redaction is off shows the values in
	// the transcript and in the model's prompts.
	openID := chat(t, td, td.Admin, engagementRequest{Queue: "open", Channel: "chat"}, conversation...)
	tr := string(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+openID+"/transcript", nil, 200))
	if !strings.Contains(tr, cardWritten) || !strings.Contains(tr, emailWritten) {
		t.Errorf("without redaction the transcript lacks the values: %s", tr)
	}
	waitUntil(t, "the control's prompt", func() bool { return strings.Contains(prompts.String(), "jane.doe") })
	if l := leaked(logs.String()); l != nil {
		t.Errorf("the logs show %v", l)
	}
}

// TestRedactionHoldRelease: a final segment ending in digits is held for
// the party's next segment; with none coming it is stored once the hold
// passes, before the engagement ends. A number completed after that is
// published again as transcript.revised with the whole number redacted.
func TestRedactionHoldRelease(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Redaction.MaxHold = Duration(200 * time.Millisecond) })
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "secure"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/pii_redaction", map[string]any{"enabled": true}, 200)
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "secure", Channel: "voice"}, 201), &e)
	l, _ := td.hub.Get(e.ID)
	l.Submit(store.Segment{Speaker: "customer", Text: "my card number is four one one one one one one one", EndMs: 3000, Final: true})
	var segs []store.Segment
	waitUntil(t, "the held segment to be stored", func() bool {
		var tr struct{ Segments []store.Segment }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200), &tr)
		segs = tr.Segments
		return len(segs) == 1
	})
	l.Submit(store.Segment{Speaker: "customer", Text: "one one one one one one one one", StartMs: 9000, EndMs: 11000, Final: true})
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	<-l.Done()
	var revised []string
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+e.ID+"/events", td.Admin, "", 0, 20*time.Second) {
		if ev.Type == hub.EventTranscriptRevised {
			revised = append(revised, ev.Data)
		}
	}
	if len(revised) != 1 || !strings.Contains(revised[0], "my card number is [CARD]") || !strings.Contains(revised[0], `"seq":0`) {
		t.Errorf("revisions = %v, want segment 0 with the card redacted", revised)
	}
	tr := string(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200))
	if !strings.Contains(tr, "[CARD ending 1111]") {
		t.Errorf("the second half is not redacted: %s", tr)
	}
}
