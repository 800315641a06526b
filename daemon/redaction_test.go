package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
	"github.com/earshot/earshot/inference/redact"
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
// prompts the Ollama test server received. The queue's policy keeps the
// sealed unredacted copy: the compliance role reads the originals of all
// three, each read audited, and a supervisor cannot. The same chat on a
// queue with redaction off shows the values (so every check can fail).
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
		c.Redaction.Queues = map[string]RedactionPolicy{"secure": {UnredactedCopy: true}}
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

	// The compliance role of the queue reads the sealed originals of
	// every source, each read audited; a supervisor of the same queue is
	// refused without content.
	compliance := td.tokenFor(t, "cora", RoleCompliance, "secure")
	supervisor := td.tokenFor(t, "sam", RoleSupervisor, "secure")
	wantOriginal := map[string][]string{
		chatID:           {cardWritten, ssnWritten, emailWritten},
		up.Engagement.ID: {cardSpoken, ssnSpoken, emailSpoken},
		live.ID:          {cardSpoken, ssnSpoken, emailSpoken},
	}
	for _, id := range ids {
		var got struct {
			Segments       []store.Segment
			UnredactedSeqs []uint32 `json:"unredacted_seqs"`
		}
		json.Unmarshal(td.mustCall(t, compliance, "GET", "/api/v1/engagements/"+id+"/unredacted", nil, 200), &got)
		texts := make([]string, len(got.Segments))
		for i, g := range got.Segments {
			texts[i] = g.Text
		}
		joined := strings.Join(texts, " ")
		for _, v := range wantOriginal[id] {
			if !strings.Contains(joined, v) {
				t.Errorf("%s: the unredacted copy lacks %q: %q", id, v, joined)
			}
		}
		if len(got.UnredactedSeqs) == 0 {
			t.Errorf("%s: no segment restored", id)
		}
		var audit []store.AuditEntry
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?actor=cora&engagement="+id, nil, 200), &audit)
		if len(audit) != 1 || audit[0].Action != "content.read" || audit[0].Feature != "unredacted" {
			t.Errorf("%s: audit of the compliance read = %+v, want one content.read of the unredacted copy", id, audit)
		}
		code, body := td.call(t, supervisor, "GET", "/api/v1/engagements/"+id+"/unredacted", nil)
		if code != http.StatusForbidden || leaked(string(body)) != nil {
			t.Errorf("%s: a supervisor reading the unredacted copy = %d %s, want 403 without content", id, code, body)
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
// published again as transcript.revised with the whole number redacted,
// and the stored segment is replaced by its revision; the unredacted copy
// keeps both halves.
func TestRedactionHoldRelease(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Redaction.MaxHold = Duration(200 * time.Millisecond)
		c.Redaction.Policy.UnredactedCopy = true
	})
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
	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200), &tr)
	if len(tr.Segments) != 2 || tr.Segments[0].Text != "my card number is [CARD]" || tr.Segments[1].Text != "[CARD ending 1111]" {
		t.Errorf("stored transcript = %+v, want the first half replaced by its revision and the second redacted", tr.Segments)
	}
	// The unredacted copy has both halves as they were said.
	var orig struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, td.tokenFor(t, "cora", RoleCompliance, "secure"), "GET", "/api/v1/engagements/"+e.ID+"/unredacted", nil, 200), &orig)
	if len(orig.Segments) != 2 || orig.Segments[0].Text != "my card number is four one one one one one one one" || orig.Segments[1].Text != "one one one one one one one one" {
		t.Errorf("unredacted copy = %+v, want both halves as said", orig.Segments)
	}
}

// libreTranslateEcho is a stand-in for a LibreTranslate server
// (LibreTranslate's models cannot run here): it answers POST /translate
// as LibreTranslate does, with the text it was given behind a language
// tag, so that whatever the engine receives shows in the translation, and
// it keeps every text it received.
func libreTranslateEcho(t *testing.T, received *lockedBuffer) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Q, Source, Target string }
		if r.Method != "POST" || r.URL.Path != "/translate" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Q == "" {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "Invalid request"})
			return
		}
		received.Write([]byte(req.Q + "\n"))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"translatedText": "[" + req.Source + "-" + req.Target + "] " + req.Q})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRedactionChatTranslation: with pii_redaction and auto_translate on,
// a Spanish chat carrying a card number, an SSN and an e-mail address is
// translated redacted: the translation engine never receives the values,
// and neither the translations, the stored transcript, the raw database
// file nor the event stream shows them. The same chat on a queue without
// redaction hands the values to the engine (so the checks can fail).
func TestRedactionChatTranslation(t *testing.T) {
	var received lockedBuffer
	lt := libreTranslateEcho(t, &received)
	td := startDaemon(t, func(c *Config) {
		c.Translate.Engines = []string{"libretranslate"}
		c.Translate.LibreTranslate.URL = lt.URL
	})
	needApertium(t, td)
	for _, q := range []string{"secure", "open"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/secure/pii_redaction", map[string]bool{"enabled": true}, 200)
	spanish := []messageRequest{
		{"customer", "Hola, quiero pagar con mi tarjeta, el número es " + cardWritten + "."},
		{"agent", "Thank you. Can I have your social security number and your email address?"},
		{"customer", "Mi número de seguro social es " + ssnWritten + " y mi correo es " + emailWritten + ", gracias."},
	}
	id := chat(t, td, td.Admin, engagementRequest{Queue: "secure", Channel: "chat"}, spanish...)

	if l := leaked(received.String()); l != nil {
		t.Errorf("the translation engine received %v: %s", l, received.String())
	}
	if !strings.Contains(received.String(), "[CARD ending 1111]") {
		t.Errorf("the translation engine did not receive the redacted message: %q", received.String())
	}
	var tr struct{ Segments []store.Segment }
	raw := td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200)
	json.Unmarshal(raw, &tr)
	if l := leaked(string(raw)); l != nil {
		t.Errorf("the transcript shows %v: %s", l, raw)
	}
	if len(tr.Segments) != 3 {
		t.Fatalf("%d segments, want 3", len(tr.Segments))
	}
	for _, i := range []int{0, 2} {
		g := tr.Segments[i]
		if g.Lang != "es" || len(g.Translations) == 0 || g.Translations[0].Engine != "libretranslate" {
			t.Errorf("segment %d: lang %q, translations %+v; want Spanish translated by libretranslate", i, g.Lang, g.Translations)
		}
	}
	if got := tr.Segments[2].TextIn("en"); !strings.Contains(got, "[SSN]") || !strings.Contains(got, "[EMAIL]") {
		t.Errorf("the English translation of the third message is %q, want the values replaced", got)
	}
	var all strings.Builder
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", td.Admin, "", 0, 20*time.Second) {
		all.WriteString(ev.Data)
	}
	if l := leaked(all.String()); l != nil {
		t.Errorf("the event stream shows %v", l)
	}
	if !strings.Contains(all.String(), "[en-es]") {
		t.Errorf("the events carry no translation: %s", all.String())
	}

	// Control: without redaction the engine receives the values.
	chat(t, td, td.Admin, engagementRequest{Queue: "open", Channel: "chat"}, spanish...)
	if !strings.Contains(received.String(), cardWritten) || !strings.Contains(received.String(), emailWritten) {
		t.Errorf("without redaction the engine did not receive the values: %q", received.String())
	}

	td.stop(t)
	db, err := os.ReadFile(filepath.Join(td.cfg.DataDir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if l := leaked(string(db)); l != nil {
		t.Errorf("%s holds %v", store.DBFile, l)
	}
}

// TestRedactionTranslations: the hub redacts the translations a chat
// message carries (an engine may write a value out in its own way), and
// withdraws them when the stored message is redacted further than the
// text they were made from: a card number begun in the customer's
// previous message.
func TestRedactionTranslations(t *testing.T) {
	counted, _ := redact.New(redact.DefaultPolicy(), nil)
	quiet, _ := redact.New(redact.DefaultPolicy(), nil)
	e, _ := counted.NewEngagement(redact.SourceChat, redact.StreamConfig{})
	er := &engagementRedactor{e: e, quiet: quiet, logger: slog.New(slog.DiscardHandler), frames: map[uint64]store.Segment{}}
	now := time.Now()
	msg := func(id uint64, text string, translations ...string) []hub.Redacted {
		seg := store.Segment{Speaker: "customer", Text: text, Final: true, Lang: "es"}
		for _, x := range translations {
			seg.Translations = append(seg.Translations, store.Translation{Lang: "en", Text: x, Engine: "libretranslate"})
		}
		return er.Final(id, seg, false, now)
	}
	// The engine wrote an address the message did not show as one.
	got := msg(1, "escríbeme a jane arroba example punto com", "write to me at jane.doe@example.com")
	if len(got) != 1 || got[0].Seg.Translations[0].Text != "write to me at [EMAIL]" || got[0].Seg.Translations[0].Notice != "" {
		t.Errorf("translation %+v, want the address redacted", got)
	}
	// The card begins in one message and ends in the next.
	msg(2, "mi tarjeta es 4111 1111", "my card is 4111 1111")
	got = msg(3, "1111 1111", "1111 1111")
	var last, revised *hub.Redacted
	for i := range got {
		if got[i].Revised {
			revised = &got[i]
		} else {
			last = &got[i]
		}
	}
	if last == nil || last.Seg.Text != "[CARD ending 1111]" {
		t.Fatalf("releases %+v, want the second half redacted", got)
	}
	for _, r := range []*hub.Redacted{last, revised} {
		if r == nil {
			t.Fatalf("releases %+v, want the first message revised", got)
		}
		tr := r.Seg.Translations[0]
		if tr.Notice != NoticeRedacted || tr.Text != r.Seg.Text || strings.Contains(tr.Text, "1111 1111") {
			t.Errorf("segment %d: translation %+v, want it withdrawn", r.ID, tr)
		}
	}
}

// TestRedactionUnredactedCopy: a queue whose policy keeps an unredacted
// copy stores the originals of the messages redaction changed, sealed
// under a key of their own. The compliance role (scoped to the queue)
// reads them, and each read is audited; every other role is refused with
// no content, a compliance officer of another queue gets 404, and a queue
// whose policy keeps no copy has none. The raw database file holds
// neither the values nor the redacted text in plain text; a purge takes
// the copy with the engagement.
func TestRedactionUnredactedCopy(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Redaction.Queues = map[string]RedactionPolicy{"secure": {UnredactedCopy: true, UnredactedRetentionDays: 3}}
	})
	for _, q := range []string{"secure", "nocopy"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/pii_redaction", map[string]bool{"enabled": true}, 200)
	conversation := []messageRequest{
		{"customer", "Hi, I want to pay by card. The number is " + cardWritten + "."},
		{"agent", "Thank you. Can I have your social security number and email for the receipt?"},
		{"customer", "My SSN is " + ssnWritten + " and you can email me at " + emailWritten + " please."},
	}
	id := chat(t, td, td.Admin, engagementRequest{Queue: "secure", Channel: "chat"}, conversation...)
	noCopy := chat(t, td, td.Admin, engagementRequest{Queue: "nocopy", Channel: "chat"}, conversation...)

	compliance := td.tokenFor(t, "cora", RoleCompliance, "secure")
	var got struct {
		Segments       []store.Segment
		UnredactedSeqs []uint32 `json:"unredacted_seqs"`
	}
	json.Unmarshal(td.mustCall(t, compliance, "GET", "/api/v1/engagements/"+id+"/unredacted", nil, 200), &got)
	if len(got.Segments) != 3 || got.Segments[0].Text != conversation[0].Text || got.Segments[1].Text != conversation[1].Text ||
		got.Segments[2].Text != conversation[2].Text || !slices.Equal(got.UnredactedSeqs, []uint32{0, 2}) {
		t.Errorf("unredacted transcript = %+v, want the three messages as written, 0 and 2 restored", got)
	}
	var audit []store.AuditEntry
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?actor=cora&engagement="+id, nil, 200), &audit)
	if len(audit) != 1 || audit[0].Action != "content.read" || audit[0].Feature != "unredacted" {
		t.Errorf("audit of the compliance read = %+v, want one content.read of the unredacted copy", audit)
	}
	td.mustCall(t, compliance, "GET", "/api/v1/engagements/"+noCopy+"/unredacted", nil, 404)
	// The redacted transcript is not theirs to read.
	td.mustCall(t, compliance, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 403)

	others := map[string]string{"admin": td.Admin}
	for _, r := range []Role{RoleSupervisor, RoleAgent, RoleAnalyst, RoleAuditor, RoleIngest} {
		others[string(r)] = td.tokenFor(t, "u-"+string(r), r, "secure")
	}
	others["compliance of another queue"] = td.tokenFor(t, "carl", RoleCompliance, "nocopy")
	for who, tok := range others {
		code, body := td.call(t, tok, "GET", "/api/v1/engagements/"+id+"/unredacted", nil)
		if code != 403 && code != 404 {
			t.Errorf("%s reading the unredacted copy = %d, want 403 or 404", who, code)
		}
		if l := leaked(string(body)); l != nil {
			t.Errorf("%s was answered %v", who, l)
		}
	}

	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: id, Reason: "erasure request"}, 200)
	td.mustCall(t, compliance, "GET", "/api/v1/engagements/"+id+"/unredacted", nil, 404)
	td.stop(t)
	for _, f := range []string{store.DBFile, store.KeysFile} {
		raw, err := os.ReadFile(filepath.Join(td.cfg.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if l := leaked(string(raw)); l != nil {
			t.Errorf("%s holds %v", f, l)
		}
		if bytes.Contains(raw, []byte("[CARD ending 1111]")) {
			t.Errorf("%s holds the redacted transcript in plain text", f)
		}
	}
}

// TestRedactionQueuePolicyAPI: an administrator sets a queue's policy
// through the API; it overrides the configuration file's for new
// engagements, survives a restart, is audited, refuses invalid fields
// with the field named, and clearing it brings the file's policy back.
func TestRedactionQueuePolicyAPI(t *testing.T) {
	dataDir := t.TempDir()
	mod := func(c *Config) {
		c.DataDir = dataDir
		c.Redaction.Queues = map[string]RedactionPolicy{"secure": {Replacement: "generic"}}
	}
	td := startDaemon(t, mod)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "secure"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/pii_redaction", map[string]bool{"enabled": true}, 200)
	message := messageRequest{"customer", "Card " + cardWritten + ", mail " + emailWritten + "."}
	transcript := func(td *testDaemon) string {
		id := chat(t, td, td.Admin, engagementRequest{Queue: "secure", Channel: "chat"}, message)
		var tr struct{ Segments []store.Segment }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200), &tr)
		if len(tr.Segments) != 1 {
			t.Fatalf("%d segments, want 1", len(tr.Segments))
		}
		return tr.Segments[0].Text
	}
	view := func(td *testDaemon) queueRedactionView {
		var v queueRedactionView
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/settings/redaction/queues/secure", nil, 200), &v)
		return v
	}
	if v := view(td); v.Source != "configuration" || v.Policy.Replacement != "generic" || !v.Enabled {
		t.Errorf("before: %+v, want the configuration's generic policy, enabled", v)
	}
	if got, want := transcript(td), "Card [REDACTED], mail [REDACTED]."; got != want {
		t.Errorf("with the configuration's policy: %q, want %q", got, want)
	}

	// Invalid policies: the field is named, nothing changes.
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"types": []string{"email", "passport"}}, "types[1]"},
		{map[string]any{"replacement": "stars"}, "replacement"},
		{map[string]any{"unredacted_retention_days": 3}, "unredacted_retention_days"},
		{map[string]any{"unredacted_copy": true, "unredacted_retention_days": 99999}, "unredacted_retention_days"},
	} {
		code, body := td.call(t, td.Admin, "PUT", "/api/v1/settings/redaction/queues/secure", c.body)
		var prob struct{ Field string }
		json.Unmarshal(body, &prob)
		if code != 400 || prob.Field != c.field {
			t.Errorf("PUT %v = %d %s, want 400 naming %s", c.body, code, body, c.field)
		}
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/redaction/queues/secure", map[string]any{"colour": "red"}, 400)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/redaction/queues/nowhere", map[string]any{}, 404)
	if v := view(td); v.Source != "configuration" {
		t.Errorf("after refused changes: %+v, want the configuration's policy", v)
	}

	// E-mail addresses only, type labels, with a copy.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/redaction/queues/secure",
		map[string]any{"types": []string{"email"}, "replacement": "type", "unredacted_copy": true}, 200)
	if v := view(td); v.Source != "api" || v.UnredactedCopyDays != defaultUnredactedDays || !slices.Equal(v.Policy.Types, []string{"email"}) {
		t.Errorf("after PUT: %+v, want the API's policy with a %d-day copy", v, defaultUnredactedDays)
	}
	if got, want := transcript(td), "Card "+cardWritten+", mail [EMAIL]."; got != want {
		t.Errorf("with the API's policy: %q, want %q", got, want)
	}
	var audit []store.AuditEntry
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?action=redaction.policy.set", nil, 200), &audit)
	if len(audit) != 1 || audit[0].Target != "secure" {
		t.Errorf("audit = %+v, want one redaction.policy.set of secure", audit)
	}

	// The policy is stored: it holds after a restart.
	td.stop(t)
	td = startDaemon(t, mod)
	if v := view(td); v.Source != "api" || v.Policy.Replacement != "type" {
		t.Errorf("after a restart: %+v, want the API's policy", v)
	}
	var all struct {
		Account accountRedactionView
		Queues  []queueRedactionView
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/settings/redaction", nil, 200), &all)
	if len(all.Queues) != 1 || all.Queues[0].Source != "api" {
		t.Errorf("settings = %+v, want secure's API policy", all)
	}

	td.mustCall(t, td.Admin, "DELETE", "/api/v1/settings/redaction/queues/secure", nil, 204)
	if v := view(td); v.Source != "configuration" {
		t.Errorf("after DELETE: %+v, want the configuration's policy", v)
	}
	if got, want := transcript(td), "Card [REDACTED], mail [REDACTED]."; got != want {
		t.Errorf("after DELETE: %q, want %q", got, want)
	}

	// The account's policy applies to a queue with none of its own; it
	// too is stored, and clearing it (also across a restart) brings the
	// file's back.
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "plain"}, 201)
	plain := func(td *testDaemon) string {
		id := chat(t, td, td.Admin, engagementRequest{Queue: "plain", Channel: "chat"}, message)
		var tr struct{ Segments []store.Segment }
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200), &tr)
		return tr.Segments[0].Text
	}
	if got, want := plain(td), "Card [CARD ending 1111], mail [EMAIL]."; got != want {
		t.Errorf("with the file's account policy: %q, want %q", got, want)
	}
	code, body := td.call(t, td.Admin, "PUT", "/api/v1/settings/redaction/account", map[string]any{"types": []string{"cheque"}})
	if code != 400 || !strings.Contains(string(body), `"field":"types[0]"`) {
		t.Errorf("PUT account with an unknown type = %d %s, want 400 naming types[0]", code, body)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/redaction/account", map[string]any{"types": []string{"card"}, "replacement": "type"}, 200)
	if got, want := plain(td), "Card [CARD], mail "+emailWritten+"."; got != want {
		t.Errorf("with the API's account policy: %q, want %q", got, want)
	}
	if v := view(td); v.Source != "configuration" {
		t.Errorf("secure after the account's change: %+v, want its configuration's policy", v)
	}
	td.stop(t)
	td = startDaemon(t, mod)
	if got, want := plain(td), "Card [CARD], mail "+emailWritten+"."; got != want {
		t.Errorf("after a restart: %q, want %q", got, want)
	}
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/settings/redaction/account", nil, 204)
	td.stop(t)
	td = startDaemon(t, mod)
	if got, want := plain(td), "Card [CARD ending 1111], mail [EMAIL]."; got != want {
		t.Errorf("after clearing the account's policy and a restart: %q, want %q", got, want)
	}
}

// TestRedactionPaymentStepDTMF: keypad digits of a Twilio media stream
// (real WebSocket client) reach the event stream as today, except during
// a payment step, when the dtmf events say only that a key was pressed.
// The step's start and end are published and audited, and the digits
// keyed in during it reach neither the events, the transcript, the logs
// nor the database file.
func TestRedactionPaymentStepDTMF(t *testing.T) {
	var logs lockedBuffer
	td := startDaemonLogged(t, nil, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	tok := td.tokenFor(t, "twilio", RoleIngest, "cards")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+tok, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	seq := 0
	send := func(m map[string]any) {
		seq++
		m["sequenceNumber"], m["streamSid"] = strconv.Itoa(seq), "MZ1"
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"event":"connected","protocol":"Call","version":"1.0.0"}`))
	send(map[string]any{"event": "start", "start": map[string]any{
		"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": []string{"inbound"},
		"customParameters": map[string]string{"queue": "cards"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
	var id string
	waitUntil(t, "the stream's engagement", func() bool {
		var list []store.Engagement
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=cards", nil, 200), &list)
		if len(list) == 1 {
			id = list[0].ID
		}
		return id != ""
	})
	l, ok := td.hub.Get(id)
	if !ok {
		t.Fatal("the engagement is not live")
	}
	dtmf := func() []map[string]any {
		evs, _, _, _ := l.Since(0)
		var out []map[string]any
		for _, ev := range evs {
			if ev.Type == "dtmf" {
				var m map[string]any
				json.Unmarshal(ev.Data, &m)
				out = append(out, m)
			}
		}
		return out
	}
	key := func(digits string) {
		n := len(dtmf())
		for _, d := range digits {
			send(map[string]any{"event": "dtmf", "dtmf": map[string]string{"track": "inbound_track", "digit": string(d)}})
		}
		waitUntil(t, "the digits' events", func() bool { return len(dtmf()) == n+len(digits) })
	}
	agent := td.tokenFor(t, "u-agent", RoleAgent, "cards")
	key("1") // a menu choice
	td.mustCall(t, tok, "PUT", "/api/v1/engagements/"+id+"/payment-step", map[string]any{"active": true}, 200)
	key("4111111111111111")
	td.mustCall(t, tok, "PUT", "/api/v1/engagements/"+id+"/payment-step", map[string]any{"active": false}, 200)
	key("#")
	td.mustCall(t, agent, "PUT", "/api/v1/engagements/"+id+"/payment-step", map[string]any{"active": true}, 404) // not their engagement
	td.mustCall(t, tok, "PUT", "/api/v1/engagements/"+id+"/payment-step", map[string]any{}, 400)

	got := dtmf()
	if len(got) != 18 || got[0]["digit"] != "1" || got[17]["digit"] != "#" {
		t.Fatalf("dtmf events = %v, want 18: the menu choice, 16 masked, #", got)
	}
	for i, m := range got[1:17] {
		if _, ok := m["digit"]; ok || m["masked"] != true {
			t.Errorf("dtmf event %d during the payment step = %v, want masked", i+1, m)
		}
	}
	var steps []string
	evs, _, _, _ := l.Since(0)
	for _, ev := range evs {
		if ev.Type == hub.EventPaymentStep {
			steps = append(steps, string(ev.Data))
		}
	}
	if !slices.Equal(steps, []string{`{"active":true}`, `{"active":false}`}) {
		t.Errorf("payment.step events = %v", steps)
	}
	var audit []store.AuditEntry
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?engagement="+id, nil, 200), &audit)
	var actions []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "engagement.payment_step") {
			actions = append(actions, a.Action+" by "+a.Actor)
		}
	}
	if !slices.Equal(actions, []string{"engagement.payment_step.start by twilio", "engagement.payment_step.end by twilio"}) {
		t.Errorf("audit = %v, want the start and the end by the ingest client", actions)
	}

	send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC1", "callSid": "CA1"}})
	c.Close(websocket.StatusNormalClosure, "")
	waitEnded(t, td, id)
	var all strings.Builder
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", td.Admin, "", 0, 20*time.Second) {
		all.WriteString(ev.Data)
	}
	all.WriteString(string(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200)))
	all.WriteString(logs.String())
	if strings.Contains(all.String(), `"digit":"4"`) {
		t.Errorf("a digit keyed during the payment step was shown: %s", all.String())
	}
	td.stop(t)
	raw, err := os.ReadFile(filepath.Join(td.cfg.DataDir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"digit":"4"`)) || bytes.Contains(raw, []byte("4111111111111111")) {
		t.Errorf("%s holds a digit keyed during the payment step", store.DBFile)
	}
}
