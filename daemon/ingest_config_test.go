package daemon

import (
	"strings"
	"testing"
	"time"
)

// TestIngestLimitsConfigYAML: the WebSocket and WHIP limits of the sample
// configuration are read from YAML, and out-of-range ones are refused
// naming their key.
func TestIngestLimitsConfigYAML(t *testing.T) {
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	err := ParseConfig([]byte("media:\n  whip:\n    idle_timeout: 20s\n  websocket:\n    max_streams: 16\n"+
		"    max_message_bytes: 262144\n    idle_timeout: 10s\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Media.WebSocket; w.MaxStreams != 16 || w.MaxMessageBytes != 256<<10 || w.IdleTimeout != 10*time.Second || w.MaxBadMessages != 20 {
		t.Errorf("websocket = %+v, want the keys given over the defaults", w)
	}
	if got := cfg.Media.WHIP.IdleTimeout; got != 20*time.Second {
		t.Errorf("whip idle_timeout = %s, want 20s", got)
	}
	for _, bad := range []string{"max_message_bytes: 8388608", "max_message_bytes: 100", "idle_timeout: 0s"} {
		cfg := DefaultConfig(false)
		cfg.DataDir = t.TempDir()
		err := ParseConfig([]byte("media:\n  websocket:\n    "+bad+"\n"), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if name, _, _ := strings.Cut(bad, ":"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming %s", bad, err, name)
		}
	}
}
