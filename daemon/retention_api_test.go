package daemon

import (
	"encoding/json"
	"testing"
	"time"
)

func init() {
	policy["GET /api/v1/retention"] = []Role{RoleAdmin}
}

// TestRetentionWindowsRead: the windows in force are those of the
// configuration, with where they are set.
func TestRetentionWindowsRead(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Store.Retention.TranscriptDays = 45
		c.Store.Retention.OutputDays = 90
		c.Store.Retention.AuditDays = 500
		c.Store.SweepInterval = 2 * time.Hour
	})
	var got retentionView
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/retention", nil, 200), &got)
	if got.TranscriptDays != 45 || got.OutputDays != 90 || got.AuditDays != 500 || got.AudioDays != 0 ||
		got.SweepInterval != "2h0m0s" || got.Setting != "store.retention" || got.MinAuditDays != 90 || got.Editable {
		t.Errorf("retention = %+v", got)
	}
	td.mustCall(t, td.tokenFor(t, "aud", RoleAuditor), "GET", "/api/v1/retention", nil, 403)
}
