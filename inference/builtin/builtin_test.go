package builtin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func newTestProvider(t *testing.T) *Provider {
	t.Helper()
	p, err := New(DefaultConfig(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"thresholds crossed", func(c *Config) { c.PositiveThreshold = -0.2 }, "positive_threshold"},
		{"intent threshold", func(c *Config) { c.IntentThreshold = 1 }, "intent_threshold"},
		{"workers", func(c *Config) { c.TrainWorkers = -1 }, "train_workers"},
		{"summary", func(c *Config) { c.SummarySentences = 0 }, "summary_sentences"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSentimentLexicon(t *testing.T) {
	p := newTestProvider(t)
	tests := []struct{ text, want string }{
		{"This is ridiculous, I've been on hold for an hour and my card is still not working!", "negative"},
		{"My flight was delayed again", "negative"},
		{"Thank you so much, that's perfect, you've been really helpful", "positive"},
		{"My account number is 12345678", "neutral"},
		{"Yes please", "neutral"},
		{"@united thanks, that was brilliant", "positive"},
	}
	for _, tt := range tests {
		s, err := p.Sentiment(context.Background(), tt.text)
		if err != nil {
			t.Fatal(err)
		}
		if s.Label != tt.want || s.Confidence < 0.5 || s.Confidence > 1 {
			t.Errorf("Sentiment(%q) = %+v, want %s", tt.text, s, tt.want)
		}
	}
}

var testIntents = []IntentPhrases{
	{Intent: "lost_card", Phrases: []string{"I lost my card", "my card was stolen", "I can't find my debit card", "someone took my wallet with my card", "my card is missing"}},
	{Intent: "balance", Phrases: []string{"what is my balance", "how much money do I have", "tell me my account balance", "check my balance please", "how much is in my account"}},
	{Intent: "close_account", Phrases: []string{"I want to close my account", "please close the account", "shut down my account", "I'd like to terminate my account", "cancel my account entirely"}},
}

func TestIntentsTrainDetectExportImport(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	if got, _ := p.DetectIntents(ctx, "I lost my card"); len(got) != 0 {
		t.Errorf("untrained DetectIntents = %v, want none", got)
	}
	if err := p.TrainIntents(ctx, testIntents); err != nil {
		t.Fatal(err)
	}
	got, err := p.DetectIntents(ctx, "help, my card has been stolen")
	if err != nil || len(got) == 0 || got[0].Name != "lost_card" {
		t.Fatalf("DetectIntents = %v, %v; want lost_card first", got, err)
	}
	if got, _ := p.DetectIntents(ctx, "good morning"); len(got) != 0 && got[0].Name != "" && got[0].Confidence > 0.5 {
		t.Errorf("greeting detected as %v", got)
	}
	if diff := cmp.Diff([]string{"balance", "close_account", "lost_card"}, p.Intents()); diff != "" {
		t.Errorf("Intents (-want +got):\n%s", diff)
	}
	data, err := p.Export(KindIntent)
	if err != nil || len(data) == 0 {
		t.Fatalf("Export = %d bytes, %v", len(data), err)
	}
	q := newTestProvider(t)
	if err := q.Import(KindIntent, data); err != nil {
		t.Fatal(err)
	}
	got2, _ := q.DetectIntents(ctx, "help, my card has been stolen")
	if diff := cmp.Diff(got, got2); diff != "" {
		t.Errorf("imported model differs (-want +got):\n%s", diff)
	}
	if err := q.Import(KindIntent, []byte("garbage")); err == nil {
		t.Error("Import(garbage): want error")
	}
	if got3, _ := q.DetectIntents(ctx, "help, my card has been stolen"); len(got3) == 0 {
		t.Error("a failed import replaced the model")
	}
}

func TestTrainIntentsErrors(t *testing.T) {
	p := newTestProvider(t)
	tests := []struct {
		name string
		in   []IntentPhrases
		want string
	}{
		{"one intent", testIntents[:1], "at least two"},
		{"no phrases", append([]IntentPhrases{{Intent: "x"}}, testIntents...), `"x" has no training phrases`},
		{"duplicate", append([]IntentPhrases{testIntents[0]}, testIntents...), "given twice"},
		{"empty name", append([]IntentPhrases{{Phrases: []string{"a"}}}, testIntents...), "entry 0"},
	}
	for _, tt := range tests {
		err := p.TrainIntents(context.Background(), tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: TrainIntents = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	c, err := NewCatalogue([]CatalogueEntry{
		{Intent: "lost_card", Action: "Block the card and order a replacement", Skill: "cards.block"},
		{Intent: "balance", Action: "Read the balance", MinConfidence: 0.9},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Recommend([]inference.Intent{{Name: "lost_card", Confidence: 0.8}, {Name: "balance", Confidence: 0.6}, {Name: "other", Confidence: 0.9}})
	want := []Recommendation{{Intent: "lost_card", Action: "Block the card and order a replacement", Skill: "cards.block", Confidence: 0.8}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Recommend (-want +got):\n%s", diff)
	}
	if _, err := NewCatalogue([]CatalogueEntry{{Intent: "x"}}); err == nil {
		t.Error("NewCatalogue without action: want error")
	}
}

func TestResolveDue(t *testing.T) {
	ref := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) // a Wednesday
	tests := []struct{ text, want string }{
		{"by Friday", "2026-11-27"},
		{"next Friday", "2026-12-04"},
		{"on Wednesday", "2026-12-02"},
		{"tomorrow", "2026-11-26"},
		{"by end of day", "2026-11-25"},
		{"by the end of the week", "2026-11-27"},
		{"within 3 business days", "2026-11-30"},
		{"in two weeks", "2026-12-09"},
		{"within 24 hours", "2026-11-26"},
		{"on the 3rd", "2026-12-03"},
		{"on the 30th", "2026-11-30"},
		{"on December 10th", "2026-12-10"},
		{"on 2 January", "2027-01-02"},
		{"next week", "2026-11-30"},
		{"by end of month", "2026-11-30"},
		{"soon", ""},
	}
	for _, tt := range tests {
		if got := resolveDue(words(tt.text), ref); got != tt.want {
			t.Errorf("resolveDue(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestExtractTasks(t *testing.T) {
	p := newTestProvider(t)
	ref := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	conv := []inference.Utterance{
		{Party: inference.PartyCustomer, Text: "I never got the form.", StartMS: 0, EndMS: 2000},
		{Party: inference.PartyAgent, Text: "Sorry about that. I'll email you the form by Friday.", StartMS: 2500, EndMS: 6000},
		{Party: inference.PartyAgent, Text: "Let me check your address now.", StartMS: 7000, EndMS: 9000},
		{Party: inference.PartyAgent, Text: "Please send us the signed copy within 5 working days.", StartMS: 9500, EndMS: 12000},
	}
	got, err := p.ExtractTasks(context.Background(), conv, ref)
	if err != nil {
		t.Fatal(err)
	}
	want := []inference.Task{
		{Text: "I'll email you the form by Friday.", Owner: inference.PartyAgent, Due: "2026-11-27", EvidenceMS: 2500},
		{Text: "Please send us the signed copy within 5 working days.", Owner: inference.PartyCustomer, Due: "2026-12-02", EvidenceMS: 9500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExtractTasks (-want +got):\n%s", diff)
	}
	if _, err := p.ExtractTasks(context.Background(), []inference.Utterance{{Party: "robot", Text: "x"}}, ref); err == nil || !strings.Contains(err.Error(), "utterance 0: party") {
		t.Errorf("bad party: err = %v", err)
	}
}

var testConv = []inference.Utterance{
	{Party: inference.PartyAgent, Text: "Good morning, you're through to card services.", StartMS: 0, EndMS: 3000},
	{Party: inference.PartyCustomer, Text: "Hi. My debit card was stolen yesterday and there are two payments I don't recognise.", StartMS: 3500, EndMS: 9000},
	{Party: inference.PartyAgent, Text: "I'm sorry to hear that. I've blocked the debit card so nobody can use it.", StartMS: 9500, EndMS: 14000},
	{Party: inference.PartyAgent, Text: "I've also raised a dispute for the two payments.", StartMS: 14500, EndMS: 17000},
	{Party: inference.PartyAgent, Text: "I'll send you a replacement debit card within 5 working days.", StartMS: 17500, EndMS: 21000},
	{Party: inference.PartyCustomer, Text: "Perfect, thank you so much.", StartMS: 21500, EndMS: 23000},
}

func TestSummaryNotesKeywords(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	s, err := p.Summarize(ctx, testConv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Text, "Customer: Hi. My debit card was stolen") && !strings.Contains(s.Text, "Customer: My debit card was stolen") {
		t.Errorf("summary lacks the reason for contact: %q", s.Text)
	}
	if s.Provider != ProviderName || len(s.Keywords) == 0 || s.Keywords[0].Term != "debit card" {
		t.Errorf("summary provenance/keywords = %+v / %+v, want builtin and 'debit card' first", s.Provenance, s.Keywords)
	}
	n, err := p.writeNotes(ctx, testConv, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := inference.Notes{
		Reason:     "My debit card was stolen yesterday and there are two payments I don't recognise.",
		Actions:    "I've blocked the debit card so nobody can use it. I've also raised a dispute for the two payments.",
		Outcome:    "Follow-up pending: 1 task(s) agreed.",
		FollowUps:  []string{"agent: I'll send you a replacement debit card within 5 working days. (due 2026-12-02)"},
		Provenance: inference.Provenance{Provider: ProviderName, Model: notesModel},
	}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if _, err := p.Keywords(ctx, testConv, 0); err == nil {
		t.Error("Keywords(n=0): want error")
	}
}

func TestDisposition(t *testing.T) {
	p := newTestProvider(t)
	codes := loadCodes(t)
	d, err := p.ClassifyDisposition(context.Background(), testConv[:3], codes)
	if err != nil {
		t.Fatal(err)
	}
	if d.Code != "CARD_REPLACED" || d.Confidence <= 0 || d.Confidence > 1 || d.Provider != ProviderName {
		t.Errorf("ClassifyDisposition = %+v, want CARD_REPLACED", d)
	}
	for _, bad := range [][]inference.DispositionCode{nil, {{Code: ""}}, {{Code: "A"}, {Code: "A"}}} {
		if _, err := p.ClassifyDisposition(context.Background(), testConv, bad); err == nil {
			t.Errorf("codes %v: want error", bad)
		}
	}
	// learning from history moves the decision towards the codes agents chose
	if err := p.TrainDispositions(context.Background(), loadDispositionExamples(t), codes); err != nil {
		t.Fatal(err)
	}
	d2, err := p.ClassifyDisposition(context.Background(), testConv[:3], codes)
	if err != nil || d2.Code != "CARD_REPLACED" || !strings.Contains(d2.Model, "svm") {
		t.Errorf("after training: %+v, %v", d2, err)
	}
}

func TestEscalation(t *testing.T) {
	e := NewEscalation(EscalationConfig{UsualHandleTime: time.Minute, LongSilence: 10 * time.Second})
	neg := inference.Sentiment{Label: "negative", Score: -0.8}
	r := e.Observe(inference.Utterance{Party: inference.PartyCustomer, Text: "Hello", StartMS: 0, EndMS: 1000}, inference.Sentiment{})
	if r.Level != "low" || len(r.Reasons) != 0 {
		t.Errorf("calm start: %+v", r)
	}
	e.Observe(inference.Utterance{Party: inference.PartyCustomer, Text: "This is the third time I've called", StartMS: 30_000, EndMS: 33_000}, neg)
	r = e.Observe(inference.Utterance{Party: inference.PartyCustomer, Text: "I want to speak to a manager or I'll close my account", StartMS: 80_000, EndMS: 85_000}, neg)
	var codes []string
	for _, x := range r.Reasons {
		codes = append(codes, x.Code)
	}
	for _, want := range []string{"asks_for_manager", "threatens_to_leave", "repeated_contact", "negative_trend", "long_silence", "over_handle_time"} {
		if !strings.Contains(strings.Join(codes, ","), want) {
			t.Errorf("reasons %v lack %s", codes, want)
		}
	}
	if r.Level != "high" || r.Score <= 0.6 || r.Score > 1 {
		t.Errorf("risk = %.3f %s, want high", r.Score, r.Level)
	}
	if strings.Contains(r.ReasonSummary(), "manager or I'll") {
		t.Error("reason text quotes the customer")
	}
}

func TestEscalationTick(t *testing.T) {
	e := NewEscalation(EscalationConfig{UsualHandleTime: time.Minute, LongSilence: 10 * time.Second})
	e.Observe(inference.Utterance{Party: inference.PartyCustomer, Text: "hello", StartMS: 0, EndMS: 1000}, inference.Sentiment{})
	if r := e.Tick(5000); len(r.Reasons) != 0 {
		t.Errorf("Tick(5s) reasons = %+v, want none", r.Reasons)
	}
	r := e.Tick(90_000)
	if len(r.Reasons) != 2 || r.Reasons[0].Code != "long_silence" && r.Reasons[1].Code != "long_silence" {
		t.Errorf("Tick(90s) reasons = %+v, want long_silence and over_handle_time", r.Reasons)
	}
	e.Tick(95_000)
	r = e.Observe(inference.Utterance{Party: inference.PartyAgent, Text: "sorry", StartMS: 96_000, EndMS: 97_000}, inference.Sentiment{})
	if !strings.Contains(r.ReasonSummary(), "1 long silence") {
		t.Errorf("one silence counted more than once: %q", r.ReasonSummary())
	}
}

func TestTrend(t *testing.T) {
	tr := NewTrend(10_000)
	tr.Add(0.8, 0)
	for i := 1; i <= 5; i++ {
		tr.Add(-0.9, int64(i)*5000)
	}
	if v := tr.Value(); v >= -0.5 {
		t.Errorf("trend after sustained negativity = %.3f, want < -0.5", v)
	}
	if s := tr.Slope(5); s >= 0 {
		t.Errorf("slope = %.3f, want negative", s)
	}
	if n := len(tr.Points()); n != 6 {
		t.Errorf("points = %d, want 6", n)
	}
}

func TestLiveAndTrainer(t *testing.T) {
	p := newTestProvider(t)
	tr := NewTrainer(context.Background())
	defer tr.Close()
	id, err := tr.Submit(KindIntent, func(ctx context.Context) error { return p.TrainIntents(ctx, testIntents) })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, ok := tr.Status(id)
		if !ok {
			t.Fatal("job unknown")
		}
		if st.State == "done" {
			break
		}
		if st.State == "failed" || time.Now().After(deadline) {
			t.Fatalf("job state %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cat, _ := NewCatalogue([]CatalogueEntry{{Intent: "lost_card", Action: "Block the card", Skill: "cards.block", MinConfidence: 0.3}})
	live := p.NewLive(cat, EscalationConfig{})
	res, err := live.Segment(context.Background(), inference.Utterance{Party: inference.PartyCustomer, Text: "my card was stolen and nobody is helping, this is ridiculous", StartMS: 0, EndMS: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sentiment == nil || res.Sentiment.Label != "negative" || len(res.NextBestActions) != 1 || res.NextBestActions[0].Skill != "cards.block" {
		t.Errorf("live result = %+v", res)
	}
	if _, err := live.Segment(context.Background(), inference.Utterance{Party: "x"}); err == nil {
		t.Error("bad segment: want error")
	}
}

func TestPreview(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	pv := EngagementPreview([]PastEngagement{
		{ID: "1", Start: now.AddDate(0, 0, -10), Summary: "Customer: asked about a mortgage. Agent: sent a quote.", Sentiment: 0.5},
		{ID: "2", Start: now.AddDate(0, 0, -1), Summary: "Customer: card stolen.", Disposition: "Card replaced", Sentiment: -0.6, OpenTasks: []string{"send replacement card"}},
	}, now)
	want := "2 previous engagement(s). yesterday: Customer: card stolen [Card replaced] (customer was upset). 10 days ago: Customer: asked about a mortgage (customer was satisfied). Open follow-ups: send replacement card."
	if pv.Text != want {
		t.Errorf("preview =\n%q\nwant\n%q", pv.Text, want)
	}
	if EngagementPreview(nil, now).Text != "No previous engagements." {
		t.Error("empty preview")
	}
	// An engagement the reader may not read contributes topics and counts.
	pv = EngagementPreview([]PastEngagement{
		{ID: "3", Start: now.AddDate(0, 0, -2), Topics: []string{"lost_card"}, Disposition: "refund", HiddenTasks: 2},
		{ID: "4", Start: now.AddDate(0, 0, -3)},
	}, now)
	want = "2 previous engagement(s). 2 days ago: about lost_card [refund]. 3 days ago: an engagement. 2 more open follow-up(s) in engagements handled by others."
	if pv.Text != want || len(pv.OpenTasks) != 0 {
		t.Errorf("preview without content =\n%q, open tasks %v\nwant\n%q", pv.Text, pv.OpenTasks, want)
	}
}

func TestRiskWithout(t *testing.T) {
	e := NewEscalation(EscalationConfig{LongSilence: time.Second})
	var r Risk
	for i, text := range []string{"this is terrible and awful", "I hate this, it is the worst", "I want to speak to a manager, this is horrible"} {
		r = e.Observe(inference.Utterance{Party: inference.PartyCustomer, Text: text, StartMS: int64(i) * 5000, EndMS: int64(i)*5000 + 1000},
			inference.Sentiment{Score: -0.9})
	}
	codes := func(r Risk) []string {
		var out []string
		for _, x := range r.Reasons {
			out = append(out, x.Code)
		}
		return out
	}
	if !slices.Contains(codes(r), "negative_trend") || !slices.Contains(codes(r), "asks_for_manager") || !slices.Contains(codes(r), "long_silence") {
		t.Fatalf("risk %+v lacks the reasons the test needs", r)
	}
	w := r.Without(SentimentReasons...)
	if diff := cmp.Diff([]string{"asks_for_manager", "long_silence"}, codes(w)); diff != "" {
		t.Errorf("reasons without sentiment (-want +got):\n%s", diff)
	}
	if w.Score >= r.Score || w.Score != riskOf([]Reason{r.Reasons[slices.IndexFunc(r.Reasons, func(x Reason) bool { return x.Code == "asks_for_manager" })],
		r.Reasons[slices.IndexFunc(r.Reasons, func(x Reason) bool { return x.Code == "long_silence" })]}).Score {
		t.Errorf("score without sentiment = %v (with: %v), want the score of the other reasons alone", w.Score, r.Score)
	}
	if strings.Contains(fmt.Sprint(w), "sentiment") {
		t.Errorf("risk without sentiment still mentions it: %+v", w)
	}
}
