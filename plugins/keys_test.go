package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/plugins/sdk"
)

// installKeysPlugin installs the faulty plugin as name, serving kinds,
// into cfg.Dir without a running host (as an operator does before the
// first start) and returns the recorded manifest.
func installKeysPlugin(t *testing.T, cfg Config, name string, kinds ...sdk.Kind) Manifest {
	t.Helper()
	src := t.TempDir()
	if err := copyFile(filepath.Join(binDir, "faulty"), filepath.Join(src, name), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Manifest{Name: name, Version: "1.0.0", Executable: name, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := InstallFolder(cfg.Dir, src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readKeysFile(t *testing.T, path string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestStoreKeysLifecycle(t *testing.T) {
	cfg := testConfig(t)
	m := installKeysPlugin(t, cfg, "hsm", sdk.KindKeys)
	dir := sharedDir(t)
	keysFile := filepath.Join(dir, "keys.json")
	record := filepath.Join(dir, "record.jsonl")
	reg := prometheus.NewRegistry()
	k, err := NewStoreKeys(cfg, KeysPluginConfig{Name: "hsm", SHA256: m.SHA256, KeyPrefix: "earshot-kek",
		Config: map[string]string{"keys_file": keysFile, "record": record}, WritePaths: []string{dir}}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	if got := k.Name(); got != "plugin:hsm" {
		t.Errorf("Name = %q", got)
	}

	if err := k.CreateKEK(ctx, 1); err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{7}, 32)
	w1, err := k.Wrap(ctx, 1, dek, []byte("engagement 1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w1, dek) {
		t.Fatal("wrapped key contains the data key")
	}
	got, err := k.Unwrap(ctx, 1, w1, []byte("engagement 1"))
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	// Bound to its record: another record's associated data is refused.
	if _, err := k.Unwrap(ctx, 1, w1, []byte("engagement 2")); err == nil || !strings.Contains(err.Error(), "another record") {
		t.Errorf("Unwrap with other associated data: error = %v", err)
	}
	// Tampering is caught by the plugin's authenticated encryption.
	bad := bytes.Clone(w1)
	bad[len(bad)-1] ^= 1
	if _, err := k.Unwrap(ctx, 1, bad, []byte("engagement 1")); err == nil {
		t.Error("Unwrap of a modified wrapped key succeeded")
	}
	for _, junk := range [][]byte{nil, {1}, {9, 1, 'x'}, {1, 200, 'x'}} {
		if _, err := k.Unwrap(ctx, 1, junk, nil); err == nil {
			t.Errorf("Unwrap(%x) succeeded", junk)
		}
	}

	// Rotation: version 2 is created, version 1 destroyed in the plugin.
	if err := k.CreateKEK(ctx, 2); err != nil {
		t.Fatal(err)
	}
	w2, err := k.Wrap(ctx, 2, dek, []byte("engagement 1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.DestroyKEK(ctx, 1); err != nil {
		t.Fatal(err)
	}
	keys := readKeysFile(t, keysFile)
	if _, ok := keys["earshot-kek-1"]; ok || keys["earshot-kek-2"] == "" || len(keys) != 1 {
		t.Errorf("plugin keys after rotation = %v, want only earshot-kek-2", keys)
	}
	if _, err := k.Unwrap(ctx, 1, w1, []byte("engagement 1")); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Unwrap under a destroyed key: error = %v, want ErrNotFound", err)
	}
	if got, err := k.Unwrap(ctx, 2, w2, []byte("engagement 1")); err != nil || !bytes.Equal(got, dek) {
		t.Errorf("Unwrap v2 = %x, %v", got, err)
	}

	// The plugin saw key IDs and lengths, never the data key, and the
	// keys host counted its calls in the shared metrics.
	raw, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, dek) {
		t.Error("the plugin's record holds the data key")
	}
	if n := testutil.ToFloat64(k.Host().m.calls.WithLabelValues("hsm", "keys", "ok")); n < 6 {
		t.Errorf("ok key calls counted = %v, want at least 6", n)
	}
	if _, err := newMetrics(reg); err != nil {
		t.Errorf("a second host on the same registry: %v", err)
	}
}

// A plugin that cannot create keys (SDK API 1.0, or keys managed in the
// key service) must already hold the key; destroying is left to the
// operator and logged.
func TestStoreKeysUnmanaged(t *testing.T) {
	cfg := testConfig(t)
	m := installKeysPlugin(t, cfg, "kms", sdk.KindKeys)
	dir := sharedDir(t)
	keysFile := filepath.Join(dir, "keys.json")
	logs := &syncBuffer{}
	k, err := NewStoreKeys(cfg, KeysPluginConfig{Name: "kms", SHA256: m.SHA256, KeyPrefix: "site",
		Config: map[string]string{"keys_file": keysFile, "keys_manage": "no"}, WritePaths: []string{dir}}, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	err = k.CreateKEK(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), `key "site-1" is not usable`) {
		t.Fatalf("CreateKEK of a key the service lacks: error = %v", err)
	}
	// The operator creates it in the key service.
	if err := os.WriteFile(keysFile, []byte(`{"site-1":"`+strings.Repeat("ab", 32)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateKEK(ctx, 1); err != nil {
		t.Fatalf("CreateKEK of an existing key: %v", err)
	}
	if err := k.DestroyKEK(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "destroy it in the key service") || !strings.Contains(logs.String(), "site-1") {
		t.Errorf("no warning naming the key left to destroy: %s", logs.String())
	}
	if keys := readKeysFile(t, keysFile); keys["site-1"] == "" {
		t.Error("the plugin destroyed a key it said it cannot manage")
	}
}

func TestStoreKeysRefusals(t *testing.T) {
	cfg := testConfig(t)
	m := installKeysPlugin(t, cfg, "hsm", sdk.KindKeys)
	info := installKeysPlugin(t, cfg, "crm", sdk.KindInfo)
	for _, tc := range []struct {
		name string
		kc   KeysPluginConfig
		want string
	}{
		{"not installed", KeysPluginConfig{Name: "nope", SHA256: m.SHA256, KeyPrefix: "k"}, "not installed"},
		{"wrong kind", KeysPluginConfig{Name: "crm", SHA256: info.SHA256, KeyPrefix: "k"}, "does not serve kind keys"},
		{"pin mismatch", KeysPluginConfig{Name: "hsm", SHA256: strings.Repeat("0", 64), KeyPrefix: "k"}, "the configuration pins"},
		{"no prefix", KeysPluginConfig{Name: "hsm", SHA256: m.SHA256}, "key prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewStoreKeys(cfg, tc.kc, nil, nil)
			if err == nil {
				k.Close()
				t.Fatal("NewStoreKeys succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
