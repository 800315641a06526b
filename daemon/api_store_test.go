package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/store"
)

// TestPurgeThroughAPI purges by engagement and by customer reference and
// checks nothing of the purged engagements can be read afterwards, that a
// legal hold blocks a purge, and that the purge is audited.
func TestPurgeThroughAPI(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	start := func(ref string, msgs ...string) string {
		var e store.Engagement
		json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat", CustomerRef: ref}, 201), &e)
		for _, m := range msgs {
			td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: m}, 201)
		}
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
		l, _ := td.hub.Get(e.ID)
		<-l.Done()
		return e.ID
	}
	a := start("CUST-A", "first secret sentence")
	b1 := start("CUST-B", "second secret sentence")
	b2 := start("CUST-B", "third secret sentence")
	held := start("CUST-C", "held sentence")

	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: a}, 400) // no reason
	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: a, CustomerRef: "X", Reason: "r"}, 400)
	var res store.PurgeResult
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: a, Reason: "customer request 1"}, 200), &res)
	if res.Engagements != 1 || res.Segments != 1 {
		t.Errorf("purge of one engagement = %+v", res)
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{CustomerRef: "CUST-B", Reason: "erasure request"}, 200), &res)
	if res.Engagements != 2 {
		t.Errorf("erasure of CUST-B = %+v, want 2 engagements", res)
	}
	for _, id := range []string{a, b1, b2} {
		td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id, nil, 404)
		td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 404)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/engagements/"+held+"/legal-hold", map[string]any{"hold": true, "reason": "litigation 42"}, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/purge", purgeRequest{Engagement: held, Reason: "try"}, 409)
	td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+held+"/transcript", nil, 200)

	auditor := td.tokenFor(t, "aud", RoleAuditor)
	var entries []store.AuditEntry
	json.Unmarshal(td.mustCall(t, auditor, "GET", "/api/v1/audit?actor=admin", nil, 200), &entries)
	var purges, holds int
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "purge.") && e.Reason != "" {
			purges++
		}
		if e.Action == "engagement.legal_hold" && e.Reason == "litigation 42" {
			holds++
		}
	}
	if purges < 2 || holds != 1 {
		t.Errorf("audit has %d purges with reasons and %d legal holds; entries: %+v", purges, holds, entries)
	}
	td.mustCall(t, auditor, "GET", "/api/v1/audit?from=yesterday", nil, 400)
	td.mustCall(t, auditor, "GET", "/api/v1/engagements/"+held+"/transcript", nil, 403)
}

// TestBackupAndAuditCLI takes an online backup through the CLI while the
// daemon runs, checks it holds no customer content in plain text, restores
// it into a new data directory together with the key backup, and reads the
// content back; then exports and verifies the audit log from the CLI.
func TestBackupAndAuditCLI(t *testing.T) {
	cmd, base, dataDir, _ := serveProcess(t, "")
	token, _ := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
	td := &testDaemon{URL: base, Admin: strings.TrimSpace(string(token))}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat", CustomerRef: "IBAN-DE89370400440532013000"}, 201), &e)
	secret := "my account number is four four zero five three two"
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: secret}, 201)

	bin := earshotBinary(t)
	cfgPath := filepath.Join(filepath.Dir(dataDir), "earshot.yaml")
	out := t.TempDir()
	content, keys := filepath.Join(out, "content.db"), filepath.Join(out, "keys.db")
	if b, err := exec.Command(bin, "backup", content, "--keys", keys, "--config", cfgPath, "--api", base).CombinedOutput(); err != nil {
		t.Fatalf("earshot backup: %v\n%s", err, b)
	}
	raw, _ := os.ReadFile(content)
	if len(raw) == 0 {
		t.Fatal("empty backup")
	}
	for _, plain := range []string{secret, "IBAN-DE89370400440532013000", "account number"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("content backup holds %q in plain text", plain)
		}
	}
	// Audit export and verify through the CLI.
	exp, err := exec.Command(bin, "audit", "export", "--config", cfgPath, "--api", base).Output()
	if err != nil {
		t.Fatalf("audit export: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(exp)), "\n")
	var last store.AuditEntry
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Action != "backup.keys" {
		t.Errorf("last exported audit entry = %+v (%v), want backup.keys", last, err)
	}
	if b, err := exec.Command(bin, "audit", "verify", "--config", cfgPath, "--api", base).CombinedOutput(); err != nil || !strings.Contains(string(b), "audit chain ok") {
		t.Errorf("audit verify: %v\n%s", err, b)
	}
	cmd.Process.Kill()
	cmd.Wait()

	// Restore both into a fresh directory: the content is readable again.
	fresh := t.TempDir()
	if b, err := exec.Command(bin, "restore", content, "--keys", keys, "--data-dir", fresh).CombinedOutput(); err != nil {
		t.Fatalf("earshot restore: %v\n%s", err, b)
	}
	// The KEK is not in either backup: copy the file provider's key, as an
	// operator restores it from its own safe place.
	if b, err := exec.Command("cp", "-a", filepath.Join(dataDir, "kek"), fresh+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy KEK: %v %s", err, b)
	}
	s, err := store.Open(t.Context(), store.Options{Dir: fresh})
	if err != nil {
		t.Fatalf("open restored store: %v", err)
	}
	defer s.Close()
	segs, err := s.Segments(t.Context(), e.ID)
	if err != nil || len(segs) != 1 || segs[0].Text != secret {
		t.Fatalf("restored segments = %+v, %v", segs, err)
	}
}
