package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/translate"
	"github.com/earshot/earshot/store"
)

// needApertium ends a test that needs Debian's Apertium pairs: it fails
// under CI, where `make test` installs DEBS_TEST, and skips elsewhere.
func needApertium(t *testing.T, td *testDaemon) {
	t.Helper()
	if td.translator != nil {
		return
	}
	msg := "Apertium not installed; install apertium apertium-eng-spa (make deps)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestChatAutoTranslate: a Spanish-speaking customer and an
// English-speaking agent chat with auto_translate on. Each message keeps
// its original and its translation, both sealed; the transcript and the
// events carry both; the analyzers read English, so the customer's Spanish
// complaint gets the same sentiment and next best action as the English
// one; switching the feature off stops translation.
func TestChatAutoTranslate(t *testing.T) {
	td := startDaemon(t, nil)
	needApertium(t, td)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/ana", userRequest{ID: "ana", Role: "agent", Queues: []string{"cards"}, Licensed: true, Language: "en"}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/ana", userRequest{ID: "ana", Role: "agent", Language: "tlh"}, 400)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)
	trainIntents(t, td)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/next-best-actions", []map[string]any{
		{"intent": "lost_card", "action": "Block the card and order a replacement"},
	}, 200)

	spanish := []messageRequest{
		{"customer", "Hola, creo que mi tarjeta fue robada ayer."},
		{"agent", "I am very sorry. I will block the card now."},
		{"customer", "Esto es ridículo, es la tercera vez que pasa. Quiero hablar con un gerente ahora mismo."},
	}
	english := []messageRequest{
		{"customer", "Hello, I think my card was stolen yesterday."},
		{"agent", "I am very sorry. I will block the card now."},
		{"customer", "This is ridiculous, it is the third time this happens. I want to speak to a manager right now."},
	}
	es := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, spanish...)
	en := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, english...)

	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+es+"/transcript", nil, 200), &tr)
	if len(tr.Segments) != 3 {
		t.Fatalf("transcript has %d segments, want 3", len(tr.Segments))
	}
	id, _ := translate.NewIdentifier(translate.DefaultIdentifierConfig())
	// The agent reads the customer in English, the customer the agent in
	// Spanish; the originals stay.
	for i, want := range []struct{ orig, lang, readerLang string }{{spanish[0].Text, "es", "en"}, {spanish[1].Text, "en", "es"}, {spanish[2].Text, "es", "en"}} {
		g := tr.Segments[i]
		read := g.TextIn(want.readerLang)
		if g.Text != want.orig || g.Lang != want.lang || read == g.Text || string(id.Detect(read).Lang) != want.readerLang {
			t.Errorf("segment %d: text %q lang %q, read in %s as %q; want the original in %s and a translation", i, g.Text, g.Lang, want.readerLang, read, want.lang)
		}
	}
	if got := tr.Segments[0].TextIn("en"); !strings.Contains(got, "card was stolen") {
		t.Errorf("customer's first message in English: %q", got)
	}
	var content []string // every original and translation of the Spanish chat
	for _, g := range tr.Segments {
		content = append(content, g.Text)
		for _, x := range g.Translations {
			content = append(content, x.Text)
		}
	}

	// The events carry both texts, and the analyzers fired alike.
	evES, evEN := events(t, td, agent, es), events(t, td, agent, en)
	finals := evES[hub.EventTranscriptFinal]
	if len(finals) != 3 || !strings.Contains(finals[0].Data, "tarjeta fue robada") || !strings.Contains(finals[0].Data, "card was stolen") {
		t.Errorf("transcript events do not carry the original and the translation: %v", finals)
	}
	for _, typ := range []string{EventNextBestAction, EventSentiment} {
		if len(evES[typ]) == 0 || len(evES[typ]) != len(evEN[typ]) {
			t.Errorf("%s events: %d on the Spanish chat, %d on the English one", typ, len(evES[typ]), len(evEN[typ]))
		}
	}
	if len(evES[EventNextBestAction]) > 0 && !strings.Contains(evES[EventNextBestAction][0].Data, "Block the card") {
		t.Errorf("next best action on the Spanish chat: %s", evES[EventNextBestAction][0].Data)
	}
	label := func(evs []sseEvent) string {
		if len(evs) == 0 {
			return ""
		}
		var d struct{ Sentiment struct{ Label string } }
		json.Unmarshal([]byte(evs[len(evs)-1].Data), &d)
		return d.Sentiment.Label
	}
	if l, want := label(evES[EventSentiment]), label(evEN[EventSentiment]); l != "negative" || l != want {
		t.Errorf("sentiment of the complaint: %q in Spanish, %q in English; want negative for both", l, want)
	}

	// Switched off for the queue, messages are stored as written only.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/auto_translate", map[string]bool{"enabled": false}, 200)
	off := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, spanish[0])
	var offTr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+off+"/transcript", nil, 200), &offTr)
	if len(offTr.Segments) != 1 || len(offTr.Segments[0].Translations) != 0 || offTr.Segments[0].Lang != "" {
		t.Errorf("with auto_translate off: %+v", offTr.Segments)
	}

	// Neither the originals nor the translations are in the database file
	// in plain text.
	td.stop(t)
	raw, err := os.ReadFile(filepath.Join(td.cfg.DataDir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(content) != 6 {
		t.Errorf("%d texts in the Spanish chat, want 3 originals and 3 translations", len(content))
	}
	for _, s := range append(content, "tarjeta fue robada", "ridículo", "stolen yesterday", "manager right now") {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%s holds %q in plain text", store.DBFile, s)
		}
	}
}

// TestChatAutoTranslateEngines puts a LibreTranslate server before
// Apertium. The server is a stand-in (LibreTranslate's models cannot run
// here) that answers POST /translate as LibreTranslate does, with a fixed
// reply, and fails with status 500 once told to; Apertium then translates.
func TestChatAutoTranslateEngines(t *testing.T) {
	var fail atomic.Bool
	var calls atomic.Int32
	lt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Q, Source, Target string }
		if r.Method != "POST" || r.URL.Path != "/translate" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Q == "" {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "Invalid request"})
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if fail.Load() {
			w.WriteHeader(500)
			json.NewEncoder(w).Encode(map[string]string{"error": "Cannot translate text"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"translatedText": "[" + req.Source + "-" + req.Target + "] hello, my card was stolen"})
	}))
	defer lt.Close()
	td := startDaemon(t, func(c *Config) {
		c.Translate.Engines = []string{"libretranslate"}
		c.Translate.LibreTranslate.URL = lt.URL
	})
	needApertium(t, td)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)
	msg := messageRequest{"customer", "Hola, creo que mi tarjeta fue robada ayer."}
	first := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, msg)
	fail.Store(true)
	second := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, msg)
	for _, c := range []struct {
		id, engine, text string
	}{{first, "libretranslate", "[es-en] hello, my card was stolen"}, {second, "apertium", "Hello, I think that my card was stolen yesterday."}} {
		var tr struct{ Segments []store.Segment }
		json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+c.id+"/transcript", nil, 200), &tr)
		if len(tr.Segments) != 1 || len(tr.Segments[0].Translations) != 1 ||
			tr.Segments[0].Translations[0].Engine != c.engine || tr.Segments[0].Translations[0].Text != c.text {
			t.Errorf("translations %+v, want %s's %q", tr.Segments, c.engine, c.text)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("LibreTranslate asked %d times, want 2", calls.Load())
	}
}

// TestChatLanguageChoice: the customer chooses Portuguese although the
// first message reads as Spanish; the agent's later replies are translated
// into Portuguese, both sides are told by an event, and bad requests get a
// problem naming the field.
func TestChatLanguageChoice(t *testing.T) {
	td := startDaemon(t, nil)
	needApertium(t, td)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest := td.tokenFor(t, "web", RoleIngest, "cards") // an ingest user feeds its own queues
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/ana", userRequest{ID: "ana", Role: "agent", Queues: []string{"cards"}, Licensed: true, Language: "en"}, 200)

	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)
	lang := "/api/v1/engagements/" + e.ID + "/language"
	msgs := "/api/v1/engagements/" + e.ID + "/messages"
	// Off by default: nothing to set.
	td.mustCall(t, ingest, "PUT", lang, languageRequest{Language: "pt"}, 409)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)

	td.mustCall(t, ingest, "POST", msgs, messageRequest{Sender: "customer", Text: "Hola, mi tarjeta fue robada ayer por la tarde."}, 201)
	if status, body := td.call(t, ingest, "PUT", lang, languageRequest{Language: "klingon"}); status != 400 || !strings.Contains(string(body), `"field":"language"`) {
		t.Errorf("unknown language: %d %s, want 400 naming the field", status, body)
	}
	var got struct{ Language, Source string }
	json.Unmarshal(td.mustCall(t, ingest, "PUT", lang, languageRequest{Language: "pt"}, 200), &got)
	if got.Language != "pt" || got.Source != translate.SourceCustomer {
		t.Fatalf("language answer = %+v, want pt chosen by the customer", got)
	}
	td.mustCall(t, agent, "POST", msgs, messageRequest{Sender: "agent", Text: "I am very sorry. I will block the card now."}, 201)

	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200), &tr)
	if len(tr.Segments) != 2 {
		t.Fatalf("transcript has %d segments, want 2", len(tr.Segments))
	}
	reply := tr.Segments[1]
	var pt *store.Translation
	for i := range reply.Translations {
		if reply.Translations[i].Lang == "pt" {
			pt = &reply.Translations[i]
		}
	}
	id, _ := translate.NewIdentifier(translate.DefaultIdentifierConfig())
	if pt == nil || pt.Text == reply.Text || id.Detect(pt.Text).Lang != "pt" {
		t.Errorf("agent reply translations = %+v, want one into Portuguese", reply.Translations)
	}
	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	// The stream of an ended engagement closes after its last event.
	evs := readSSE(t, td.URL+"/api/v1/engagements/"+e.ID+"/events", agent, "", 0, 30*time.Second)
	var saw bool
	for _, ev := range evs {
		saw = saw || (ev.Type == EventLanguage && strings.Contains(ev.Data, `"pt"`))
	}
	if !saw {
		t.Errorf("events = %+v, want a %s event", evs, EventLanguage)
	}
	td.mustCall(t, ingest, "PUT", lang, languageRequest{Language: "es"}, 409)
}

// TestChatResultsInAgentLanguage: after an English chat handled by a
// Spanish-speaking agent, the summary, notes and follow-up tasks the agent
// reads are in Spanish; with auto_translate off they stay in the analysis
// language.
func TestChatResultsInAgentLanguage(t *testing.T) {
	td := startDaemon(t, nil)
	needApertium(t, td)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/ana", userRequest{ID: "ana", Role: "agent", Queues: []string{"cards"}, Licensed: true, Language: "es"}, 200)
	id, _ := translate.NewIdentifier(translate.DefaultIdentifierConfig())
	results := func(e string) (summary, notes, tasks string) {
		t.Helper()
		var res struct {
			Results map[string]json.RawMessage `json:"results"`
		}
		json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+e+"/results", nil, 200), &res)
		var s struct{ Text string }
		var n struct{ Reason, Actions, Outcome string }
		var ts []struct{ Text string }
		json.Unmarshal(res.Results["engagement_summary"], &s)
		json.Unmarshal(res.Results["smart_notes"], &n)
		json.Unmarshal(res.Results["follow_up_tasks"], &ts)
		var all []string
		for _, x := range ts {
			all = append(all, x.Text)
		}
		return s.Text, strings.Join([]string{n.Reason, n.Actions, n.Outcome}, " "), strings.Join(all, " ")
	}

	before, _, _ := results(chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, angryCall...))
	if before == "" || id.Detect(before).Lang != "en" {
		t.Fatalf("summary with auto_translate off = %q, want English", before)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)
	summary, notes, tasks := results(chat(t, td, td.Admin, engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, angryCall...))
	for name, text := range map[string]string{"summary": summary, "notes": notes, "tasks": tasks} {
		if strings.TrimSpace(text) == "" {
			t.Errorf("%s is empty", name)
			continue
		}
		if got := id.Detect(text).Lang; got != "es" {
			t.Errorf("%s for a Spanish-speaking agent reads as %q: %q", name, got, text)
		}
	}
}

// TestBotSpeaksTheCustomersLanguage: the card-services bot, designed in
// English, serves a Spanish-speaking customer over the chat WebSocket with
// auto_translate on: it understands the Spanish message (it reads the
// analysis language) and answers in Spanish; the stored transcript keeps
// the bot's original with its translation.
func TestBotSpeaksTheCustomersLanguage(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	needApertium(t, td)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]bool{"enabled": true}, 200)
	w, _, err := dialChat(t, wsURL(td, "/api/v1/bots/card-services/chat?access_token="+env.ingest), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := w.next(t, 10*time.Second, "session")
	w.botSays(t, 1) // the greeting, before the customer's language is known
	w.send(t, "Hola, creo que perdí mi tarjeta en el restaurante, la que termina en 9876.")
	got := w.botSays(t, 1)
	id, _ := translate.NewIdentifier(translate.DefaultIdentifierConfig())
	if !strings.Contains(got[0], "9876") || id.Detect(got[0]).Lang != "es" {
		t.Fatalf("the bot's answer to a Spanish message = %q, want a Spanish confirmation of the card ending 9876", got[0])
	}
	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+s.Conversation+"/transcript", nil, 200), &tr)
	var bot *store.Segment
	for i := range tr.Segments {
		if tr.Segments[i].Speaker == "bot" && strings.Contains(tr.Segments[i].Text, "9876") {
			bot = &tr.Segments[i]
		}
	}
	if bot == nil || id.Detect(bot.Text).Lang != "en" || bot.TextIn("es") == bot.Text {
		t.Errorf("stored bot message = %+v, want the English original with a Spanish translation", bot)
	}
}
