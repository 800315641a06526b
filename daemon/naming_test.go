package daemon

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// snakeCase is the API's member naming rule.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// unitlessDuration matches member names that say "duration" without a
// unit; the API names a numeric duration with its unit (_ms, _seconds).
var unitlessDuration = regexp.MustCompile(`(^|_)(step|within|fit|timeout|interval|duration|patience|wait|delay|backoff|ttl|latency|elapsed|length|asa|aht)$`)

// walkJSON calls bad with the path of every object member whose name is
// not snake_case, of every number named like a duration without its unit,
// and of every number large enough to be a duration in nanoseconds (this
// test's data has no other number that large).
func walkJSON(path string, v any, bad func(path, why string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeCase.MatchString(k) {
				bad(path+"."+k, "member name is not snake_case")
			}
			if _, num := e.(float64); num && unitlessDuration.MatchString(k) && k != "p_wait" { // p_wait: a probability
				bad(path+"."+k, "a duration without its unit (_ms, _seconds) or as a number")
			}
			walkJSON(path+"."+k, e, bad)
		}
	case []any:
		for i, e := range x {
			walkJSON(fmt.Sprintf("%s[%d]", path, i), e, bad)
		}
	case float64:
		if x >= 1e9 && !strings.HasSuffix(path, "_ms") {
			bad(path, fmt.Sprintf("%v looks like a duration in nanoseconds", x))
		}
	}
}

// TestOpenAPINaming walks the OpenAPI document: every schema property and
// every query parameter is snake_case.
func TestOpenAPINaming(t *testing.T) {
	var doc any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k := range props {
					if !snakeCase.MatchString(k) {
						t.Errorf("%s: property %q is not snake_case", path, k)
					}
				}
			}
			if x["in"] == "query" {
				if name, _ := x["name"].(string); !snakeCase.MatchString(name) {
					t.Errorf("%s: query parameter %q is not snake_case", path, name)
				}
			}
			for k, e := range x {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("", doc)
}

// namingSkip are the routes whose answer is not a JSON document, with why.
// Every other route must answer at least once with JSON in
// TestAPIResponseNaming.
var namingSkip = map[string]string{
	"GET /metrics":                          "Prometheus text",
	"GET /api/v1/openapi.json":              "the API description: TestOpenAPINaming walks its schemas",
	"GET /api/v1/backup/content":            "a database file",
	"GET /api/v1/backup/keys":               "a database file",
	"GET /api/v1/audit/export":              "JSON lines, walked line by line below",
	"PUT /api/v1/engagements/{id}/hold":     "needs a live call: TestHoldThroughAPI",
	"GET /api/v1/engagements/{id}/events":   "server-sent events, walked event by event below",
	"POST /api/v1/ingest/whip":              "SDP; needs a WebRTC peer (media_test.go)",
	"PATCH /api/v1/ingest/whip/{id}":        "trickle ICE; needs a WebRTC peer",
	"DELETE /api/v1/ingest/whip/{id}":       "no body",
	"GET /api/v1/ingest/stream":             "a WebSocket",
	"POST /api/v1/engagements/{id}/actions": "needs a running skill plugin (plugins_test.go)",
	"PUT /api/v1/engagements/{id}/language": "needs auto_translate and Apertium; TestChatLanguageChoice reads its answer",
	"POST /api/v1/plugins/{name}/sync":      "needs a running knowledge plugin (plugins_test.go)",
	"POST /api/v1/plugins/{name}/restart":   "needs a plugin that can start",
	// Quality management: api_qm_test.go answers these.
	"POST /api/v1/evaluations/{id}/acknowledge": "the engagement's agent only",
	"POST /api/v1/evaluations/{id}/dispute":     "the engagement's agent only",
	"POST /api/v1/topics/discover":              "needs 20+ ended engagements with customer text",
	"GET /api/v1/topics/{model}/{topic}":        "needs a topic discovery",
	"GET /api/v1/engagements/{id}/unredacted":   "the compliance role's alone; its segments are the transcript's (redaction_test.go reads it)",
}

// TestAPIResponseNaming calls every route of the table as an administrator
// on a daemon holding one of everything (queues, users, tokens, a finished
// chat with results, an article, a stored forecast, a plugin), and walks
// each JSON answer, each audit export line and each replayed event for
// member names that are not snake_case and for durations in nanoseconds.
func TestAPIResponseNaming(t *testing.T) {
	td := startDaemon(t, nil)
	// Expert-assist routes answer licensed callers only: license the
	// bootstrap administrator so that they answer with JSON here.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/admin", map[string]any{"licensed": true}, 200)
	for _, q := range []string{"q1", "q2"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q, Description: "queue " + q}, 201)
	}
	td.tokenFor(t, "u_agent", RoleAgent, "q1")
	td.tokenFor(t, "u_analyst", RoleAnalyst, "q1")
	var spare tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "u_agent", ExpiresIn: "24h"}, 201), &spare)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/dispositions", matrixBodies["PUT /api/v1/settings/dispositions"], 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/kb1", map[string]any{"title": "Card", "body": "Block the card."}, 200)
	for _, lvl := range []string{"account", "queues/q1", "users/u_agent"} {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/"+lvl+"/sentiment", map[string]any{"enabled": true}, 200)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_qm", map[string]any{"enabled": true}, 200)
	ended := chat(t, td, td.Admin, engagementRequest{Queue: "q1", Agent: "u_agent", Channel: "chat", CustomerRef: "C1"}, angryCall...)
	var live struct{ ID string }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q1", Agent: "u_agent", Channel: "chat", CustomerRef: "C1"}, 201), &live)
	for _, m := range angryCall[:3] {
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+live.ID+"/messages", m, 201)
	}
	var job struct{ Job uint64 }
	// trained waits for a training job to finish: one at a time runs.
	trained := func(body []byte) {
		json.Unmarshal(body, &job)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if st, _ := td.analytics.trainer.Status(job.Job); st.State != "running" {
				return
			}
		}
		t.Fatalf("training job %d still running after 30 s", job.Job)
	}
	trained(td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/intents", matrixBodies["PUT /api/v1/settings/intents"], 202))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues/q1/forecast", forecastHistoryBody, 200) // stored
	td.mustCall(t, td.Admin, "PUT", "/api/v1/wfm/rosters/r1", wfmMatrixRoster, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/wfm/schedules", wfmMatrixSchedule, 201)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "crm"), []byte("#!/bin/sh\nexit 1\n"), 0o755) // never enabled, never started
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(`{"name":"crm","version":"1.0.0","executable":"crm","kinds":["info"],"scopes":["customer_ref"]}`), 0o644)
	bodies := map[string]any{
		"POST /api/v1/plugins":                   map[string]string{"source_dir": src},
		"PUT /api/v1/plugins/{name}/settings":    map[string]any{"enabled": false, "approved_scopes": []string{"customer_ref"}, "local_confirmed": false, "config": map[string]string{"file": "/srv/crm.csv"}, "read_paths": []string{}, "write_paths": []string{}},
		"PATCH /api/v1/plugins/{name}/settings":  map[string]any{"approved_scopes": []string{"customer_ref"}},
		"POST /api/v1/engagements/{id}/messages": messageRequest{Sender: "agent", Text: "hello"},
		"POST /api/v1/purge":                     map[string]any{"customer_ref": "nobody", "reason": "naming test"},
		"POST /api/v1/queues":                    queueRequest{ID: "q3"},
		"POST /api/v1/users":                     userRequest{ID: "u_new", Role: "agent"},
		"POST /api/v1/tokens":                    tokenRequest{UserID: "u_agent", ExpiresIn: "1h"},
		"POST /api/v1/engagements":               engagementRequest{Queue: "q1", Agent: "u_agent", Channel: "chat"},
		"POST /api/v1/kb/import":                 string(zipOf(t, "faq/block.md", "# Blocking a card\n\nPress block.\n")),
		// The scorecard "matrix" is created by POST /api/v1/scorecards.
		"PUT /api/v1/scorecards/{id}":               testScorecardBody("matrix"),
		"POST /api/v1/engagements/{id}/evaluations": map[string]any{"scorecard": "matrix"},
		"POST /api/v1/evaluations/{id}/review":      map[string]any{"items": []any{}},
		"POST /api/v1/evaluations/{id}/calibration": map[string]any{"answers": map[string]string{"greet": "yes"}},
	}
	bm := botMatrixSetup(t, td, "/bots /handovers/")
	path := func(pattern string) string {
		if bp, ok := bm.path(t, pattern); ok {
			return bp
		}
		p := strings.NewReplacer("{feature}", "sentiment", "{queue}", "q1", "{user}", "u_agent", "{name}", "crm",
			"{job}", fmt.Sprint(job.Job)).Replace(pattern)
		switch {
		case strings.HasPrefix(p, "/api/v1/queues/"):
			p = strings.ReplaceAll(p, "{id}", "q2")
		case strings.HasPrefix(p, "/api/v1/users/"):
			p = strings.ReplaceAll(p, "{id}", "u_analyst")
		case strings.HasPrefix(p, "/api/v1/tokens/"):
			p = strings.ReplaceAll(p, "{id}", spare.ID)
		case strings.HasSuffix(p, "/end"):
			var e struct{ ID string }
			json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q1", Channel: "chat"}, 201), &e)
			p = strings.ReplaceAll(p, "{id}", e.ID)
		case strings.HasSuffix(p, "/messages") || strings.HasSuffix(p, "/payment-step"):
			p = strings.ReplaceAll(p, "{id}", live.ID)
		case strings.HasPrefix(p, "/api/v1/engagements/"):
			p = strings.ReplaceAll(p, "{id}", ended)
		case strings.HasPrefix(p, "/api/v1/kb/articles/"):
			p = strings.ReplaceAll(p, "{id}", "kb1")
		case strings.HasPrefix(p, "/api/v1/wfm/rosters/"):
			p = strings.ReplaceAll(p, "{id}", "r1")
		case strings.HasPrefix(p, "/api/v1/wfm/rules/"):
			p = strings.ReplaceAll(p, "{id}", "default")
		case strings.HasPrefix(p, "/api/v1/wfm/schedules/"):
			p = strings.ReplaceAll(p, "{id}", "s1")
		case strings.HasPrefix(p, "/api/v1/scorecards/"):
			p = strings.ReplaceAll(p, "{id}", "matrix")
		case strings.HasPrefix(p, "/api/v1/evaluations/"):
			p = strings.ReplaceAll(p, "{id}", ended+".matrix")
		}
		switch p {
		case "/api/v1/wfm/schedules/s1/intraday":
			p += "?now=2026-05-26T12:00:00Z"
		case "/api/v1/reports/calibration":
			p += "?scorecard=matrix"
		case "/api/v1/kb/search":
			p += "?q=card"
		case "/api/v1/preview":
			p += "?customer_ref=C1&queue=q1"
		case "/api/v1/features/effective":
			p += "?queue=q1&user=u_agent"
		case "/api/v1/uploads":
			p += "?queue=q1"
		}
		return p
	}
	check := func(where string, body []byte) {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: not JSON: %v: %.200s", where, err, body)
			return
		}
		walkJSON("", v, func(p, why string) { t.Errorf("%s: %s: %s", where, p, why) })
	}
	answered := map[string]bool{}
	call := func(rt route) {
		key := rt.Method + " " + rt.Pattern
		body, ok := bodies[key]
		if !ok {
			body = matrixBodies[key]
		}
		code, resp := td.call(t, td.Admin, rt.Method, path(rt.Pattern), body)
		if len(resp) == 0 {
			return
		}
		check(key, resp)
		if key == "PUT /api/v1/settings/intents" || key == "POST /api/v1/training/dispositions" {
			trained(resp)
		}
		if code < 300 {
			answered[key] = true
		} else {
			t.Logf("%s: %d %.300s", key, code, resp)
		}
	}
	// Reads and writes first, deletions last so that nothing a later call
	// needs is gone; then every read again, to see what the writes made.
	routes := td.routes()
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Method != "DELETE" && routes[j].Method == "DELETE" })
	for _, rt := range routes {
		if namingSkip[rt.Method+" "+rt.Pattern] == "" {
			call(rt)
		}
	}
	for _, rt := range routes {
		if rt.Method == "GET" && namingSkip[rt.Method+" "+rt.Pattern] == "" {
			call(rt)
		}
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if namingSkip[key] == "" && !answered[key] && rt.Method != "DELETE" {
			t.Errorf("%s never answered with JSON: add inputs for it here, or a reason to namingSkip", key)
		}
	}
	// The audit log, line by line, and the ended engagement's events.
	_, export := td.call(t, td.Admin, "GET", "/api/v1/audit/export", nil)
	for i, line := range strings.Split(strings.TrimSpace(string(export)), "\n") {
		check(fmt.Sprintf("audit export line %d", i+1), []byte(line))
	}
	evs := readSSE(t, td.URL+"/api/v1/engagements/"+ended+"/events", td.Admin, "", 0, 20*time.Second)
	if len(evs) == 0 {
		t.Error("no events replayed for the ended engagement")
	}
	for _, ev := range evs {
		check("event "+ev.Type, []byte(ev.Data))
	}
}

// zipOf is a zip archive holding one file.
func zipOf(t *testing.T, name, content string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
