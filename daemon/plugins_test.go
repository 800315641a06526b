package daemon

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/store"
)

// TestInfoPluginLive installs the crm-csv example plugin (a real plugin
// process) through the API, enables it with the customer_ref scope only,
// and checks that a chat engagement gets the customer's card as an
// info.cards event, that the plugin never received the intents it was not
// granted, and that the hand-over is in the audit log.
func TestInfoPluginLive(t *testing.T) {
	src := t.TempDir()
	root, _ := filepath.Abs("..")
	build := exec.Command("go", "build", "-o", filepath.Join(src, "crm-csv"), "./plugins/examples/crm-csv")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crm-csv: %v\n%s", err, out)
	}
	manifest := `{"name":"crm-csv","version":"1.0.0","executable":"crm-csv","kinds":["info"],"scopes":["customer_ref","intents"]}`
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(manifest), 0o644)
	csvPath := filepath.Join(t.TempDir(), "customers.csv")
	os.WriteFile(csvPath, []byte("customer_ref,name,tier\nC-42,Dana Scully,gold\n"), 0o644)

	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": "relative/path"}, 400)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": src}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/plugins/crm-csv/settings", map[string]any{"Enabled": true, "ApprovedScopes": []string{"bogus"}}, 400)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/plugins/crm-csv/settings", map[string]any{
		"Enabled": true, "ApprovedScopes": []string{"customer_ref"}, "Config": map[string]string{"file": csvPath},
	}, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/info_retrieval", map[string]any{"enabled": true}, 200)
	// Wait until the supervisor has started the plugin.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Plugins []struct{ State string }
		}
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
		if len(list.Plugins) == 1 && list.Plugins[0].State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not running: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements",
		engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat", CustomerRef: "C-42"}, 201), &e)
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{"customer", "Hello, I have a question about my bill"}, 201)
	got := readSSE(t, td.URL+"/api/v1/engagements/"+e.ID+"/events", td.Admin, "", 0, 5*time.Second)
	var cards []sseEvent
	for _, ev := range got {
		if ev.Type == EventInfoCards {
			cards = append(cards, ev)
		}
	}
	if len(cards) != 1 || !strings.Contains(cards[0].Data, "Dana Scully") || !strings.Contains(cards[0].Data, "gold") {
		t.Fatalf("info.cards events = %+v", cards)
	}
	entries, _ := td.store.QueryAudit(store.AuditQuery{Engagement: e.ID, Action: "plugin.handover"})
	if len(entries) != 1 || entries[0].Actor != "plugin:crm-csv" || entries[0].Detail["fields"] != "customer_ref" {
		t.Errorf("hand-over audit = %+v, want one entry for crm-csv with customer_ref only", entries)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins/crm-csv/restart", nil, 202)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/plugins/nope", nil, 404)
}
