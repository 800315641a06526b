package daemon

import (
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/plugins/pluginstest"
	"github.com/earshot/earshot/store"
)

// TestInfoPluginLive installs the crm-csv example plugin (a real plugin
// process) through the API, enables it with the customer_ref scope only,
// and checks that a chat engagement gets the customer's card as an
// info.cards event, that the plugin never received the intents it was not
// granted, and that the hand-over is in the audit log.
func TestInfoPluginLive(t *testing.T) {
	src := t.TempDir()
	buildTestPlugin(t, "./plugins/examples/crm-csv", filepath.Join(src, "crm-csv"))
	manifest := `{"name":"crm-csv","version":"1.0.0","executable":"crm-csv","kinds":["info"],"scopes":["customer_ref","intents"]}`
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(manifest), 0o644)
	csvPath := filepath.Join(pluginShareDir(t), "customers.csv")
	os.WriteFile(csvPath, []byte("customer_ref,name,tier\nC-42,Dana Scully,gold\n"), 0o644)

	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards")
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": "relative/path"}, 400)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": src}, 201)
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/crm-csv/settings", map[string]any{"enabled": true, "approved_scopes": []string{"bogus"}}, 400)
	// The sandbox lets the plugin read only what it is granted, never the
	// data directory.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/crm-csv/settings", map[string]any{
		"enabled": true, "approved_scopes": []string{"customer_ref"}, "config": map[string]string{"file": csvPath},
		"read_paths": []string{td.cfg.DataDir},
	}, 400)
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/crm-csv/settings", map[string]any{
		"enabled": true, "approved_scopes": []string{"customer_ref"}, "config": map[string]string{"file": csvPath},
		"read_paths": []string{csvPath},
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
	entries, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: e.ID, Action: "plugin.handover"})
	if len(entries) != 1 || entries[0].Actor != "plugin:crm-csv" || entries[0].Detail["fields"] != "customer_ref" {
		t.Errorf("hand-over audit = %+v, want one entry for crm-csv with customer_ref only", entries)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins/crm-csv/restart", nil, 202)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/plugins/nope", nil, 404)
}

// buildTestPlugin builds plugin package pkg of this module into out.
func buildTestPlugin(t *testing.T, pkg, out string) {
	t.Helper()
	root, _ := filepath.Abs("..")
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
}

// installTestPlugin builds a plugin package of this module, installs it
// through the API with manifest, applies settings and waits until it runs.
func installTestPlugin(t *testing.T, td *testDaemon, pkg, name, manifest string, settings map[string]any) {
	t.Helper()
	src := t.TempDir()
	buildTestPlugin(t, pkg, filepath.Join(src, name))
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(manifest), 0o644)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": src}, 201)
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/"+name+"/settings", settings, 200)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Plugins []struct {
				Manifest struct{ Name string }
				State    string
			}
		}
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
		for _, p := range list.Plugins {
			if p.Manifest.Name == name && p.State == "running" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s not running: %+v", name, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSkillAndKnowledgePlugins runs a skill plugin for an engagement and
// syncs a knowledge plugin's folder of Markdown into the knowledge base.
func TestSkillAndKnowledgePlugins(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	installTestPlugin(t, td, "./plugins/testdata/faulty", "skills",
		`{"name":"skills","version":"0.0.1","executable":"skills","kinds":["skill"],"scopes":["customer_ref"]}`,
		map[string]any{"enabled": true, "approved_scopes": []string{"customer_ref"}})
	var sk []struct{ Plugin, Name string }
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/skills", nil, 200), &sk)
	if len(sk) != 1 || sk[0].Plugin != "skills" || sk[0].Name != "echo" {
		t.Fatalf("skills = %+v", sk)
	}
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat", CustomerRef: "C-1"}, 201), &e)
	var res struct {
		Message string
		Result  map[string]any
	}
	json.Unmarshal(td.mustCall(t, agent, "POST", "/api/v1/engagements/"+e.ID+"/actions",
		map[string]any{"plugin": "skills", "skill": "echo", "input": map[string]any{"card": "block"}}, 200), &res)
	if res.Message != "echoed" || res.Result["card"] != "block" {
		t.Errorf("skill result = %+v", res)
	}
	td.mustCall(t, agent, "POST", "/api/v1/engagements/"+e.ID+"/actions", map[string]any{"plugin": "nope", "skill": "echo"}, 404)
	if got, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: e.ID, Action: "skill.invoke"}); len(got) != 1 {
		t.Errorf("skill.invoke audit entries = %d, want 1", len(got))
	}

	docs := pluginShareDir(t)
	os.WriteFile(filepath.Join(docs, "overdraft.md"), []byte("# Overdraft fees\n\nAn overdraft fee is refunded once a year when the customer asks."), 0o644)
	installTestPlugin(t, td, "./plugins/examples/kb-dir", "kb-dir",
		`{"name":"kb-dir","version":"1.0.0","executable":"kb-dir","kinds":["knowledge"]}`,
		map[string]any{"enabled": true, "config": map[string]string{"dir": docs}, "read_paths": []string{docs}})
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins/kb-dir/sync", nil, 200)
	var hits []struct {
		Passage struct {
			ArticleID string `json:"article_id"`
			Title     string
		}
	}
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/kb/search?q=overdraft+fee+refund", nil, 200), &hits)
	if len(hits) == 0 || !strings.HasPrefix(hits[0].Passage.ArticleID, "kb-dir:") {
		t.Fatalf("search after sync = %+v", hits)
	}
	// A second sync with nothing changed is a no-op; the cursor was stored.
	var cursor string
	if err := td.store.Setting("plugins.knowledge_cursor.kb-dir", &cursor); err != nil {
		t.Errorf("cursor not stored: %v", err)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins/kb-dir/sync", nil, 200)

	// Scoped to a queue, the plugin's articles reach that queue's readers
	// only: those already synced at once, changed ones at the next sync.
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	other := td.tokenFor(t, "olga", RoleAgent, "loans")
	search := func(token string) int {
		t.Helper()
		var hits []json.RawMessage
		json.Unmarshal(td.mustCall(t, token, "GET", "/api/v1/kb/search?q=overdraft+fee+refund", nil, 200), &hits)
		return len(hits)
	}
	if search(other) == 0 {
		t.Fatal("a site-wide knowledge source is hidden from another queue's agent")
	}
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/kb-dir/settings", map[string]any{"knowledge_queue": "nope"}, 400)
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/skills/settings", map[string]any{"knowledge_queue": "cards"}, 400)
	var ps struct {
		KnowledgeQueue string `json:"knowledge_queue"`
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/kb-dir/settings", map[string]any{"knowledge_queue": "cards"}, 200), &ps)
	if ps.KnowledgeQueue != "cards" {
		t.Errorf("knowledge_queue = %q, want cards", ps.KnowledgeQueue)
	}
	if n := search(other); n != 0 {
		t.Errorf("another queue's agent finds %d passages of a source scoped to cards", n)
	}
	if search(agent) == 0 {
		t.Error("the scoped queue's agent lost the source")
	}
	os.WriteFile(filepath.Join(docs, "overdraft.md"), []byte("# Overdraft fees\n\nAn overdraft fee is refunded twice a year when the customer asks."), 0o644)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins/kb-dir/sync", nil, 200)
	if n := search(other); n != 0 {
		t.Errorf("after a resync, another queue's agent finds %d passages of a source scoped to cards", n)
	}
	arts, err := td.store.Articles(t.Context())
	if err != nil || len(arts) != 1 || arts[0].Source != "plugin:kb-dir" || arts[0].Queue != "cards" || !strings.Contains(arts[0].Body, "twice") {
		t.Errorf("stored articles after the resync = %+v, %v; want the changed one, scoped to cards", arts, err)
	}
}

// pluginShareDir is a folder for files the tests hand to plugins.
func pluginShareDir(t *testing.T) string { return pluginstest.SharedDir(t) }

// TestPluginReplaceNeedsApproval installs a plugin, refuses a second
// install under the same name, replaces it with another binary on request
// and checks that the new binary waits, stopped, for an administrator's
// approval, which enabling it again gives.
func TestPluginReplaceNeedsApproval(t *testing.T) {
	td := startDaemon(t, nil)
	manifest := `{"name":"skills","version":"0.0.1","executable":"skills","kinds":["skill"],"scopes":["customer_ref"]}`
	installTestPlugin(t, td, "./plugins/testdata/faulty", "skills", manifest,
		map[string]any{"enabled": true, "approved_scopes": []string{"customer_ref"}})
	agent := td.tokenFor(t, "ana", RoleAgent)
	td.mustCall(t, agent, "GET", "/api/v1/skills", nil, 200)

	src := t.TempDir()
	buildTestPlugin(t, "./plugins/testdata/hostile", filepath.Join(src, "skills")) // another binary
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(`{"name":"skills","version":"0.0.2","executable":"skills","kinds":["skill"]}`), 0o644)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]any{"source_dir": src}, 409)
	var m struct{ SHA256 string }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]any{"source_dir": src, "replace": true}, 201), &m)

	var list struct {
		Plugins []struct {
			State    string
			Settings struct {
				Enabled        bool   `json:"enabled"`
				ApprovedSHA256 string `json:"approved_sha256"`
			}
		}
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
	if len(list.Plugins) != 1 || !list.Plugins[0].Settings.Enabled || list.Plugins[0].Settings.ApprovedSHA256 == "" || list.Plugins[0].Settings.ApprovedSHA256 == m.SHA256 {
		t.Fatalf("after replace: %+v (new sha256 %s)", list, m.SHA256)
	}
	var sk []any
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/skills", nil, 200), &sk)
	if len(sk) != 0 {
		t.Errorf("the unapproved binary's skills are listed: %v", sk)
	}
	// A stale approval is refused; enabling approves the installed binary.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/skills/settings", map[string]any{"enabled": true, "approved_sha256": strings.Repeat("0", 64)}, 409)
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/skills/settings", map[string]any{"enabled": true, "approved_scopes": []string{"customer_ref"}}, 400)
	var ps struct {
		ApprovedSHA256 string `json:"approved_sha256"`
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/skills/settings", map[string]any{"enabled": true}, 200), &ps)
	if ps.ApprovedSHA256 != m.SHA256 {
		t.Errorf("approved sha256 = %q, want the installed %s", ps.ApprovedSHA256, m.SHA256)
	}
}

// TestApproveInstalledOnUpgrade: plugins enabled before approvals carried a
// checksum keep running after an upgrade (their install-time checksum is
// approved, audited); disabled plugins and existing approvals are left
// alone.
func TestApproveInstalledOnUpgrade(t *testing.T) {
	st, err := store.Open(t.Context(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := map[string]plugins.PluginSettings{
		"crm":      {Enabled: true},
		"off":      {Enabled: false},
		"approved": {Enabled: true, ApprovedSHA256: strings.Repeat("b", 64)},
	}
	if err := st.PutSetting(t.Context(), settingPlugins, old, store.AuditEntry{Actor: "test", Action: "setup"}); err != nil {
		t.Fatal(err)
	}
	ps, err := newPluginSettings(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	installed := []plugins.Status{
		{Manifest: plugins.Manifest{Name: "crm", SHA256: strings.Repeat("a", 64)}},
		{Manifest: plugins.Manifest{Name: "off", SHA256: strings.Repeat("c", 64)}},
		{Manifest: plugins.Manifest{Name: "approved", SHA256: strings.Repeat("d", 64)}},
	}
	if err := ps.approveInstalled(installed, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	reloaded, err := newPluginSettings(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for name, s := range reloaded.all() {
		got[name] = s.ApprovedSHA256
	}
	want := map[string]string{"crm": strings.Repeat("a", 64), "off": "", "approved": strings.Repeat("b", 64)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("approved checksums after upgrade (-want +got):\n%s", diff)
	}
	entries, err := st.QueryAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "plugin.approve.upgrade" && e.Target == "crm" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d plugin.approve.upgrade audit entries for crm, want 1", n)
	}
}

// TestRelativeDataDir: the embedded default data directory is relative
// (./earshot-data, what `make run` uses); the daemon starts on it, with the
// plugin sandbox's paths made absolute.
func TestRelativeDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := DefaultConfig(false)
	cfg.DataDir = "./earshot-data"
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New with data_dir %q: %v", cfg.DataDir, err)
	}
	d.Close()
	pc := pluginHostConfig(cfg)
	if !filepath.IsAbs(pc.Dir) || !slices.ContainsFunc(pc.Sandbox.Protect, filepath.IsAbs) {
		t.Errorf("plugin host config: dir %q, protect %v; want absolute paths", pc.Dir, pc.Sandbox.Protect)
	}
}
