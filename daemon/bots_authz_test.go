package daemon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The virtual agent's rows of the authorisation matrix (authz_test.go).
func init() {
	for k, v := range map[string][]Role{
		"GET /api/v1/bots":                         {RoleAdmin, RoleSupervisor, RoleAnalyst},
		"POST /api/v1/bots":                        {RoleAdmin},
		"POST /api/v1/bots/import":                 {RoleAdmin},
		"GET /api/v1/bots/{id}":                    {RoleAdmin},
		"DELETE /api/v1/bots/{id}":                 {RoleAdmin},
		"PUT /api/v1/bots/{id}/draft":              {RoleAdmin},
		"POST /api/v1/bots/{id}/validate":          {RoleAdmin},
		"POST /api/v1/bots/{id}/publish":           {RoleAdmin},
		"GET /api/v1/bots/{id}/publishes/{job}":    {RoleAdmin},
		"POST /api/v1/bots/{id}/rollback":          {RoleAdmin},
		"GET /api/v1/bots/{id}/versions/{version}": {RoleAdmin},
		"GET /api/v1/bots/{id}/export":             {RoleAdmin},
		"POST /api/v1/bots/{id}/widget-key":        {RoleAdmin},
		"POST /api/v1/bots/{id}/classify":          {RoleAdmin},
		"POST /api/v1/bots/{id}/try":               {RoleAdmin},
		"POST /api/v1/bots/{id}/try/{try}":         {RoleAdmin},
		"DELETE /api/v1/bots/{id}/try/{try}":       {RoleAdmin},
		"GET /api/v1/bots/{id}/report":             {RoleAdmin, RoleSupervisor, RoleAnalyst},
		"POST /api/v1/bots/{id}/assist/phrases":    {RoleAdmin},
		"POST /api/v1/bots/{id}/assist/intents":    {RoleAdmin},
		"POST /api/v1/bots/{id}/assist/flow":       {RoleAdmin},
		"POST /api/v1/bots/{id}/assist/kb-queries": {RoleAdmin},
		"GET /api/v1/bots/{id}/coach":              {RoleAdmin},
		"POST /api/v1/bots/{id}/coach":             {RoleAdmin},
		"POST /api/v1/bots/{id}/conversations":     {RoleAdmin, RoleIngest},
		"GET /api/v1/bots/{id}/chat":               {RoleAdmin, RoleIngest},
		"GET /api/v1/handovers":                    {RoleAdmin, RoleSupervisor, RoleAgent},
		"GET /api/v1/handovers/{id}":               {RoleAdmin, RoleSupervisor, RoleAgent},
		"POST /api/v1/handovers/{id}/accept":       {RoleAdmin, RoleSupervisor, RoleAgent},
		"GET /chat/{bot}":                          nil,
		"GET /chat/{bot}/widget.js":                nil,
		"GET /chat/{bot}/ws":                       nil,
	} {
		policy[k] = v
	}
	matrixBodies["POST /api/v1/bots"] = matrixBot("b2")
	matrixBodies["POST /api/v1/bots/import"] = matrixBot("b3")
	matrixBodies["PUT /api/v1/bots/{id}/draft"] = matrixBot("b1")
	matrixBodies["POST /api/v1/bots/{id}/rollback"] = map[string]int{"version": 1}
	matrixBodies["POST /api/v1/bots/{id}/classify"] = map[string]string{"text": "what are your fees"}
	matrixBodies["POST /api/v1/bots/{id}/try/{try}"] = map[string]string{"text": "what are your fees"}
	matrixBodies["POST /api/v1/bots/{id}/assist/phrases"] = map[string]any{"intent": "fees", "n": 3}
	matrixBodies["POST /api/v1/bots/{id}/assist/intents"] = map[string]any{}
	matrixBodies["POST /api/v1/bots/{id}/assist/flow"] = map[string]any{"intent": "email_change", "instructions": "Ask for the customer's email address. End the conversation."}
	matrixBodies["POST /api/v1/bots/{id}/assist/kb-queries"] = map[string]any{"n": 2}
	matrixBodies["POST /api/v1/bots/{id}/coach"] = map[string]any{"text": "hello there", "decision": "reject"}
	// A WebSocket upgrade: bots_test.go chats over it.
	mediaInputRoutes["GET /api/v1/bots/{id}/chat"] = true
	mediaInputRoutes["GET /chat/{bot}/ws"] = true
	// Public, but refused without the bot's key and an allowed origin
	// (bots_test.go): not an authorisation outcome.
	publicRefusals["GET /chat/{bot}/ws"] = true
	// Answers that are not JSON documents (naming_test.go).
	namingSkip["GET /chat/{bot}"] = "an HTML page"
	namingSkip["GET /chat/{bot}/widget.js"] = "a script"
	namingSkip["GET /chat/{bot}/ws"] = "a WebSocket (bots_test.go walks its frames)"
	namingSkip["GET /api/v1/bots/{id}/chat"] = "a WebSocket (bots_test.go walks its frames)"
	// Needs a background publish job: TestBotBackgroundPublish.
	mediaInputRoutes["GET /api/v1/bots/{id}/publishes/{job}"] = true
	namingSkip["GET /api/v1/bots/{id}/publishes/{job}"] = "needs a publish job: TestBotBackgroundPublish"
}

// publicRefusals are public routes that refuse requests for reasons other
// than a token.
var publicRefusals = map[string]bool{}

// matrixBot is a small bot of queue q1 that needs no plugin.
func matrixBot(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "Matrix bot", "queue": "q1", "settings": map[string]any{"min_phrases": 3},
		"widget": map[string]any{"enabled": true},
		"intents": []map[string]any{
			{"name": "fees", "answer": "kb", "phrases": []string{"what are your fees", "how much does it cost", "fee for a card"}},
			{"name": "block", "flow": "block", "phrases": []string{"block my card", "I lost my card", "my card was stolen"}},
		},
		"flows": []map[string]any{{"name": "block", "steps": []map[string]any{{"send": "Call us to block it."}}}},
	}
}

// botMatrix prepares what the bot routes need: bot b1 published (with a
// draft left to publish), the feature on for q1, and conversations handed
// over to q1.
type botMatrix struct {
	td      *testDaemon
	waiting string
}

func botMatrixSetup(t *testing.T, td *testDaemon, key string) *botMatrix {
	t.Helper()
	bm := &botMatrix{td: td}
	if !strings.Contains(key, "/bots") && !strings.Contains(key, "/handovers") && !strings.Contains(key, "/chat/") {
		return bm
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/q1/virtual_agent", map[string]any{"enabled": true}, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/import?publish=true", matrixBot("b1"), 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/bots/b1/draft", matrixBot("b1"), 200)
	if strings.Contains(key, "/handovers/") {
		bm.waiting = bm.handover(t)
	}
	return bm
}

// handover starts a conversation with b1 and asks for a person.
func (bm *botMatrix) handover(t *testing.T) string {
	t.Helper()
	td := bm.td
	var c struct{ Engagement struct{ ID string } }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/conversations", nil, 201), &c)
	id := c.Engagement.ID
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "customer", Text: "talk to a person please"}, 201)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c := td.bots.conv(id); c != nil {
			c.mu.Lock()
			done := c.handover != nil
			c.mu.Unlock()
			if done {
				return id
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the matrix conversation was not handed over")
		}
	}
}

// path fills the bot routes' parameters; ok is false for other routes.
func (bm *botMatrix) path(t *testing.T, p string) (string, bool) {
	switch {
	case p == "/api/v1/bots/{id}/export":
		return "/api/v1/bots/b1/export?format=json", true
	case strings.Contains(p, "/try"):
		// Test conversations run on the draft (a publish may have taken
		// it); one belongs to the administrator who started it. (The
		// naming walk calls again after deleting the bot: then these 404.)
		bm.td.call(t, bm.td.Admin, "PUT", "/api/v1/bots/b1/draft", matrixBot("b1"))
		if !strings.HasSuffix(p, "/{try}") {
			return "/api/v1/bots/b1/try", true
		}
		var tr struct{ ID string }
		_, resp := bm.td.call(t, bm.td.Admin, "POST", "/api/v1/bots/b1/try", nil)
		json.Unmarshal(resp, &tr)
		return "/api/v1/bots/b1/try/" + tr.ID, true
	case strings.HasPrefix(p, "/api/v1/bots/"):
		p = strings.ReplaceAll(p, "{id}", "b1")
		return strings.ReplaceAll(p, "{version}", "1"), true
	case strings.HasSuffix(p, "/accept"):
		// Taking a conversation works once: every caller takes its own.
		return strings.ReplaceAll(p, "{id}", bm.handover(t)), true
	case strings.HasPrefix(p, "/api/v1/handovers/"):
		return strings.ReplaceAll(p, "{id}", bm.waiting), true
	case strings.HasPrefix(p, "/chat/"):
		p = strings.ReplaceAll(p, "{bot}", "b1")
		if strings.HasSuffix(p, "/ws") {
			b, _ := bm.td.store.Bot("b1")
			p += "?key=" + b.WidgetKey
		}
		return p, true
	}
	return p, false
}
