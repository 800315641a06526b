package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// addAdmin creates the admin user purges are made by.
func addAdmin(t testing.TB, s *Store) {
	t.Helper()
	if err := s.CreateUser(context.Background(), User{ID: "root", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
}

func newEngagement(t testing.TB, s *Store, queue, customer string, start time.Time) Engagement {
	t.Helper()
	e, err := s.CreateEngagement(context.Background(), Engagement{
		Account: "acme", Queue: queue, Agent: "ana", CustomerRef: customer,
		Channel: "voice", Direction: "inbound", Start: start, End: start.Add(5 * time.Minute),
	})
	if err != nil {
		t.Fatalf("CreateEngagement: %v", err)
	}
	return e
}

func seg(e Engagement, seq uint32, text string) Segment {
	return Segment{Engagement: e.ID, Seq: seq, Speaker: "customer", StartMs: int64(seq) * 1000,
		EndMs: int64(seq)*1000 + 900, Text: text, Final: true,
		Words: []Word{{Text: text, StartMs: int64(seq) * 1000, EndMs: int64(seq)*1000 + 900, Confidence: 0.9}}}
}

func appendN(t testing.TB, s *Store, e Engagement, n int, format string) {
	t.Helper()
	for i := range n {
		if err := s.Append(context.Background(), seg(e, uint32(i), fmt.Sprintf(format, i))); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}
