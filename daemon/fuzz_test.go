package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/earshot/earshot/store"
)

// jsonRoutes are the routes whose OpenAPI operation takes a JSON body, in
// a fixed order (the fuzzer's first byte picks one).
func jsonRoutes(t testing.TB, d *Daemon) []route {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]openAPIOp `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var out []route
	for _, rt := range d.routes() {
		op := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if _, ok := op.RequestBody.Content["application/json"]; ok {
			out = append(out, rt)
		}
	}
	slices.SortFunc(out, func(a, b route) int { return strings.Compare(a.Method+a.Pattern, b.Method+b.Pattern) })
	return out
}

// FuzzRouteBodies sends arbitrary bodies to every route that takes JSON,
// as an administrator, through the daemon's handler: whatever the body,
// the answer is a success or a 4xx problem detail, never a 5xx or a
// panic, and nothing stored stops being readable.
func FuzzRouteBodies(f *testing.F) {
	probe := &Daemon{}
	routes := jsonRoutes(f, probe)
	for i, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if b, ok := matrixBodies[key]; ok {
			raw, _ := json.Marshal(b)
			f.Add(uint8(i), raw)
		}
		f.Add(uint8(i), []byte(`{"id":"x","queue":"q1","agent":"ana","text":"\u0000\ud800","enabled":null}`))
		f.Add(uint8(i), []byte(`[]`))
	}
	// One daemon per fuzzing process, with a queue, an agent and a live
	// chat to aim at.
	td := startDaemon(f, func(c *Config) { c.Engagements.MaxLive = 1000; c.Engagements.MaxLivePerToken = 1000 })
	td.mustCall(f, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	td.mustCall(f, td.Admin, "POST", "/api/v1/users", userRequest{ID: "ana", Role: "agent", Queues: []string{"q1"}}, 201)
	var e store.Engagement
	json.Unmarshal(td.mustCall(f, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q1", Agent: "ana", Channel: "chat"}, 201), &e)
	fuzzEng := e.ID
	h := td.handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		path := strings.NewReplacer("{id}", fuzzEng, "{queue}", "q1", "{user}", "ana", "{feature}", "sentiment", "{name}", "noplugin").Replace(rt.Pattern)
		if strings.HasPrefix(rt.Pattern, "/api/v1/queues/{id}") {
			path = strings.ReplaceAll(rt.Pattern, "{id}", "q1")
		}
		if strings.HasPrefix(rt.Pattern, "/api/v1/users/{id}") {
			path = strings.ReplaceAll(rt.Pattern, "{id}", "ana")
		}
		if strings.HasPrefix(rt.Pattern, "/api/v1/kb/articles/{id}") {
			path = strings.ReplaceAll(rt.Pattern, "{id}", "kb-1")
		}
		req := httptest.NewRequest(rt.Method, path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+td.Admin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q = %d %s", rt.Method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Detail == "" {
				t.Fatalf("%s %s with %q = %d, not a problem detail: %s", rt.Method, path, body, rec.Code, rec.Body)
			}
		}
		if n := td.panics(); n != 0 {
			t.Fatalf("%d handler panics", n)
		}
		if rec.Code == http.StatusNoContent && rec.Body.Len() != 0 {
			t.Fatalf("204 with a body")
		}
	})
}
