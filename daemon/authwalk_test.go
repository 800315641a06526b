package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/store"
)

// The authorisation walker: every operation of the OpenAPI document (which
// TestOpenAPICoversRoutes keeps equal to the route table) is called by
// every role, for every relation between the caller and the operation's
// target, with every state of the caller's token. Content planted in
// another queue (canaries) must never come back to a caller outside it, in
// any response body or event; customer content never comes back from the
// routes that carry none (audit, backups, metrics) or in the logs.
//
// Each route needs a row in policy (its roles). Its target is inferred
// from its path and its OpenAPI parameters (a {queue} or ?queue= or body
// queue, an engagement or user ID); targetOverrides holds the exceptions.
// A route with no policy row, or whose target cannot be inferred, fails
// the walk.

// relation is how the target of a call relates to its caller.
type relation string

const (
	relOwn     relation = "own"        // the caller's own (agent: assigned to them; ingest: made by their token)
	relSame    relation = "same-queue" // in the caller's queue, someone else's
	relOther   relation = "other-queue"
	relNoQueue relation = "no-queue" // no queue given: the caller's whole scope
)

var relations = []relation{relOwn, relSame, relOther, relNoQueue}

// tokenState is the state of the caller's token.
type tokenState string

const (
	tokValid    tokenState = "valid"
	tokRevoked  tokenState = "revoked"
	tokExpired  tokenState = "expired"
	tokDisabled tokenState = "disabled-user"
)

var tokenStates = []tokenState{tokValid, tokRevoked, tokExpired, tokDisabled}

// targetKind is what a route's path names.
type targetKind string

const (
	targetNone       targetKind = "none" // nothing, or a queue given as a parameter or in the body
	targetEngagement targetKind = "engagement"
	targetQueue      targetKind = "queue"
	targetUser       targetKind = "user"
	targetArticle    targetKind = "article"
	targetWHIP       targetKind = "whip-session"
	targetAdmin      targetKind = "admin-only" // only administrators call it: fresh targets per call
	// targetDocument is a stored document named by its ID (a schedule, a
	// scorecard, an evaluation, a topic, a bot, a hand-over) that the
	// feature's own tests make and scope; the walker names one that does
	// not exist, so an admitted call may get 404, never 401 or 403.
	targetDocument targetKind = "document"
)

// targetOverrides holds routes whose target the path does not tell.
var targetOverrides = map[string]targetKind{
	"GET /api/v1/training/{job}":                                targetAdmin,
	"PUT /api/v1/settings/features/queues/{queue}/{feature}":    targetAdmin,
	"DELETE /api/v1/settings/features/queues/{queue}/{feature}": targetAdmin,
	"PUT /api/v1/settings/features/users/{user}/{feature}":      targetAdmin,
	"DELETE /api/v1/settings/features/users/{user}/{feature}":   targetAdmin,
}

// inferTarget tells a route's target from its path; ok is false when it
// cannot (the route then needs a targetOverrides row).
func inferTarget(key string, roles []Role) (targetKind, bool) {
	if k, ok := targetOverrides[key]; ok {
		return k, true
	}
	pattern := strings.SplitN(key, " ", 2)[1]
	if documentPrefix(pattern) {
		return targetDocument, true
	}
	if slices.Equal(roles, adminOnly) {
		return targetAdmin, true
	}
	switch {
	case !strings.Contains(pattern, "{"):
		return targetNone, true
	case strings.HasPrefix(pattern, "/api/v1/engagements/{id}"):
		return targetEngagement, true
	case strings.HasPrefix(pattern, "/api/v1/queues/{"):
		return targetQueue, true
	case strings.HasPrefix(pattern, "/api/v1/users/{id}"):
		return targetUser, true
	case strings.HasPrefix(pattern, "/api/v1/kb/articles/{id}"):
		return targetArticle, true
	case strings.HasPrefix(pattern, "/api/v1/ingest/whip/{id}"):
		return targetWHIP, true
	}
	return "", false
}

// mayReach reports whether a role the route admits may reach a target in
// relation rel: administrators reach everything; agents their own
// engagements; others what is in their queues; users only themselves.
func mayReach(kind targetKind, role Role, rel relation) bool {
	if role == RoleAdmin {
		return true
	}
	switch kind {
	case targetEngagement:
		return rel == relOwn || rel == relNoQueue || rel == relSame && role != RoleAgent
	case targetUser, targetWHIP:
		return rel == relOwn || rel == relNoQueue
	case targetDocument:
		// The walker's placeholder belongs to no queue: the feature's
		// tests check documents of other queues.
		return true
	}
	return rel != relOther
}

// documentPrefix reports whether a path names a feature's stored
// document by ID (see targetDocument).
func documentPrefix(pattern string) bool {
	for _, p := range []string{"/api/v1/wfm/", "/api/v1/scorecards/{", "/api/v1/evaluations/{", "/api/v1/topics/{",
		"/api/v1/bots/{", "/api/v1/handovers/{", "/chat/{"} {
		if strings.HasPrefix(pattern, p) {
			return true
		}
	}
	return false
}

// inputRoutes need inputs the walker does not make (an installed plugin, a
// skill, a WebSocket upgrade): an admitted call only has to pass
// authentication, role and scope (plugins_test.go, media_test.go and
// ingestscope_test.go test them working).
var inputRoutes = map[string]bool{
	"GET /api/v1/ingest/stream": true,
	"POST /api/v1/plugins":      true, "PUT /api/v1/plugins/{name}/settings": true, "PATCH /api/v1/plugins/{name}/settings": true,
	"POST /api/v1/plugins/{name}/restart": true, "DELETE /api/v1/plugins/{name}": true,
	"POST /api/v1/plugins/{name}/sync": true, "POST /api/v1/engagements/{id}/actions": true,
	// Needs Apertium and auto_translate on (409 otherwise): translate_test.go.
	"PUT /api/v1/engagements/{id}/language": true,
	// Need an engagement with an unredacted copy, or analysed and
	// evaluated: redaction_test.go, api_qm_test.go. TestAuthorizationMatrix
	// calls every route below with inputs that succeed.
	"GET /api/v1/engagements/{id}/unredacted": true, "POST /api/v1/engagements/{id}/evaluations": true,
	"GET /api/v1/engagements/{id}/analytics": true,
	// Need a valid document in the body (a scorecard, a bot definition, a
	// roster and a stored forecast) or twenty ended engagements:
	// api_qm_test.go, bots_test.go, api_wfm_test.go.
	"POST /api/v1/scorecards": true, "POST /api/v1/bots": true, "POST /api/v1/wfm/schedules": true,
	"GET /api/v1/reports/calibration": true, "POST /api/v1/topics/discover": true,
}

// contentFree routes never carry customer content, whoever calls them.
var contentFree = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /api/v1/openapi.json": true, "GET /api/v1/version": true,
	"GET /api/v1/audit": true, "GET /api/v1/audit/export": true, "GET /api/v1/audit/verify": true,
	"GET /api/v1/backup/content": true, "GET /api/v1/backup/keys": true, "GET /api/v1/sinks/outbox": true,
	"GET /api/v1/tokens": true,
}

// rawBodies are request bodies that are not JSON.
var rawBodies = map[string]struct{ ctype, body string }{
	"POST /api/v1/ingest/whip":       {"application/sdp", minimalOffer},
	"PATCH /api/v1/ingest/whip/{id}": {"application/trickle-ice-sdpfrag", "a=mid:0\r\n"},
}

// openAPIOp is what the walker reads of an operation.
type openAPIOp struct {
	Parameters []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	RequestBody struct {
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

// queueInput tells where an operation takes a queue (query or body) and
// whether it must be given.
func queueInput(t *testing.T, op openAPIOp) (where string, required bool) {
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == "queue" {
			return "query", p.Required
		}
	}
	if c, ok := op.RequestBody.Content["application/json"]; ok {
		var s struct {
			Ref        string                     `json:"$ref"`
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		json.Unmarshal(c.Schema, &s)
		if s.Ref != "" {
			var doc struct {
				Components struct {
					Schemas map[string]json.RawMessage `json:"schemas"`
				} `json:"components"`
			}
			json.Unmarshal(openAPIDoc, &doc)
			json.Unmarshal(doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], &s)
		}
		if _, ok := s.Properties["queue"]; ok {
			return "body", slices.Contains(s.Required, "queue")
		}
	}
	return "", false
}

// world is the walker's fixture: two queues, a user per role in the first,
// colleagues and a second queue full of canaries.
type world struct {
	t    *testing.T
	td   *testDaemon
	logs *syncBuffer
	// tokens[role][state] is a secret; users[role] the valid user's ID.
	tokens map[Role]map[tokenState]string
	users  map[Role]string
	// live and ended engagements, and users, by relation (for an agent,
	// own is the one assigned to u-agent; same, to its colleague).
	live, ended, people map[relation]string
	job                 uint64
	// ingest tokens for WHIP sessions by relation.
	whipTokens map[relation]string
	// content canaries are customer content of the other queue; scope
	// canaries are other things of the other queue.
	content, scope []string
	spare          int
}

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	q1 = "q1"
	q2 = "q2"
)

func newWorld(t *testing.T) *world {
	logs := &syncBuffer{}
	td := startDaemonLogged(t, func(c *Config) {
		c.Media.Engine = "none"
		c.Engagements.MaxLive = 5000
		c.Engagements.MaxLivePerToken = 5000
		c.Media.WHIP.IncludeLoopback = true
		c.Media.WHIP.Interfaces = []string{"lo"}
		// WHIP sessions that never connect hold a pipeline slot until
		// their connect timeout.
		c.Media.Pipeline.MaxEngagements = 64
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	w := &world{t: t, td: td, logs: logs, tokens: map[Role]map[tokenState]string{}, users: map[Role]string{},
		live: map[relation]string{}, ended: map[relation]string{}, people: map[relation]string{}, whipTokens: map[relation]string{}}
	tag := fmt.Sprintf("%x", time.Now().UnixNano())
	w.content = []string{"CANARYtext" + tag, "CANARYref" + tag}
	w.scope = []string{"CANARYarticle" + tag, "CANARYqueue" + tag}
	admin := td.Admin
	td.mustCall(t, admin, "POST", "/api/v1/queues", queueRequest{ID: q1}, 201)
	td.mustCall(t, admin, "POST", "/api/v1/queues", queueRequest{ID: q2, Description: "the " + w.scope[1] + " desk"}, 201)
	// Expert-assist routes answer licensed callers: the administrator is.
	u, err := td.store.User("admin")
	if err != nil {
		t.Fatal(err)
	}
	u.Licensed = true
	if err := td.store.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	mkToken := func(user, expires string) string {
		var tv tokenView
		json.Unmarshal(td.mustCall(t, admin, "POST", "/api/v1/tokens", tokenRequest{UserID: user, ExpiresIn: expires}, 201), &tv)
		return tv.Secret
	}
	mkUser := func(id string, role Role, queues ...string) {
		td.mustCall(t, admin, "POST", "/api/v1/users", userRequest{ID: id, Role: string(role), Queues: queues, Licensed: true}, 201)
	}
	for _, r := range AllRoles {
		id := "u-" + string(r)
		if r == RoleAdmin {
			id = "admin"
		} else {
			mkUser(id, r, q1)
		}
		w.users[r] = id
		w.tokens[r] = map[tokenState]string{tokValid: mkToken(id, ""), tokRevoked: mkToken(id, ""), tokExpired: mkToken(id, "1ms")}
		mkUser(id+"-off", r, q1)
		w.tokens[r][tokDisabled] = mkToken(id+"-off", "")
		td.mustCall(t, admin, "PUT", "/api/v1/users/"+id+"-off", userRequest{Role: string(r), Queues: []string{q1}, Disabled: true}, 200)
	}
	if w.users[RoleAdmin] == "admin" {
		w.tokens[RoleAdmin][tokValid] = admin
	}
	ts, _ := td.store.Tokens(context.Background())
	for _, tk := range ts {
		for r, states := range w.tokens {
			if bytes.Equal(tk.Hash, store.HashSecret(states[tokRevoked])) {
				td.mustCall(t, admin, "DELETE", "/api/v1/tokens/"+tk.ID, nil, 204)
				_ = r
			}
		}
	}
	mkUser("u-agent2", RoleAgent, q1)
	mkUser("u-agent-q2", RoleAgent, q2)
	mkUser("u-ingest2", RoleIngest, q1)
	mkUser("u-ingest-q2", RoleIngest, q2)
	w.people = map[relation]string{relSame: "u-agent2", relOther: "u-agent-q2"}
	w.whipTokens = map[relation]string{relSame: mkToken("u-ingest2", ""), relOther: mkToken("u-ingest-q2", "")}

	// Articles: one for every queue, one per queue; the other queue's is a
	// canary that shares its words with what the first queue's customers say.
	for id, a := range map[string]map[string]any{
		"kb-all": {"title": "Blocking a card", "body": "Press block on the card screen."},
		"kb-q1":  {"title": "Card replacement", "body": "A replacement card arrives in five days.", "queue": q1},
		"kb-q2":  {"title": "The lantern procedure", "body": "For the lantern procedure quote " + w.scope[0] + " to the customer.", "queue": q2},
	} {
		td.mustCall(t, admin, "PUT", "/api/v1/kb/articles/"+id, a, 200)
	}
	// Engagements: live and ended ones in each relation. The first
	// queue's customers ask about the lantern procedure (the canary
	// article's words); the other queue's say the canaries.
	say := map[string][]messageRequest{
		q1: {{"customer", "Hello, how does the lantern procedure work for my card?"}, {"agent", "Let me check the lantern procedure."}},
		q2: {{"customer", "My reference is " + w.content[0] + ", I was charged twice."}, {"agent", "I will refund " + w.content[0] + "."}},
	}
	for _, rel := range []relation{relOwn, relSame, relOther} {
		q, agent, ref := q1, "u-agent", "C-shared"
		switch rel {
		case relSame:
			agent = "u-agent2"
		case relOther:
			q, agent, ref = q2, "u-agent-q2", w.content[1]
		}
		w.live[rel] = w.newEngagement(q, agent, ref, say[q], false)
		w.ended[rel] = w.newEngagement(q, agent, ref, say[q], true)
	}
	// The other queue also holds an ended engagement of the shared
	// customer, for previews.
	w.newEngagement(q2, "u-agent-q2", "C-shared", say[q2], true)
	w.live[relNoQueue], w.ended[relNoQueue] = w.live[relOwn], w.ended[relOwn]

	// Site settings some routes need; a training job to read.
	td.mustCall(t, admin, "PUT", "/api/v1/settings/dispositions", matrixBodies["PUT /api/v1/settings/dispositions"], 200)
	var job struct{ Job uint64 }
	json.Unmarshal(td.mustCall(t, admin, "PUT", "/api/v1/settings/intents", matrixBodies["PUT /api/v1/settings/intents"], 202), &job)
	w.job = job.Job
	waitUntil(t, "the intent training job", func() bool {
		st, _ := td.analytics.trainer.Status(job.Job)
		return st.State != "running"
	})
	for _, lvl := range []string{"account", "queues/" + q1, "users/u-agent"} {
		td.mustCall(t, admin, "PUT", "/api/v1/settings/features/"+lvl+"/sentiment", map[string]any{"enabled": true}, 200)
	}
	// Stored forecasts for both queues.
	for _, q := range []string{q1, q2} {
		td.mustCall(t, admin, "POST", "/api/v1/queues/"+q+"/forecast?days=7", forecastHistoryBody, 200)
	}
	return w
}

// newEngagement makes a chat with messages, ended (with its results) or
// live.
func (w *world) newEngagement(queue, agent, ref string, msgs []messageRequest, end bool) string {
	t, td := w.t, w.td
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements",
		engagementRequest{Queue: queue, Agent: agent, CustomerRef: ref, Channel: "chat"}, 201), &e)
	for _, m := range msgs {
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", m, 201)
	}
	if end {
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
		if l, ok := td.hub.Get(e.ID); ok {
			<-l.Done()
		}
	}
	return e.ID
}

// whipSession makes a WHIP session (it never connects) of the caller's
// token for own, else of another ingest token in the same or other queue.
func (w *world) whipSession(callerToken string, rel relation) string {
	tok := callerToken
	if rel == relSame || rel == relOther {
		tok = w.whipTokens[rel]
	}
	q := q1
	if rel == relOther {
		q = q2
	}
	req, _ := http.NewRequest("POST", w.td.URL+"/api/v1/ingest/whip?queue="+q, strings.NewReader(minimalOffer))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		w.t.Fatalf("WHIP session for %s: %d", rel, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// path builds the path of a call of route rt by role in relation rel;
// fresh reports whether it may make targets (only for admitted calls).
func (w *world) path(rt route, kind targetKind, role Role, rel relation, fresh bool) string {
	t, td := w.t, w.td
	key := rt.Method + " " + rt.Pattern
	p := rt.Pattern
	eng := w.live[rel]
	switch {
	case strings.HasSuffix(p, "/notes"), strings.HasSuffix(p, "/disposition"), strings.HasSuffix(p, "/results"):
		eng = w.ended[rel]
	case strings.HasSuffix(p, "/end") && fresh:
		// Ending is allowed once: each admitted call ends its own.
		agent := map[relation]string{relOwn: "u-agent", relNoQueue: "u-agent", relSame: "u-agent2", relOther: "u-agent-q2"}[rel]
		q := q1
		if rel == relOther {
			q = q2
		}
		eng = w.newEngagement(q, agent, "", nil, false)
	}
	queue := q1
	if rel == relOther {
		queue = q2
	}
	spare := func(make func(id string)) string {
		w.spare++
		id := fmt.Sprintf("spare%d", w.spare)
		if fresh {
			make(id)
		}
		return id
	}
	switch kind {
	case targetEngagement:
		p = strings.ReplaceAll(p, "{id}", eng)
	case targetQueue:
		p = strings.ReplaceAll(strings.ReplaceAll(p, "{queue}", queue), "{id}", queue)
	case targetUser:
		who := w.users[role]
		if rel == relSame || rel == relOther {
			who = w.people[rel]
		}
		p = strings.ReplaceAll(p, "{id}", who)
	case targetArticle:
		id := map[relation]string{relOwn: "kb-q1", relSame: "kb-q1", relOther: "kb-q2", relNoQueue: "kb-all"}[rel]
		p = strings.ReplaceAll(p, "{id}", id)
	case targetDocument:
		for _, param := range []string{"{id}", "{model}", "{topic}", "{version}", "{bot}"} {
			p = strings.ReplaceAll(p, param, "1")
		}
	case targetWHIP:
		loc := "/api/v1/ingest/whip/0000"
		if fresh {
			loc = w.whipSession(w.tokens[role][tokValid], rel)
		}
		p = loc
	case targetAdmin:
		// Targets an administrator's call may change or destroy are made
		// for the call.
		switch {
		case strings.HasPrefix(p, "/api/v1/queues/{id}"):
			p = strings.ReplaceAll(p, "{id}", spare(func(id string) { td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: id}, 201) }))
		case strings.HasPrefix(p, "/api/v1/users/{id}"):
			p = strings.ReplaceAll(p, "{id}", spare(func(id string) {
				td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: id, Role: "agent"}, 201)
			}))
		case strings.HasPrefix(p, "/api/v1/tokens/{id}"):
			id := "tok_0000000000000000"
			if fresh {
				td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: fmt.Sprintf("spare-tok%d", w.spare), Role: "agent"}, 201)
				var tv tokenView
				json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: fmt.Sprintf("spare-tok%d", w.spare)}, 201), &tv)
				id = tv.ID
				w.spare++
			}
			p = strings.ReplaceAll(p, "{id}", id)
		case strings.HasPrefix(p, "/api/v1/kb/articles/{id}"):
			p = strings.ReplaceAll(p, "{id}", spare(func(id string) {
				td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/"+id, map[string]any{"title": "Spare", "body": "A spare article."}, 200)
			}))
		case strings.HasPrefix(p, "/api/v1/engagements/{id}"):
			p = strings.ReplaceAll(p, "{id}", eng)
		}
		p = strings.NewReplacer("{feature}", "sentiment", "{queue}", q1, "{user}", "u-agent",
			"{job}", fmt.Sprint(w.job), "{name}", "noplugin").Replace(p)
		if rt.Method == "DELETE" && strings.HasPrefix(p, "/api/v1/settings/features/") && fresh {
			// Each deletion deletes a setting made for it.
			td.mustCall(t, td.Admin, "PUT", p, map[string]any{"enabled": true}, 200)
		}
	case targetNone:
	}
	switch key {
	case "GET /api/v1/kb/search":
		p += "?q=lantern+procedure"
	case "GET /api/v1/preview":
		p += "?customer_ref=C-shared"
	case "POST /api/v1/queues/{queue}/forecast/backtest":
		p += "?origins=2&horizon_days=7"
	}
	return p
}

// body is the request body of a call (the matrix's), with the relation's
// queue set where the operation takes one in its body.
func (w *world) body(key string, where string, rel relation, role Role) (string, string) {
	if rb, ok := rawBodies[key]; ok {
		return rb.ctype, rb.body
	}
	if key == "POST /api/v1/kb/import" {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := "# Imported\n\nAn imported article."
		tw.WriteHeader(&tar.Header{Name: "imported.md", Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		return "application/x-tar", buf.String()
	}
	b, ok := matrixBodies[key]
	if !ok {
		return "", ""
	}
	raw, _ := json.Marshal(b)
	if key == "POST /api/v1/users" || key == "POST /api/v1/queues" {
		// Each creation makes a new one.
		var m map[string]any
		json.Unmarshal(raw, &m)
		w.spare++
		m["id"] = fmt.Sprintf("new%d", w.spare)
		raw, _ = json.Marshal(m)
	}
	if where == "body" {
		var m map[string]any
		json.Unmarshal(raw, &m)
		switch rel {
		case relOther:
			m["queue"] = q2
		case relNoQueue:
			delete(m, "queue")
		default:
			m["queue"] = q1
		}
		if _, ok := m["agent"]; ok {
			m["agent"] = map[relation]string{relOther: "u-agent-q2"}[rel]
			if rel != relOther {
				m["agent"] = "u-agent"
			}
		}
		raw, _ = json.Marshal(m)
	}
	if key == "POST /api/v1/engagements/{id}/messages" && role == RoleIngest {
		raw = []byte(`{"sender":"customer","text":"hello"}`)
	}
	return "application/json", string(raw)
}

// do sends a call and returns its status and what came back (for an event
// stream, what arrived within half a second).
func (w *world) do(token, method, path, ctype, body string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.td.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		// As a client of large bodies should: the body goes only once the
		// server said it wants it.
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := walkClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		var buf bytes.Buffer
		done := make(chan struct{})
		go func() { io.Copy(&buf, resp.Body); close(done) }()
		select {
		case <-done:
		case <-time.After(500 * time.Millisecond):
			cancel()
			<-done
		}
		return resp.StatusCode, buf.String()
	}
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// walkClient waits for 100 Continue before it sends a body.
var walkClient = &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}

// TestAuthorizationWalker walks every operation x role x relation x token
// state; see the top of this file.
func TestAuthorizationWalker(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]openAPIOp `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	routes := w.td.routes()
	for key := range policy {
		if !slices.ContainsFunc(routes, func(rt route) bool { return rt.Method+" "+rt.Pattern == key }) {
			t.Errorf("policy row %s names no route", key)
		}
	}
	calls := 0
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		allowed, ok := policy[key]
		if !ok {
			t.Errorf("route %s has no authorisation expectation: add it to policy", key)
			continue
		}
		op, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s is not in the OpenAPI document", key)
			continue
		}
		kind, ok := inferTarget(key, allowed)
		if !ok {
			t.Errorf("route %s: its target cannot be told from its path: add it to targetOverrides", key)
			continue
		}
		where, required := queueInput(t, op)
		if kind == targetAdmin {
			where = "" // an administrator's queue fields keep the matrix's values
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			if allowed == nil {
				code, body := w.do("", rt.Method, w.path(rt, kind, RoleAdmin, relOwn, false), "", "")
				// A public route that refuses requests for reasons other
				// than a token (publicRefusals) may refuse an empty one.
				if code >= 400 && !(kind == targetDocument && code == 404) && !(publicRefusals[key] && code == 400) {
					t.Errorf("public route = %d", code)
				}
				w.noCanary(t, key, RoleAdmin, body)
				calls++
				return
			}
			// No token or a malformed one: 401, for every route.
			for _, bad := range []string{"", "Token " + w.td.Admin, "es_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
				req := mustRequest(t, rt.Method, w.td.URL+w.path(rt, kind, RoleAdmin, relOwn, false), "")
				if bad != "" {
					if strings.HasPrefix(bad, "Token ") {
						req.Header.Set("Authorization", bad)
					} else {
						req.Header.Set("Authorization", "Bearer "+bad)
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("with credentials %q: %d, want 401", bad, resp.StatusCode)
				}
			}
			// Denied roles first, admin last, so that a destructive call
			// cannot hide a later denial.
			order := append(slices.Clone(AllRoles[1:]), RoleAdmin)
			for _, role := range order {
				admitted := slices.Contains(allowed, role)
				for _, rel := range relations {
					for _, st := range tokenStates {
						valid := st == tokValid
						// Targets are made for admitted calls that reach them,
						// and WHIP sessions also for those that do not (another
						// token's session must exist to show it is refused).
						fresh := valid && admitted && (mayReach(kind, role, rel) || kind == targetWHIP)
						path := w.path(rt, kind, role, rel, fresh)
						if valid && where == "query" {
							path = withQueue(path, rel)
						}
						ctype, body := w.body(key, where, rel, role)
						code, got := w.do(w.tokens[role][st], rt.Method, path, ctype, body)
						calls++
						if code == http.StatusAccepted && strings.Contains(got, `"job"`) {
							w.waitTraining(got)
						}
						desc := fmt.Sprintf("%s as %s (%s, %s token) = %d", key, role, rel, st, code)
						w.noCanary(t, key, role, got)
						switch {
						case !valid:
							if code != 401 {
								t.Errorf("%s, want 401", desc)
							}
						case !admitted:
							if code != 403 {
								t.Errorf("%s, want 403", desc)
							}
						case code >= 500:
							t.Errorf("%s: %s", desc, got)
						case !mayReach(kind, role, rel) && kind != targetNone:
							if code != 403 && code != 404 {
								t.Errorf("%s, want 403 or 404: the target is outside the caller's scope", desc)
							}
						case !mayReach(kind, role, rel):
							// A queue outside the caller's scope named as a
							// parameter: refused, or answered without it (the
							// canary check above).
							// A body the walker cannot make valid may be refused
							// as such (400) before its queue is looked at.
							if code == 401 || code >= 300 && code != 403 && code != 404 && !(inputRoutes[key] && code == 400) {
								t.Errorf("%s, want 403, 404 or an answer without the other queue", desc)
							}
						case rel == relNoQueue && where != "" && required:
							if code != 400 {
								t.Errorf("%s, want 400: the queue is required", desc)
							}
						case inputRoutes[key] || kind == targetDocument:
							if code == 401 || code == 403 {
								t.Errorf("%s: an admitted call was refused", desc)
							}
						default:
							if code >= 300 {
								t.Errorf("%s: an admitted call within scope should succeed: %.300s", desc, got)
							}
						}
					}
				}
			}
		})
	}
	if logs := w.logs.String(); containsAny(logs, w.content) {
		t.Errorf("customer content reached the daemon's log")
	}
	t.Logf("%d calls", calls)
}

// waitTraining waits for the training job a call started, so that the
// next call may start one.
func (w *world) waitTraining(resp string) {
	var job struct{ Job uint64 }
	json.Unmarshal([]byte(resp), &job)
	waitUntil(w.t, "a training job", func() bool {
		st, _ := w.td.analytics.trainer.Status(job.Job)
		return st.State != "running"
	})
}

// withQueue sets ?queue= for a relation (none: left out).
func withQueue(path string, rel relation) string {
	if rel == relNoQueue {
		return path
	}
	q := q1
	if rel == relOther {
		q = q2
	}
	u, _ := url.Parse(path)
	v := u.Query()
	v.Set("queue", q)
	u.RawQuery = v.Encode()
	return u.String()
}

// noCanary fails when a response carries content it must not: the other
// queue's anything to anyone but an administrator; customer content to
// anyone from a route that carries none.
func (w *world) noCanary(t *testing.T, key string, role Role, body string) {
	t.Helper()
	if role != RoleAdmin && containsAny(body, append(w.content, w.scope...)) {
		t.Errorf("%s as %s: the response carries the other queue's content: %.400s", key, role, body)
	}
	if contentFree[key] && containsAny(body, w.content) {
		t.Errorf("%s as %s: customer content in a route that carries none", key, role)
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
