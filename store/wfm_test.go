package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func TestWFMSealedAndReopened(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	roster := WFMRecord{Kind: WFMRoster, ID: "billing-team", Queues: []string{"billing"}, UpdatedAt: at, UpdatedBy: "ana",
		Summary: map[string]string{"agents": "1"}, Payload: json.RawMessage(`{"agents":[{"id":"a1","name":"Josephine Quartermaine","skills":["billing"],"hours_per_week":20}]}`)}
	rules := WFMRecord{Kind: WFMRules, ID: "default", UpdatedAt: at, UpdatedBy: "ana", Payload: json.RawMessage(`{"min_rest":"11h"}`)}
	audit := AuditEntry{Actor: "ana", Action: "wfm.roster.put", Target: roster.ID}
	for _, r := range []WFMRecord{roster, rules} {
		if err := s.PutWFM(ctx, r, audit); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutWFM(ctx, WFMRecord{Kind: "timesheet", ID: "x"}); err == nil {
		t.Error("unknown kind accepted")
	}
	if err := s.PutWFM(ctx, WFMRecord{Kind: WFMRules, ID: ""}); err == nil {
		t.Error("empty id accepted")
	}
	s.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, DBFile))
	if bytes.Contains(raw, []byte("Quartermaine")) {
		t.Error("an agent's name in plain text in the database file")
	}
	s = openTest(t, dir)
	defer s.Close()
	got, err := s.WFM(ctx, WFMRoster, "billing-team", AuditEntry{Actor: "ben", Action: "wfm.roster.read", Target: "billing-team"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(roster, got); d != "" {
		t.Errorf("roster after reopen (-want +got):\n%s", d)
	}
	es, err := s.QueryAudit(ctx, AuditQuery{Actor: "ben"})
	if err != nil || len(es) != 1 || es[0].Action != "wfm.roster.read" {
		t.Errorf("read not audited: %v %v", es, err)
	}
	list, err := s.WFMList(ctx, WFMRoster)
	if err != nil || len(list) != 1 || list[0].Payload != nil || list[0].Summary["agents"] != "1" {
		t.Errorf("WFMList = %+v, %v", list, err)
	}
	if err := s.DeleteWFM(ctx, WFMRules, "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WFM(ctx, WFMRules, "default"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted rules: %v, want ErrNotFound", err)
	}
	if err := s.DeleteWFM(ctx, WFMRules, "default"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	// A sealed record moved to another key fails to open.
	s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWFM)
		return b.Put(wfmKey(WFMRoster, "other"), append([]byte(nil), b.Get(wfmKey(WFMRoster, "billing-team"))...))
	})
	if _, err := s.WFM(ctx, WFMRoster, "other"); !errors.Is(err, ErrTampered) {
		t.Errorf("moved record = %v, want ErrTampered", err)
	}
}
