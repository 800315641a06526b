package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// wrappedDEK returns the wrapped data key of e as stored in keys.db, read
// from a key backup.
func wrappedDEK(t *testing.T, s *Store, e Engagement) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.backup")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupKeys(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, _ := parseID(e.ID)
	var w []byte
	db.View(func(tx *bbolt.Tx) error { w = bytes.Clone(tx.Bucket([]byte("deks")).Get(id[:])); return nil })
	if len(w) < 20 {
		t.Fatalf("no wrapped data key for %s", e.ID)
	}
	return w
}

func TestPurgeEngagementCryptoShreds(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	addAdmin(t, s)
	if err := s.CreateUser(context.Background(), User{ID: "sup", Role: "supervisor"}); err != nil {
		t.Fatal(err)
	}
	e := fill(t, s)
	keep := newEngagement(t, s, "billing", "CUST-KEEP", t0)
	appendN(t, s, keep, 3, "kept %d")
	wrapped := wrappedDEK(t, s, e)
	var before bytes.Buffer
	if _, err := s.Backup(context.Background(), &before); err != nil {
		t.Fatal(err)
	}

	if _, err := s.PurgeEngagement(ctx, e.ID, PurgeRequest{Actor: "sup", Reason: "x"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("purge by a supervisor = %v, want ErrForbidden", err)
	}
	if _, err := s.PurgeEngagement(ctx, e.ID, PurgeRequest{Actor: "root"}); err == nil {
		t.Fatal("purge without a reason succeeded")
	}
	res, err := s.PurgeEngagement(ctx, e.ID, PurgeRequest{Actor: "root", Reason: "erasure request 42"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (PurgeResult{Engagements: 1, Segments: 20, Results: 1}) {
		t.Fatalf("PurgeEngagement = %+v", res)
	}
	// Nothing readable through any API.
	if _, err := s.Engagement(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Engagement after purge = %v, want ErrNotFound", err)
	}
	if _, err := s.Segments(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Segments after purge = %v, want ErrNotFound", err)
	}
	if _, err := s.Result(ctx, e.ID, "summary"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Result after purge = %v, want ErrNotFound", err)
	}
	if l, _ := s.Engagements(ctx, EngagementFilter{CustomerRef: secretCustomer}); len(l) != 0 {
		t.Errorf("Engagements by customer after purge = %v", l)
	}
	if l, _ := s.Engagements(ctx, EngagementFilter{Queue: "billing"}); len(l) != 1 || l[0].ID != keep.ID {
		t.Errorf("Engagements(billing) after purge = %v, want only %s", l, keep.ID)
	}
	if err := s.Append(ctx, seg(e, 99, "late")); !errors.Is(err, ErrPurged) {
		t.Errorf("Append after purge = %v, want ErrPurged", err)
	}
	if segs, err := s.Segments(ctx, keep.ID); err != nil || len(segs) != 3 {
		t.Errorf("other engagement after purge: %d segments, %v", len(segs), err)
	}
	a, _ := s.QueryAudit(context.Background(), AuditQuery{Action: "purge.engagement"})
	if len(a) != 1 || a[0].Actor != "root" || a[0].Reason != "erasure request 42" || a[0].Detail["segments"] != "20" {
		t.Errorf("purge audit = %+v", a)
	}
	s.Close()

	// Not in the files: neither the text nor the wrapped data key (keys.db
	// is compacted after a purge, so no free page keeps it).
	if f := fileContains(t, filepath.Join(dir, KeysFile), string(wrapped)); len(f) > 0 {
		t.Error("wrapped data key of the purged engagement still in keys.db")
	}
	if f := fileContains(t, filepath.Join(dir, DBFile), secretText, secretCustomer); len(f) > 0 {
		t.Errorf("plain text in the database file: %q", f)
	}

	// A content backup from before the purge, restored beside the key store
	// as it is now, cannot be opened.
	if err := RestoreContent(dir, bytes.NewReader(before.Bytes())); err != nil {
		t.Fatal(err)
	}
	// Read the sealed segments straight from the restored file first: the
	// data key they need is gone from the key store.
	old, err := bbolt.Open(filepath.Join(dir, DBFile), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := parseID(e.ID)
	var sealed []byte
	old.View(func(tx *bbolt.Tx) error {
		sealed = bytes.Clone(tx.Bucket(bucketSegments).Get(segmentKey(id, 0)))
		return nil
	})
	old.Close()
	if len(sealed) == 0 {
		t.Fatal("the old backup does not hold the purged segments: the check below proves nothing")
	}
	// Restoring the content database alone rolls back its audit log (the
	// purge's entry is gone): earshot refuses to start on it until an
	// operator accepts it.
	if _, err := Open(ctx, Options{Dir: dir}); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "audit head") {
		t.Fatalf("Open of a content backup restored alone = %v, want the audit head named", err)
	}
	if _, err := Reseal(ctx, Options{Dir: dir}, "root", "restored the content backup of 2026-11-01"); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	if _, err := s.dek(ctx, id); !errors.Is(err, ErrPurged) {
		t.Fatalf("data key of the purged engagement with the current key store = %v, want ErrPurged", err)
	}
	// Open also finishes the purge on the restored records.
	if _, err := s.Segments(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Segments from an old backup after purge = %v, want ErrNotFound", err)
	}
	if a, _ := s.QueryAudit(context.Background(), AuditQuery{Action: "purge.complete", Engagement: e.ID}); len(a) != 1 {
		t.Fatalf("re-purge of restored records audited %d times, want 1", len(a))
	}
	if segs, err := s.Segments(ctx, keep.ID); err != nil || len(segs) != 3 {
		t.Errorf("kept engagement from the backup: %d segments, %v", len(segs), err)
	}
}

func TestPurgeByCustomerAndQueueRespectsHold(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	addAdmin(t, s)
	a1 := newEngagement(t, s, "billing", "CUST-A", t0)
	a2 := newEngagement(t, s, "sales", "CUST-A", t0.Add(time.Hour))
	a3 := newEngagement(t, s, "sales", "CUST-A", t0.Add(2*time.Hour))
	b1 := newEngagement(t, s, "sales", "CUST-B", t0.Add(3*time.Hour))
	b2 := newEngagement(t, s, "sales", "CUST-B", t0.Add(48*time.Hour))
	for _, e := range []Engagement{a1, a2, a3, b1, b2} {
		appendN(t, s, e, 2, "text %d")
	}
	if err := s.SetLegalHold(context.Background(), a3.ID, true, AuditEntry{Actor: "root", Reason: "litigation 7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeEngagement(ctx, a3.ID, PurgeRequest{Actor: "root", Reason: "r"}); !errors.Is(err, ErrLegalHold) {
		t.Fatalf("purge of a held engagement = %v, want ErrLegalHold", err)
	}
	res, err := s.PurgeCustomer(ctx, "CUST-A", PurgeRequest{Actor: "root", Reason: "GDPR art. 17"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (PurgeResult{Engagements: 2, Segments: 4, Held: 1}) {
		t.Fatalf("PurgeCustomer = %+v", res)
	}
	res, err = s.PurgeQueue(ctx, "sales", t0, t0.Add(24*time.Hour), PurgeRequest{Actor: "root", Reason: "pilot data"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (PurgeResult{Engagements: 1, Segments: 2, Held: 1}) {
		t.Fatalf("PurgeQueue = %+v", res)
	}
	var left []string
	all, _ := s.Engagements(ctx, EngagementFilter{})
	for _, e := range all {
		left = append(left, e.ID)
	}
	if len(left) != 2 || left[0] != a3.ID || left[1] != b2.ID {
		t.Fatalf("left after purges = %v, want [%s %s]", left, a3.ID, b2.ID)
	}
	a, _ := s.QueryAudit(context.Background(), AuditQuery{Action: "purge.customer"})
	if len(a) != 1 || a[0].Detail["customer_index"] == "" {
		t.Fatalf("customer purge audit = %+v", a)
	}
	raw, _ := os.ReadFile(filepath.Join(s.dir, DBFile))
	if bytes.Contains(raw, []byte("CUST-A")) {
		t.Fatal("customer reference in plain text in the audit log")
	}
}

func TestInterruptedPurgeCompletesAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	e := fill(t, s)
	id, _ := parseID(e.ID)
	// Simulate a crash between the two steps: the key is destroyed, the
	// records are still there.
	if err := s.keys.Shred(t.Context(), []keys.ID{id}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	if _, err := s.Engagement(context.Background(), e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Engagement after reopen = %v, want ErrNotFound", err)
	}
	n := 0
	s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketSegments).Stats().KeyN
		return nil
	})
	if n != 0 {
		t.Fatalf("%d segments left after completing the purge", n)
	}
	if a, _ := s.QueryAudit(context.Background(), AuditQuery{Action: "purge.complete"}); len(a) != 1 {
		t.Fatalf("purge.complete audit entries = %d, want 1", len(a))
	}
}

func TestRetentionSweep(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	old := newEngagement(t, s, "q", "C1", t0)
	held := newEngagement(t, s, "q", "C2", t0)
	recent := newEngagement(t, s, "q", "C3", t0.Add(20*24*time.Hour))
	for _, e := range []Engagement{old, held, recent} {
		appendN(t, s, e, 4, "t %d")
		if err := s.PutResult(ctx, Result{Engagement: e.ID, Feature: "summary", Payload: []byte(`{"s":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetLegalHold(context.Background(), held.ID, true, AuditEntry{Actor: "root", Reason: "trust and safety"}); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(40 * 24 * time.Hour) }
	res, err := s.SweepNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.TranscriptsExpired != 1 || res.Segments != 4 || res.Held != 1 || res.Results != 0 {
		t.Fatalf("SweepNow = %+v", res)
	}
	if segs, _ := s.Segments(ctx, old.ID); len(segs) != 0 {
		t.Errorf("expired engagement still has %d segments", len(segs))
	}
	if g, _ := s.Engagement(ctx, old.ID); !g.TranscriptExpired {
		t.Error("expired engagement not marked")
	}
	if _, err := s.Result(ctx, old.ID, "summary"); err != nil {
		t.Errorf("outputs are kept until purged, got %v", err)
	}
	for _, e := range []Engagement{held, recent} {
		if segs, _ := s.Segments(ctx, e.ID); len(segs) != 4 {
			t.Errorf("engagement %s lost segments: %d left", e.ID, len(segs))
		}
	}
	// A second sweep finds nothing new.
	if res, _ := s.SweepNow(ctx); res.Segments != 0 || res.TranscriptsExpired != 0 {
		t.Errorf("second sweep = %+v", res)
	}
	// Audit retention: after 401 days, earlier entries go, the chain verifies.
	before, _ := s.QueryAudit(context.Background(), AuditQuery{})
	s.now = func() time.Time { return t0.AddDate(0, 0, 40+401) }
	res, err = s.SweepNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.AuditEntries != len(before) {
		t.Errorf("audit entries removed = %d, want %d", res.AuditEntries, len(before))
	}
	r, err := s.VerifyAudit(context.Background())
	if err != nil || r.AnchorSeq != before[len(before)-1].Seq || r.Entries != 1 {
		t.Fatalf("VerifyAudit after prune = %+v, %v", r, err)
	}
	var anchor []byte
	s.db.View(func(tx *bbolt.Tx) error { anchor = bytes.Clone(tx.Bucket(bucketMeta).Get(keyAuditAnchor)); return nil })
	if binary.BigEndian.Uint64(anchor) != r.AnchorSeq {
		t.Fatal("anchor mismatch")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
