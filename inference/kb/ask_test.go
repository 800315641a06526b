package kb

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
)

// loadAskFixture reads the committed test engagements into an AskIndex.
func loadAskFixture(t *testing.T) *AskIndex {
	t.Helper()
	raw, err := os.ReadFile("testdata/ask_engagements.json")
	if err != nil {
		t.Fatal(err)
	}
	var engs []struct {
		EngagementID string    `json:"engagement_id"`
		Queue        string    `json:"queue"`
		Started      time.Time `json:"started"`
		Segments     []Segment `json:"segments"`
		Summary      string    `json:"summary"`
	}
	if err := json.Unmarshal(raw, &engs); err != nil {
		t.Fatal(err)
	}
	a, err := NewAskIndex(nil, BuiltinSynonyms())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engs {
		var segs []Segment
		for i, s := range e.Segments {
			s.EngagementID, s.Queue, s.Started, s.Kind, s.Seq = e.EngagementID, e.Queue, e.Started, "segment", i
			segs = append(segs, s)
		}
		if e.Summary != "" {
			segs = append(segs, Segment{EngagementID: e.EngagementID, Queue: e.Queue, Started: e.Started, Kind: "summary", Text: e.Summary})
		}
		if err := a.AddEngagement(context.Background(), segs); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func allowAll(Segment) bool { return true }

func allowQueues(qs ...string) func(Segment) bool {
	return func(s Segment) bool { return slices.Contains(qs, s.Queue) }
}

func citedEngagements(a AskAnswer) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range a.Citations {
		if !seen[c.EngagementID] {
			seen[c.EngagementID] = true
			out = append(out, c.EngagementID)
		}
	}
	sort.Strings(out)
	return out
}

func TestAsk(t *testing.T) {
	a := loadAskFixture(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		q        AskQuery
		topEng   string // engagement of the first citation
		topText  string // substring of the first citation's text
		topSpk   inference.Party
		mustCite []string // engagements that must all be cited
		never    []string // engagements that must never be cited
	}{
		{name: "replacement card day", q: AskQuery{Question: "When will the replacement card for the card lost in Lisbon arrive?", Allow: allowAll},
			topEng: "eng-101", topText: "Thursday"}, // the summary or the agent's reply
		{name: "gym charge across engagements", q: AskQuery{Question: "Which customers disputed a Stellar Gym charge?", Allow: allowAll},
			mustCite: []string{"eng-102", "eng-104"}},
		{name: "mortgage holiday length", q: AskQuery{Question: "How long is the mortgage payment holiday?", Allow: allowAll},
			topEng: "eng-103", topText: "three months"},
		{name: "early repayment", q: AskQuery{Question: "What is the early repayment charge for overpaying?", Allow: allowAll, K: 1},
			topEng: "eng-105", topText: "two percent", topSpk: inference.PartyAgent},
		{name: "scope one engagement", q: AskQuery{Question: "replacement card arrive", EngagementID: "eng-106", Allow: allowAll},
			topEng: "eng-106", topText: "Monday", never: []string{"eng-101"}},
		{name: "scope date range", q: AskQuery{Question: "replacement card arrive", Allow: allowAll,
			From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
			topEng: "eng-106", never: []string{"eng-101", "eng-102", "eng-103", "eng-104", "eng-105"}},
		// Authorisation: a cards supervisor asks a mortgage question whose
		// answers are all in the mortgages queue.
		{name: "cards supervisor never sees mortgages", q: AskQuery{Question: "How long is the mortgage payment holiday?", Allow: allowQueues("cards"), K: 10},
			never: []string{"eng-103", "eng-105"}},
		// An agent may see only their own engagement: the gym disputes of
		// others are excluded even though they are the best matches.
		{name: "agent sees only own engagement", q: AskQuery{Question: "Stellar Gym charge dispute", K: 10,
			Allow: func(s Segment) bool { return s.EngagementID == "eng-101" }},
			never: []string{"eng-102", "eng-103", "eng-104", "eng-105", "eng-106"}},
		// The filter applies before ranking: with K=1 an allowed segment is
		// still returned although better excluded ones exist.
		{name: "filter before ranking", q: AskQuery{Question: "replacement card arrive", K: 1, Allow: func(s Segment) bool { return s.EngagementID == "eng-106" }},
			topEng: "eng-106", topText: "Monday"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Ask(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if tc.topEng != "" {
				if len(got.Citations) == 0 {
					t.Fatalf("no citations; want %s first", tc.topEng)
				}
				c := got.Citations[0]
				if c.EngagementID != tc.topEng || !strings.Contains(c.Text, tc.topText) || (tc.topSpk != "" && c.Speaker != tc.topSpk) {
					t.Errorf("first citation = %+v, want engagement %s speaker %q containing %q", c, tc.topEng, tc.topSpk, tc.topText)
				}
				if !strings.HasPrefix(got.Text, "[1] "+c.Text) {
					t.Errorf("answer text %q does not start with the first citation", got.Text)
				}
			}
			eng := citedEngagements(got)
			for _, want := range tc.mustCite {
				if !slices.Contains(eng, want) {
					t.Errorf("cited %v, missing %s", eng, want)
				}
			}
			for _, bad := range tc.never {
				if slices.Contains(eng, bad) {
					t.Errorf("cited %v, includes excluded %s", eng, bad)
				}
			}
			if len(got.Citations) > max(tc.q.K, 5) {
				t.Errorf("%d citations, K=%d", len(got.Citations), tc.q.K)
			}
		})
	}
}

func TestAskNeedsFilter(t *testing.T) {
	a := loadAskFixture(t)
	if _, err := a.Ask(context.Background(), AskQuery{Question: "card"}); err != ErrNoFilter {
		t.Errorf("Ask without Allow: err = %v, want ErrNoFilter", err)
	}
}

// TestAskExcludedNeverAppears runs many questions built from every segment's
// own words; an excluded engagement must never be cited, even when the
// question is its own text.
func TestAskExcludedNeverAppears(t *testing.T) {
	a := loadAskFixture(t)
	a.mu.RLock()
	var qs []string
	for _, s := range a.segs {
		qs = append(qs, s.Text)
	}
	a.mu.RUnlock()
	for _, excluded := range []string{"eng-101", "eng-102", "eng-103", "eng-104", "eng-105", "eng-106"} {
		for _, q := range qs {
			got, err := a.Ask(context.Background(), AskQuery{Question: q, K: 20, Allow: func(s Segment) bool { return s.EngagementID != excluded }})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(citedEngagements(got), excluded) {
				t.Fatalf("question %q: excluded %s cited", q, excluded)
			}
		}
	}
}

func TestAskRemoveEngagement(t *testing.T) {
	a := loadAskFixture(t)
	a.RemoveEngagement("eng-103")
	got, err := a.Ask(context.Background(), AskQuery{Question: "mortgage payment holiday three months", Allow: allowAll, K: 10})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(citedEngagements(got), "eng-103") {
		t.Errorf("removed engagement cited: %v", citedEngagements(got))
	}
	if len(got.Citations) == 0 || got.Citations[0].EngagementID != "eng-105" {
		t.Errorf("first citation = %+v, want the other mortgage engagement eng-105", got.Citations)
	}
}

func TestAskAddEngagementChecks(t *testing.T) {
	a, err := NewAskIndex(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	long := strings.Repeat("é long customer explanation ", 100) // context over MaxTitleLen
	segs := []Segment{
		{EngagementID: "e1", Kind: "segment", Seq: 0, Speaker: inference.PartyCustomer, Text: long},
		{EngagementID: "e1", Kind: "segment", Seq: 1, Speaker: inference.PartyAgent, Text: "Your parcel code is ZX81."},
	}
	if err := a.AddEngagement(ctx, segs); err != nil {
		t.Fatalf("long context: %v", err)
	}
	got, err := a.Ask(ctx, AskQuery{Question: "parcel code", Allow: allowAll})
	if err != nil || len(got.Citations) == 0 || !strings.Contains(got.Citations[0].Text, "ZX81") {
		t.Errorf("after a long segment: %+v, %v", got, err)
	}
	dup := []Segment{{EngagementID: "e2", Kind: "segment", Seq: 0, Text: "a"}, {EngagementID: "e2", Kind: "segment", Seq: 0, Text: "b"}}
	if err := a.AddEngagement(ctx, dup); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate seq: err = %v", err)
	}
	mixed := []Segment{{EngagementID: "e3", Text: "a"}, {EngagementID: "e4", Text: "b"}}
	if err := a.AddEngagement(ctx, mixed); err == nil {
		t.Error("segments of two engagements: no error")
	}
}
