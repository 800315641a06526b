package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

// TestBotVersions creates a bot, publishes two versions, rolls back, and
// checks every record after a reopen; then checks that an offline edit of
// a bot record is refused like an edited user.
func TestBotVersions(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	draft := json.RawMessage(`{"id":"cards","queue":"q1"}`)
	if err := s.CreateBot(ctx, Bot{ID: "cards", Queue: "q1", Draft: draft, WidgetKey: "pk_x"}, AuditEntry{Actor: "admin", Action: "bot.create", Target: "cards"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBot(ctx, Bot{ID: "cards"}); !errors.Is(err, ErrExists) {
		t.Errorf("second create = %v, want ErrExists", err)
	}
	if err := s.CreateBot(ctx, Bot{ID: "a\x00b"}); err == nil {
		t.Error("NUL in a bot ID accepted")
	}
	v1, err := s.PublishBot(ctx, "cards", draft, "q1", "admin")
	if err != nil || v1 != 1 {
		t.Fatalf("publish 1 = %d, %v", v1, err)
	}
	if _, err := s.UpdateBot(ctx, "cards", func(b *Bot) error { b.Draft = json.RawMessage(`{"id":"cards","queue":"q2"}`); return nil }); err != nil {
		t.Fatal(err)
	}
	v2, err := s.PublishBot(ctx, "cards", json.RawMessage(`{"id":"cards","queue":"q2"}`), "q2", "admin")
	if err != nil || v2 != 2 {
		t.Fatalf("publish 2 = %d, %v", v2, err)
	}
	if _, err := s.PublishBot(ctx, "cards", json.RawMessage(`{`), "q2", "admin"); err == nil {
		t.Error("invalid JSON published")
	}
	if _, err := s.RollbackBot(ctx, "cards", 7); !errors.Is(err, ErrNoVersion) {
		t.Errorf("rollback to 7 = %v, want ErrNoVersion", err)
	}
	b, err := s.RollbackBot(ctx, "cards", 1, AuditEntry{Actor: "admin", Action: "bot.rollback", Target: "cards"})
	if err != nil || b.Published != 1 || b.Queue != "q1" {
		t.Fatalf("rollback = %+v, %v", b, err)
	}
	if err := s.CreateBot(ctx, Bot{ID: "other"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTest(t, dir)
	b, err = s.Bot("cards")
	if err != nil {
		t.Fatal(err)
	}
	if b.Published != 1 || len(b.Versions) != 2 || b.Draft != nil || b.WidgetKey != "pk_x" || b.Versions[1].SHA256 == "" {
		t.Errorf("bot after reopen = %+v", b)
	}
	v, err := s.BotVersion("cards", 2)
	if err != nil || string(v.Definition) != `{"id":"cards","queue":"q2"}` || v.PublishedBy != "admin" {
		t.Errorf("version 2 = %+v, %v", v, err)
	}
	all, _ := s.Bots(ctx)
	if diff := cmp.Diff([]string{"cards", "other"}, []string{all[0].ID, all[1].ID}); diff != "" || len(all) != 2 {
		t.Errorf("bots (-want +got):\n%s", diff)
	}
	if err := s.DeleteBot(ctx, "cards"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BotVersion("cards", 1); !errors.Is(err, ErrNoVersion) {
		t.Errorf("version after delete = %v", err)
	}
	if _, err := s.Bot("cards"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bot after delete = %v", err)
	}
	if entries, _ := s.QueryAudit(ctx, AuditQuery{Action: "bot.rollback"}); len(entries) != 1 {
		t.Errorf("rollback audit entries = %d, want 1", len(entries))
	}
	s.Close()

	// An offline edit of a bot record (another plugin for its skill, say)
	// is refused at the next open, naming the record.
	db, err := bbolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBots).Put([]byte("other"), []byte(`{"id":"other","published":9}`))
	})
	db.Close()
	_, err = Open(ctx, Options{Dir: dir})
	var ie *IntegrityError
	if !errors.As(err, &ie) || ie.Record != `bot "other"` {
		t.Errorf("open after an offline edit = %v, want an integrity error naming bot \"other\"", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Fatal(err)
	}
}

func TestAssignAgent(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	e := newEngagement(t, s, "cards", "C-1", t0)
	if err := s.AssignAgent(ctx, e.ID, "ana2", AuditEntry{Actor: "ana2", Action: "handover.accept"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Engagements(ctx, EngagementFilter{Agent: "ana2"})
	if len(got) != 1 || got[0].ID != e.ID {
		t.Errorf("engagements of the new agent = %+v", got)
	}
	if old, _ := s.Engagements(ctx, EngagementFilter{Agent: "ana"}); len(old) != 0 {
		t.Errorf("the old agent still lists %d engagements", len(old))
	}
}
