package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/plugins"
)

// TestPluginInstallCommand installs a plugin offline into the configured
// plugin directory, and refuses a folder whose manifest is missing.
func TestPluginInstallCommand(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "kms"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(`{"name":"kms","version":"1.2.0","executable":"kms","kinds":["keys"]}`), 0o644)
	dataDir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "earshot.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+dataDir+"\n"), 0o600)
	out, _, err := runCommand(t, "plugin", "install", src, "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plugins.ReadManifest(filepath.Join(dataDir, "plugins", "kms"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := plugins.FileSHA256(filepath.Join(src, "kms")); m.SHA256 != want || m.Version != "1.2.0" {
		t.Errorf("installed manifest = %+v, want sha256 %s", m, want)
	}
	if !strings.Contains(out, "installed kms 1.2.0") || !strings.Contains(out, m.SHA256) {
		t.Errorf("install printed %q, want the plugin and its checksum", out)
	}
	if _, _, err := runCommand(t, "plugin", "install", t.TempDir(), "--config", cfgPath); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("install of a folder without a manifest: error = %v", err)
	}
	if _, _, err := runCommand(t, "plugin", "remove", src, "--config", cfgPath); err == nil {
		t.Error("an unknown action was accepted")
	}
}
