package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/daemon"
)

// TestAuditOffline: `earshot audit verify --data-dir` checks a stopped data
// directory with the configuration's key provider and prints the seal it
// checked; a backup pair needs both files; reseal needs a reason and is
// otherwise accepted on a consistent directory.
func TestAuditOffline(t *testing.T) {
	cfg := daemon.DefaultConfig(false)
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	cfg.Analytics.DefaultIntents = "none"
	d, err := daemon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "earshot.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "data_dir: %s\nlisten: 127.0.0.1:0\n", cfg.DataDir), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCommand(t, "audit", "verify", "--config", conf, "--data-dir", cfg.DataDir)
	if err != nil || !strings.HasPrefix(out, "audit chain ok: ") || !strings.Contains(out, "protected records") {
		t.Errorf("audit verify --data-dir = %q, %v; want the chain and the seal reported", out, err)
	}
	if _, _, err := runCommand(t, "audit", "verify", "--config", conf, "--content", filepath.Join(cfg.DataDir, "earshot.db")); !errors.Is(err, ErrUsage) {
		t.Errorf("audit verify --content without --keys = %v, want a usage error", err)
	}
	if _, _, err := runCommand(t, "audit", "reseal", "--config", conf); !errors.Is(err, ErrUsage) {
		t.Errorf("audit reseal without --reason = %v, want a usage error", err)
	}
	out, _, err = runCommand(t, "audit", "reseal", "--config", conf, "--reason", "restored from the March backup")
	if err != nil || !strings.Contains(out, "resealed: ") {
		t.Errorf("audit reseal = %q, %v", out, err)
	}
}
