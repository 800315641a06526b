package qm

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReportAndRollup(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	day := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	facts := []Fact{
		{Engagement: "a", Queue: "cards", Agent: "ann", Channel: "voice", Start: day, HandleMS: 60000, AgentTalkMS: 30000, CustomerTalkMS: 10000,
			NonTalkMS: 20000, Interruptions: 2, SentimentStart: f(-0.5), SentimentEnd: f(0.5), Disposition: "resolved", QMScore: f(80)},
		{Engagement: "b", Queue: "cards", Agent: "bob", Channel: "voice", Start: day.Add(time.Hour), HandleMS: 120000, AgentTalkMS: 10000, CustomerTalkMS: 30000,
			NonTalkMS: 0, Escalated: true, Disposition: "resolved"},
		{Engagement: "c", Queue: "loans", Agent: "ann", Channel: "chat", Start: day.Add(24 * time.Hour), HandleMS: 30000},
	}
	for _, f := range facts {
		raw, _ := f.MarshalBinary()
		var back Fact
		if err := back.UnmarshalBinary(raw); err != nil {
			t.Fatal(err)
		}
		f.Start = f.Start.UTC()
		if diff := cmp.Diff(f, back); diff != "" {
			t.Errorf("fact round trip (-want +got):\n%s", diff)
		}
		if err := back.UnmarshalBinary(raw[:len(raw)-3]); err == nil && f.QMScore != nil {
			t.Error("a truncated fact decoded")
		}
	}
	rows := Report(facts, ByQueue, nil)
	want := []ReportRow{
		{Group: "cards", Engagements: 2, Voice: 2, MeanHandleMS: 90000, AgentTalkRatio: 0.5, MeanNonTalkMS: 10000, Interruptions: 2,
			MeanSentimentStart: f(-0.5), MeanSentimentEnd: f(0.5), Escalations: 1, Dispositions: map[string]int{"resolved": 2}, Evaluated: 1, MeanQMScore: f(80)},
		{Group: "loans", Engagements: 1, Chat: 1, MeanHandleMS: 30000, Dispositions: map[string]int{}},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("report by queue (-want +got):\n%s", diff)
	}
	if got := Report(facts, ByDay, nil); len(got) != 2 || got[0].Group != "2026-03-02" || got[0].Engagements != 2 {
		t.Errorf("report by day = %+v", got)
	}
	var b bytes.Buffer
	if err := WriteReportCSV(&b, ByQueue, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "queue,engagements,") || !strings.Contains(lines[1], "resolved=2") {
		t.Errorf("CSV:\n%s", b.String())
	}

	evals := []EvaluationSummary{
		{Agent: "ann", Queue: "cards", EngagementStart: day, Score: 80, Passed: true, Status: StatusReviewed},
		{Agent: "ann", Queue: "cards", EngagementStart: day, Score: 0, AutoFailed: true, Status: StatusDisputed},
		{Agent: "bob", Queue: "cards", EngagementStart: day, Score: 90, Passed: true, Status: StatusAcknowledged},
	}
	r := Rollup(evals, ByAgent, nil)
	if len(r) != 2 || r[0].Group != "ann" || *r[0].MeanScore != 40 || r[0].PassRate != 0.5 || r[0].AutoFailed != 1 || r[0].Disputed != 1 {
		t.Errorf("rollup by agent = %+v", r)
	}
	b.Reset()
	if err := WriteRollupCSV(&b, ByAgent, r); err != nil || !strings.Contains(b.String(), "ann,2,40.00,1,0.500,1,1,1,0") {
		t.Errorf("rollup CSV (%v):\n%s", err, b.String())
	}
	if csvSafe("=SUM(A1)") != "'=SUM(A1)" {
		t.Error("formula not defused")
	}
}
