package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQMRecordsAndPurge(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	addAdmin(t, s)
	e := newEngagement(t, s, "cards", "CUST-1", t0)
	keep := newEngagement(t, s, "cards", "CUST-2", t0)

	// Scorecard versions.
	for want := 1; want <= 2; want++ {
		v, err := s.PutScorecardVersion(ctx, "service", 0, func(v int) ([]byte, error) {
			return json.Marshal(map[string]int{"version": v})
		}, AuditEntry{Actor: "root", Action: "scorecard.put", Target: "service"})
		if err != nil || v != want {
			t.Fatalf("PutScorecardVersion = %d, %v; want %d", v, err, want)
		}
	}
	if _, err := s.PutScorecardVersion(ctx, "service", 7, func(int) ([]byte, error) { return []byte("{}"), nil }); !errors.Is(err, ErrVersion) {
		t.Errorf("stale version: %v, want ErrVersion", err)
	}
	if raw, err := s.Scorecard(ctx, "service", 0); err != nil || string(raw) != `{"version":2}` {
		t.Errorf("latest scorecard = %s, %v", raw, err)
	}
	if raw, err := s.Scorecard(ctx, "service", 1); err != nil || string(raw) != `{"version":1}` {
		t.Errorf("scorecard v1 = %s, %v", raw, err)
	}
	if _, err := s.PutScorecardVersion(ctx, "other", 0, func(int) ([]byte, error) { return []byte(`{"o":1}`), nil }); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Scorecards(ctx); err != nil || len(all) != 2 || string(all[1]) != `{"version":2}` {
		t.Errorf("Scorecards = %q, %v", all, err)
	}

	// Evaluations: content sealed, summary clear.
	const secret = "the customer said ZEBRA-4411"
	content, _ := json.Marshal(map[string]string{"quote": secret})
	for _, x := range []Engagement{e, keep} {
		if err := s.PutEvaluation(ctx, x.ID, "service", content, []byte(`{"score":80}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutFact(ctx, x.ID, []byte(`{"handle_ms":1000}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Evaluation(ctx, e.ID, "service", AuditEntry{Actor: "sue"})
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Evaluation = %s, %v", got, err)
	}
	if a, _ := s.QueryAudit(ctx, AuditQuery{Action: "content.read"}); len(a) != 1 || a[0].Engagement != e.ID {
		t.Errorf("read audit = %+v", a)
	}
	n := 0
	s.EvaluationSummaries(ctx, "", func(eng, sc string, raw []byte) error {
		n++
		if sc != "service" || string(raw) != `{"score":80}` {
			t.Errorf("summary %s %s %s", eng, sc, raw)
		}
		return nil
	})
	if n != 2 {
		t.Errorf("%d summaries, want 2", n)
	}

	// Topic models: sealed with the site key; memberships.
	model, err := s.PutTopicModel(ctx, TopicModel{Scope: "cards", CreatedAt: t0, Content: []byte(`{"keywords":"` + secret + `"}`)},
		map[string][]byte{e.ID: []byte(`{"topics":[1]}`), keep.ID: []byte(`{"topics":[2]}`)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.LoadTopicModel(ctx, model)
	if err != nil || !bytes.Contains(m.Content, []byte(secret)) || m.Scope != "cards" {
		t.Fatalf("LoadTopicModel = %+v, %v", m, err)
	}
	members := func() map[string]string {
		out := map[string]string{}
		s.TopicMembers(ctx, model, func(eng string, raw []byte) error { out[eng] = string(raw); return nil })
		return out
	}
	if diff := cmp.Diff(map[string]string{e.ID: `{"topics":[1]}`, keep.ID: `{"topics":[2]}`}, members()); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}

	// Purge removes the engagement's evaluation, summary, fact and membership.
	res, err := s.PurgeEngagement(ctx, e.ID, PurgeRequest{Actor: "root", Reason: "erasure"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results != 4 { // evaluation, summary, fact, membership
		t.Errorf("purge removed %d results, want 4", res.Results)
	}
	if _, err := s.Evaluation(ctx, e.ID, "service"); !errors.Is(err, ErrNotFound) {
		t.Errorf("evaluation after purge: %v", err)
	}
	if diff := cmp.Diff(map[string]string{keep.ID: `{"topics":[2]}`}, members()); diff != "" {
		t.Errorf("members after purge (-want +got):\n%s", diff)
	}
	facts := 0
	s.Facts(ctx, func(eng string, _ []byte) error {
		facts++
		if eng != keep.ID {
			t.Errorf("fact of %s after purge", eng)
		}
		return nil
	})
	if facts != 1 {
		t.Errorf("%d facts after purge, want 1", facts)
	}
	if err := s.DeleteTopicModel(ctx, model); err != nil {
		t.Fatal(err)
	}
	if len(members()) != 0 {
		t.Error("memberships survive their model")
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("ZEBRA-4411")) {
		t.Error("quality-management content is in the database file in the clear")
	}
}

// TestQMEvaluationsExpireWithOutputs: the output retention window removes
// an evaluation's sealed content with the engagement's results, keeps its
// content-free summary, and spares an engagement under legal hold and one
// within the window.
func TestQMEvaluationsExpireWithOutputs(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	var engs []Engagement // ended 35, 35 and 15 days before the sweep
	for i, start := range []time.Time{t0, t0, t0.Add(20 * 24 * time.Hour)} {
		e := newEngagement(t, s, "q", fmt.Sprintf("C%d", i+1), start)
		engs = append(engs, e)
		if err := s.PutResult(ctx, Result{Engagement: e.ID, Feature: "speaker_metrics", Payload: []byte(`{"hold_ms":0}`)}); err != nil {
			t.Fatal(err)
		}
		for _, sc := range []string{"service", "sales"} {
			if err := s.PutEvaluation(ctx, e.ID, sc, []byte(`{"quote":"my card"}`), []byte(`{"score":80}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	old, held, recent := engs[0], engs[1], engs[2]
	if err := s.SetLegalHold(ctx, held.ID, true, AuditEntry{Actor: "root", Reason: "dispute"}); err != nil {
		t.Fatal(err)
	}
	s.cfg.Retention.OutputDays = 30
	s.now = func() time.Time { return t0.Add(40 * 24 * time.Hour) }
	res, err := s.SweepNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputsExpired != 1 || res.Results != 3 {
		t.Errorf("SweepNow = %+v, want one engagement's result and two evaluations", res)
	}
	for _, sc := range []string{"service", "sales"} {
		if _, err := s.Evaluation(ctx, old.ID, sc); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired evaluation %s: %v, want ErrNotFound", sc, err)
		}
		for _, e := range []Engagement{held, recent} {
			if _, err := s.Evaluation(ctx, e.ID, sc); err != nil {
				t.Errorf("evaluation %s of %s: %v, want it kept", sc, e.CustomerRef, err)
			}
		}
	}
	n := 0
	if err := s.EvaluationSummaries(ctx, old.ID, func(_, _ string, raw []byte) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("summaries of the expired engagement = %d, %v; want 2 kept", n, err)
	}
}
