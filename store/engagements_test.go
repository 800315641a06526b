package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestEngagementLifecycleAndFilters(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(context.Background(), Options{Dir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	mk := func(queue, agent string, start time.Time) string {
		e, err := s.CreateEngagement(ctx, Engagement{Queue: queue, Agent: agent, Channel: "chat", Direction: "outbound", Start: start})
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != StatusLive {
			t.Fatalf("new engagement status %q, want live", e.Status)
		}
		return e.ID
	}
	a := mk("billing", "ana", t0)
	b := mk("billing", "bob", t0.Add(time.Hour))
	c := mk("sales", "ana", t0.Add(2*time.Hour))
	d := mk("sales", "bob", t0.Add(3*time.Hour))

	if err := s.EndEngagement(context.Background(), a, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.EndEngagement(context.Background(), b, t0); err == nil {
		t.Fatal("EndEngagement before the start succeeded")
	}
	if err := s.SetFlags(context.Background(), c, []string{"escalated", "vip"}, AuditEntry{Actor: "sup", Action: "engagement.flags"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Engagement(ctx, a)
	if got.Status != StatusEnded || !got.End.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("ended engagement = %+v", got)
	}
	got, _ = s.Engagement(ctx, c)
	if diff := cmp.Diff([]string{"escalated", "vip"}, got.Flags); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		f    EngagementFilter
		want []string
	}{
		{"all", EngagementFilter{}, []string{a, b, c, d}},
		{"queue", EngagementFilter{Queue: "sales"}, []string{c, d}},
		{"agent", EngagementFilter{Agent: "ana"}, []string{a, c}},
		{"agent and queue", EngagementFilter{Agent: "bob", Queue: "sales"}, []string{d}},
		{"time range", EngagementFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []string{b, c}},
		{"queue and time", EngagementFilter{Queue: "billing", From: t0.Add(30 * time.Minute)}, []string{b}},
		{"limit", EngagementFilter{Limit: 3}, []string{a, b, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := s.Engagements(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range es {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("Engagements(%+v) (-want +got):\n%s", tt.f, diff)
			}
		})
	}

	bad := []struct {
		e    Engagement
		want string
	}{
		{Engagement{Channel: "voice", Direction: "inbound", Start: t0}, "queue is required"},
		{Engagement{Queue: "q", Channel: "fax", Direction: "inbound", Start: t0}, `channel "fax"`},
		{Engagement{Queue: "q", Channel: "voice", Direction: "sideways", Start: t0}, `direction "sideways"`},
		{Engagement{Queue: "q", Channel: "voice", Direction: "inbound"}, "start is required"},
		{Engagement{ID: "xyz", Queue: "q", Channel: "voice", Direction: "inbound", Start: t0}, "malformed engagement id"},
	}
	for _, tt := range bad {
		if _, err := s.CreateEngagement(ctx, tt.e); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CreateEngagement(%+v) = %v, want error containing %q", tt.e, err, tt.want)
		}
	}
	if _, err := s.CreateEngagement(ctx, Engagement{ID: a, Queue: "q", Channel: "voice", Direction: "inbound", Start: t0}); !errors.Is(err, ErrExists) {
		t.Errorf("CreateEngagement with a taken ID = %v, want ErrExists", err)
	}
	if err := s.Append(ctx, Segment{Engagement: a, Speaker: "agent", StartMs: 5, EndMs: 1}); err == nil {
		t.Error("Append with end before start succeeded")
	}
	if err := s.PutResult(ctx, Result{Engagement: a, Feature: "summary", Payload: []byte("{not json")}); err == nil {
		t.Error("PutResult with invalid JSON succeeded")
	}
	rejected := counterValue(t, s.metrics.rejected.WithLabelValues("engagement")) +
		counterValue(t, s.metrics.rejected.WithLabelValues("segment")) +
		counterValue(t, s.metrics.rejected.WithLabelValues("result"))
	if rejected != 6 {
		t.Errorf("rejected_total = %v, want 6 (4 engagements, 1 segment, 1 result)", rejected)
	}
	if n := counterValue(t, s.metrics.engagements); n != 4 {
		t.Errorf("engagements_created_total = %v, want 4", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
