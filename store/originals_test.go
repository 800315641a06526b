package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestOriginals: the unredacted originals of redacted segments are stored
// in the segments' transaction, sealed under a key of their own; a read is
// audited; neither the originals nor the redacted text are in the file in
// plain text; the copy expires after its own window (before the
// transcript), except under legal hold, and goes with a purge.
func TestOriginals(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	addAdmin(t, s)
	ctx := context.Background()
	const card, redacted = "my card is 4111 1111 1111 1111", "my card is [CARD ending 1111]"
	es := []Engagement{newEngagement(t, s, "q", "C1", t0), newEngagement(t, s, "q", "C2", t0), newEngagement(t, s, "q", "C3", t0)}
	for _, e := range es {
		segs := []Segment{seg(e, 0, "hello"), seg(e, 1, redacted)}
		if err := s.AppendRedacted(ctx, segs, []Segment{seg(e, 1, card)}, 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendRedacted(ctx, []Segment{seg(es[0], 2, "x")}, []Segment{seg(es[0], 2, "y")}, 0); err == nil {
		t.Error("AppendRedacted with no retention for the copy succeeded")
	}
	if segs, err := s.Segments(ctx, es[0].ID); err != nil || len(segs) != 2 || segs[1].Text != redacted {
		t.Fatalf("Segments = %+v, %v", segs, err)
	}
	orig, err := s.Originals(ctx, es[0].ID, AuditEntry{Actor: "cora", Action: "content.read", Feature: "unredacted"})
	if err != nil || len(orig) != 1 || orig[0].Seq != 1 || orig[0].Text != card || orig[0].Words[0].Text != card {
		t.Fatalf("Originals = %+v, %v", orig, err)
	}
	if a, _ := s.QueryAudit(ctx, AuditQuery{Actor: "cora"}); len(a) != 1 || a[0].Engagement != es[0].ID || a[0].Feature != "unredacted" {
		t.Errorf("audit of the read = %+v", a)
	}
	other := newEngagement(t, s, "q", "C4", t0)
	if _, err := s.Originals(ctx, other.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Originals of an engagement without a copy = %v, want ErrNotFound", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, DBFile))
	for _, p := range []string{"4111 1111", "[CARD ending"} {
		if bytes.Contains(raw, []byte(p)) {
			t.Errorf("%s holds %q in plain text", DBFile, p)
		}
	}

	if err := s.SetLegalHold(ctx, es[1].ID, true, AuditEntry{Actor: "root", Reason: "dispute"}); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.AddDate(0, 0, 6) }
	if res, err := s.SweepNow(ctx); err != nil || res.OriginalsExpired != 0 {
		t.Fatalf("sweep before the window = %+v, %v", res, err)
	}
	s.now = func() time.Time { return t0.AddDate(0, 0, 8) }
	res, err := s.SweepNow(ctx)
	if err != nil || res.OriginalsExpired != 2 || res.Originals != 2 || res.Segments != 0 {
		t.Fatalf("sweep after the window = %+v, %v; want two copies gone, transcripts kept", res, err)
	}
	if _, err := s.Originals(ctx, es[0].ID); !errors.Is(err, ErrOriginalExpired) {
		t.Errorf("Originals after expiry = %v, want ErrOriginalExpired", err)
	}
	if segs, err := s.Segments(ctx, es[0].ID); err != nil || len(segs) != 2 {
		t.Errorf("the transcript went with its copy: %d segments, %v", len(segs), err)
	}
	if orig, err := s.Originals(ctx, es[1].ID); err != nil || len(orig) != 1 {
		t.Errorf("the held copy = %d, %v; want it kept", len(orig), err)
	}
	if a, _ := s.QueryAudit(ctx, AuditQuery{Action: "retention.sweep"}); len(a) != 1 || a[0].Detail["unredacted_expired"] != "2" {
		t.Errorf("sweep audit = %+v", a)
	}

	if _, err := s.PurgeEngagement(ctx, es[1].ID, PurgeRequest{Actor: "root", Reason: "x"}); !errors.Is(err, ErrLegalHold) {
		t.Fatalf("purge under hold = %v", err)
	}
	if err := s.SetLegalHold(ctx, es[1].ID, false, AuditEntry{Actor: "root", Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeEngagement(ctx, es[1].ID, PurgeRequest{Actor: "root", Reason: "erasure"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.db.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketOriginals, bucketOriginalIndex} {
			c := tx.Bucket(b).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if bytes.HasPrefix(k, mustID(t, es[1].ID)) {
					n++
				}
			}
		}
		return nil
	})
	if n != 0 {
		t.Errorf("%d records of the purged engagement's copy left", n)
	}
}

func mustID(t *testing.T, s string) []byte {
	id, err := parseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id[:]
}
