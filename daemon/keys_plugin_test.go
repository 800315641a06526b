package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/store"
	storekeys "github.com/earshot/earshot/store/keys"
)

// TestKeysPluginAsStoreProvider runs the store on a keys plugin (a real
// plugin process: the faulty test plugin's AES-GCM keys): an engagement
// written under it reads back after a restart, a key rotation creates and
// destroys keys in the plugin, the admin API cannot disable or replace the
// plugin, and a daemon configured with another pinned checksum refuses to
// start.
func TestKeysPluginAsStoreProvider(t *testing.T) {
	src := t.TempDir()
	buildTestPlugin(t, "./plugins/testdata/faulty", filepath.Join(src, "hsm"))
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(`{"name":"hsm","version":"1.0.0","executable":"hsm","kinds":["keys"]}`), 0o644)
	dataDir := t.TempDir()
	m, err := plugins.InstallFolder(filepath.Join(dataDir, "plugins"), src)
	if err != nil {
		t.Fatal(err)
	}
	keys := pluginShareDir(t)
	keysFile := filepath.Join(keys, "keys.json")
	keyCfg := func(c *Config) {
		c.DataDir = dataDir
		c.Store.Keys.Provider = storekeys.ProviderPlugin
		c.Store.Keys.Plugin = storekeys.PluginConfig{Name: "hsm", SHA256: m.SHA256, KeyPrefix: "earshot-kek",
			Config: map[string]string{"keys_file": keysFile}, WritePaths: []string{keys}}
	}
	pluginKeys := func() map[string]string {
		t.Helper()
		keys := map[string]string{}
		b, err := os.ReadFile(keysFile)
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &keys)
		return keys
	}

	td := startDaemon(t, keyCfg)
	if k := pluginKeys(); k["earshot-kek-1"] == "" {
		t.Fatalf("plugin keys after first start = %v, want earshot-kek-1", k)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements",
		engagementRequest{Queue: "cards", Channel: "chat", CustomerRef: "C-7"}, 201), &e)
	const said = "my card was swallowed by the machine"
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{"customer", said}, 201)

	// The plugin is the store's: not the admin API's to change.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/plugins/hsm/settings", map[string]any{"enabled": false}, 409)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/plugins/hsm/settings", map[string]any{"enabled": false, "approved_scopes": []string{}, "local_confirmed": false, "config": map[string]string{}, "read_paths": []string{}, "write_paths": []string{}}, 409)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/plugins/hsm", nil, 409)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": src}, 409)
	var list struct {
		StoreKeys plugins.Status `json:"store_keys"`
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
	if list.StoreKeys.Manifest.Name != "hsm" || list.StoreKeys.State != "running" {
		t.Errorf("store_keys in the plugin list = %+v, want hsm running", list.StoreKeys)
	}

	// Rotation creates version 2 in the plugin and destroys version 1.
	td.mustCall(t, td.Admin, "POST", "/api/v1/keys/rotate", map[string]bool{"destroy_old": true}, 200)
	if k := pluginKeys(); k["earshot-kek-2"] == "" || k["earshot-kek-1"] != "" {
		t.Errorf("plugin keys after rotation = %v, want only earshot-kek-2", k)
	}
	td.stop(t)

	// After a restart the content reads back through the plugin.
	td2 := startDaemon(t, keyCfg)
	body := td2.mustCall(t, td2.Admin, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200)
	if !strings.Contains(string(body), said) {
		t.Errorf("transcript after restart = %s, want the message", body)
	}
	td2.stop(t)

	// A configuration pinning another binary refuses to start.
	cfg := DefaultConfig(false)
	cfg.Listen = "127.0.0.1:0"
	keyCfg(&cfg)
	cfg.Store.Keys.Plugin.SHA256 = strings.Repeat("ab", 32)
	if d, err := New(cfg, nil); err == nil {
		d.Close()
		t.Fatal("New with a mismatched keys plugin checksum succeeded")
	} else if !strings.Contains(err.Error(), "store.keys.plugin") || !strings.Contains(err.Error(), "pins") {
		t.Errorf("New error = %v, want it to name store.keys.plugin and the pin", err)
	}

	// Without the plugin's keys the store cannot be opened: the content
	// really is under the plugin's keys.
	os.Rename(keysFile, keysFile+".gone")
	cfg.Store.Keys.Plugin.SHA256 = m.SHA256
	if d, err := New(cfg, nil); err == nil {
		d.Close()
		t.Fatal("New succeeded with the plugin's keys gone")
	}
}
