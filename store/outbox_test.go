package store

import (
	"context"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	n, err := s.Enqueue(context.Background(),
		OutboxEntry{Plugin: "crm", EventID: "e1.ended", Type: "engagement.ended", Engagement: "e1", NextAt: now},
		OutboxEntry{Plugin: "dwh", EventID: "e1.ended", Type: "engagement.ended", Engagement: "e1", NextAt: now},
		OutboxEntry{Plugin: "crm", EventID: "e1.ended", Type: "engagement.ended", Engagement: "e1", NextAt: now}, // duplicate
	)
	if err != nil || n != 2 {
		t.Fatalf("Enqueue = %d, %v; want 2 added", n, err)
	}
	if n, err := s.Enqueue(context.Background(), OutboxEntry{Plugin: "crm", EventID: "e1.ended", Type: "engagement.ended"}); err != nil || n != 0 {
		t.Errorf("re-enqueue of a queued event = %d, %v; want 0", n, err)
	}
	if _, err := s.Enqueue(context.Background(), OutboxEntry{Plugin: "crm", Type: "x"}); err == nil {
		t.Error("an entry without an event ID was accepted")
	}

	due, err := s.Outbox(context.Background(), true, now, 0)
	if err != nil || len(due) != 2 || due[0].Plugin != "crm" || due[1].Plugin != "dwh" || due[0].Seq >= due[1].Seq {
		t.Fatalf("due = %+v, %v", due, err)
	}
	// A failed attempt moves the entry later; a dead one is never due.
	crm, dwh := due[0], due[1]
	crm.Attempts, crm.NextAt, crm.LastError = 1, now.Add(time.Minute), "timeout"
	dwh.Dead = true
	if err := s.UpdateOutbox(context.Background(), crm); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOutbox(context.Background(), dwh); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Outbox(context.Background(), true, now, 0); len(due) != 0 {
		t.Errorf("due right after the failures = %+v, want none", due)
	}
	if due, _ := s.Outbox(context.Background(), true, now.Add(time.Minute), 0); len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "timeout" {
		t.Errorf("due a minute later = %+v, want the crm entry with 1 attempt", due)
	}

	// The outbox survives a restart.
	s.Close()
	s = openTest(t, dir)
	t.Cleanup(func() { s.Close() })
	all, err := s.Outbox(context.Background(), false, time.Time{}, 0)
	if err != nil || len(all) != 2 || !all[1].Dead {
		t.Fatalf("outbox after reopen = %+v, %v", all, err)
	}
	if n, err := s.RetryDead(context.Background(), "dwh", now); err != nil || n != 1 {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	if due, _ := s.Outbox(context.Background(), true, now, 1); len(due) != 1 || due[0].Plugin != "dwh" || due[0].Attempts != 0 {
		t.Errorf("due after retry (limit 1) = %+v, want the revived dwh entry", due)
	}
	if err := s.DeleteOutbox(context.Background(), all[0].Seq, all[1].Seq); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Outbox(context.Background(), false, time.Time{}, 0); len(all) != 0 {
		t.Errorf("outbox after delete = %+v", all)
	}
	// Once delivered, the same event may be queued again (a redelivery).
	if n, err := s.Enqueue(context.Background(), OutboxEntry{Plugin: "crm", EventID: "e1.ended", Type: "engagement.ended"}); err != nil || n != 1 {
		t.Errorf("re-enqueue after delivery = %d, %v; want 1", n, err)
	}
	all, _ = s.Outbox(context.Background(), false, time.Time{}, 0)
	crm = all[0]
	// Updating a deleted entry does not bring it back.
	if err := s.DeleteOutbox(context.Background(), crm.Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOutbox(context.Background(), crm); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Outbox(context.Background(), false, time.Time{}, 0); len(all) != 0 {
		t.Errorf("an update revived a deleted entry: %+v", all)
	}
}
