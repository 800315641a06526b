package daemon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/inference/bot/nlu"
)

// TestBotTryDraft: an administrator tries the draft (its intents, its
// flow) while the live version keeps answering customers; the test
// conversation is no engagement, belongs to its starter, and a draft with
// problems is refused naming them.
func TestBotTryDraft(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/q1/virtual_agent", map[string]any{"enabled": true}, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/import?publish=true", matrixBot("b1"), 200)

	// The draft learns an intent the live version does not know.
	draft := matrixBot("b1")
	draft["intents"] = append(draft["intents"].([]map[string]any),
		map[string]any{"name": "address", "flow": "address", "phrases": []string{"change my address", "I moved house", "update my postal address"}})
	draft["flows"] = append(draft["flows"].([]map[string]any),
		map[string]any{"name": "address", "steps": []map[string]any{{"send": "Your address can be changed in the app."}}})
	td.mustCall(t, td.Admin, "PUT", "/api/v1/bots/b1/draft", draft, 200)

	classify := func(version string) nlu.Result {
		var r nlu.Result
		json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/classify"+version, map[string]string{"text": "I moved house, change my address"}, 200), &r)
		return r
	}
	if live, dr := classify(""), classify("?version=draft"); live.Intent == "address" || dr.Intent != "address" {
		t.Errorf("classify live = %+v, draft = %+v; want only the draft to know address", live, dr)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/classify?version=next", map[string]string{"text": "hi"}, 400)

	var before []json.RawMessage
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements", nil, 200), &before)

	var tr struct {
		ID, Bot, Version, IdleTimeout string
		Turn                          bot.Turn
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try", nil, 201), &tr)
	if !strings.HasPrefix(tr.ID, "try_") || tr.Version != "draft" || len(tr.Turn.Messages) == 0 {
		t.Fatalf("try = %+v", tr)
	}
	var turn bot.Turn
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": "I moved house, change my address"}, 200), &turn)
	if turn.Intent == nil || turn.Intent.Intent != "address" || len(turn.Messages) == 0 || turn.Messages[0].Text != "Your address can be changed in the app." {
		t.Errorf("turn = %+v, want the draft's address flow", turn)
	}
	var after []json.RawMessage
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements", nil, 200), &after)
	if len(after) != len(before) {
		t.Errorf("engagements %d -> %d: a test conversation must not be stored as one", len(before), len(after))
	}

	// Another administrator cannot use or end it; bad input names its field.
	other := td.tokenFor(t, "admin2", RoleAdmin)
	td.mustCall(t, other, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": "hello"}, 404)
	td.mustCall(t, other, "DELETE", "/api/v1/bots/b1/try/"+tr.ID, nil, 404)
	if code, body := td.call(t, td.Admin, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": " "}); code != 400 || !strings.Contains(string(body), `"field":"text"`) {
		t.Errorf("empty text = %d %s", code, body)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": strings.Repeat("a", maxTryText+1)}, 400)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/bots/b1/try/"+tr.ID, nil, 204)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": "hello"}, 404)

	// A draft change ends the test conversations of the old draft.
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try", nil, 201), &tr)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/bots/b1/draft", draft, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/try/"+tr.ID, map[string]string{"text": "hello"}, 404)

	// A draft with problems: 422 naming every one.
	broken := matrixBot("b1")
	broken["intents"] = []map[string]any{{"name": "fees", "flow": "nowhere", "phrases": []string{"fees"}}}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/bots/b1/draft", broken, 200)
	code, body := td.call(t, td.Admin, "POST", "/api/v1/bots/b1/try", nil)
	var prob struct {
		Field    string
		Problems bot.Problems
	}
	json.Unmarshal(body, &prob)
	if code != 422 || len(prob.Problems.Errors()) < 2 || prob.Field == "" {
		t.Errorf("broken draft: %d %s, want 422 with every problem (an unknown flow, too few phrases)", code, body)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/b1/classify?version=draft", map[string]string{"text": "fees"}, 422)
}
