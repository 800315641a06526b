package qm

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wordsOver spreads n words evenly over [start, end).
func wordsOver(start, end int64, n int) []Word {
	ws := make([]Word, n)
	step := (end - start) / int64(n)
	for i := range ws {
		ws[i] = Word{Text: "w", StartMS: start + int64(i)*step, EndMS: start + int64(i+1)*step - 50}
	}
	ws[n-1].EndMS = end
	return ws
}

func turn(seq int, party string, start, end int64, text string) Turn {
	return Turn{Seq: seq, Party: party, StartMS: start, EndMS: end, Text: text, Words: wordsOver(start, end, max(1, int((end-start)/400)))}
}

func TestComputeVoice(t *testing.T) {
	cfg := DefaultMetricsConfig()
	turns := []Turn{
		turn(0, PartyAgent, 1000, 5000, "thank you for calling how can i help"),
		turn(1, PartyCustomer, 5200, 12000, "my card has not arrived"), // clean turn-taking: a 200 ms gap
		turn(2, PartyAgent, 11900, 15000, "i can see it was posted"),   // 100 ms early: jitter, not an interruption
		turn(3, PartyCustomer, 13000, 16000, "but that was weeks ago"), // 2 s over the agent: an interruption
		turn(4, PartyAgent, 23000, 30000, "i have ordered a new card"), // 7 s silence before
	}
	m := Compute(cfg, MetricsInput{Channel: "voice", Turns: turns, DurationMS: 31000, Final: true})
	if got, want := m.Parties[PartyAgent].TalkMS, int64(4000+3100+7000); got != want {
		t.Errorf("agent talk = %d, want %d", got, want)
	}
	if got, want := m.Parties[PartyCustomer].TalkMS, int64(6800+3000); got != want {
		t.Errorf("customer talk = %d, want %d", got, want)
	}
	want := []Interruption{{AtMS: 13000, By: PartyCustomer, Of: PartyAgent, OverlapMS: 2000}}
	if diff := cmp.Diff(want, m.Interruptions); diff != "" {
		t.Errorf("interruptions (-want +got):\n%s", diff)
	}
	// Silence: 0-1000, 5000-5200, 16000-23000, 30000-31000.
	if got := m.NonTalkMS; got != 1000+200+7000+1000 {
		t.Errorf("non-talk = %d, want 9200", got)
	}
	if diff := cmp.Diff([]Interval{{16000, 23000}}, m.Silences); diff != "" {
		t.Errorf("silences (-want +got):\n%s", diff)
	}
	if m.LongestSilenceMS != 7000 {
		t.Errorf("longest silence = %d", m.LongestSilenceMS)
	}
	if got := m.OverlapMS; got != 100+2000 {
		t.Errorf("overlap = %d, want 2100", got)
	}
	if r := m.Parties[PartyAgent].TalkRatio + m.Parties[PartyCustomer].TalkRatio; r < 0.999 || r > 1.001 {
		t.Errorf("talk ratios add up to %f", r)
	}
	if got := m.Parties[PartyAgent].LongestMonologueMS; got != 7000 {
		t.Errorf("agent longest monologue = %d, want 7000", got)
	}
}

func TestComputeHoldAndNoWords(t *testing.T) {
	turns := []Turn{
		{Seq: 0, Party: PartyAgent, StartMS: 0, EndMS: 4000, Text: "one moment i will put you on hold"},
		{Seq: 1, Party: PartyAgent, StartMS: 64000, EndMS: 66000, Text: "thanks for holding"},
		{Seq: 2, Party: PartyBot, StartMS: 66400, EndMS: 67000, Text: "survey"},
	}
	// Overlapping stretches merge; one after the end is cut away.
	m := Compute(DefaultMetricsConfig(), MetricsInput{Channel: "voice", Turns: turns, Hold: []Interval{{20000, 64000}, {4000, 30000}, {70000, 80000}}})
	if m.HoldMS != 60000 || !slices.Equal(m.Holds, []Interval{{4000, 64000}}) {
		t.Errorf("hold = %d in %v, want 60000 in [{4000 64000}]", m.HoldMS, m.Holds)
	}
	if m.NonTalkMS != 0 || len(m.Silences) != 0 {
		t.Errorf("non-talk = %d, silences %v: hold is not silence", m.NonTalkMS, m.Silences)
	}
	if got := m.Parties[PartyAgent].TalkMS; got != 7000 { // 0-4000, and 64000-67000 bridged with the bot's
		t.Errorf("agent side talk = %d, want 7000", got)
	}
	if got := m.Parties[PartyAgent].Words; got != 12 {
		t.Errorf("agent words = %d, want 12", got)
	}
}

func TestComputeChat(t *testing.T) {
	turns := []Turn{
		{Seq: 0, Party: PartyCustomer, StartMS: 0, Text: "hello"},
		{Seq: 1, Party: PartyCustomer, StartMS: 5000, Text: "anyone there"},
		{Seq: 2, Party: PartyAgent, StartMS: 30000, Text: "hi how can i help"},
		{Seq: 3, Party: PartyCustomer, StartMS: 40000, Text: "my card"},
		{Seq: 4, Party: PartyAgent, StartMS: 50000, Text: "let me check"},
		{Seq: 5, Party: PartyAgent, StartMS: 60000, Text: "done"},
	}
	m := Compute(DefaultMetricsConfig(), MetricsInput{Channel: "chat", Turns: turns})
	want := &ChatTiming{Messages: 3, FirstResponseMS: 30000, MeanResponseMS: 20000, MaxResponseMS: 30000}
	if diff := cmp.Diff(want, m.Parties[PartyAgent].Chat); diff != "" {
		t.Errorf("agent chat (-want +got):\n%s", diff)
	}
	if got := m.Parties[PartyCustomer].Chat; got.Messages != 3 || got.WaitMS != 40000 {
		t.Errorf("customer chat = %+v, want 3 messages, 40000 ms wait", got)
	}
	if _, ok := m.Value("talk_ms", PartyAgent); ok {
		t.Error("a chat has a talk_ms figure")
	}
	if v, ok := m.Value("first_response_ms", PartyAgent); !ok || v != 30000 {
		t.Errorf("first_response_ms = %v %v", v, ok)
	}
}

func TestSentimentQuarters(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	turns := []Turn{
		{Seq: 0, Party: PartyCustomer, StartMS: 0, EndMS: 1000, Text: "a", Sentiment: f(-0.6)},
		{Seq: 1, Party: PartyCustomer, StartMS: 2000, EndMS: 3000, Text: "b", Sentiment: f(-0.2)},
		{Seq: 2, Party: PartyCustomer, StartMS: 9000, EndMS: 10000, Text: "c", Sentiment: f(0.5)},
	}
	m := Compute(DefaultMetricsConfig(), MetricsInput{Channel: "voice", Turns: turns, DurationMS: 10000})
	c := m.Parties[PartyCustomer]
	if c.SentimentStart == nil || *c.SentimentStart != -0.4 || c.SentimentEnd == nil || *c.SentimentEnd != 0.5 {
		t.Errorf("sentiment start/end = %v/%v, want -0.4/0.5", deref(c.SentimentStart), deref(c.SentimentEnd))
	}
	if c.Quarters[1] != nil || c.Quarters[2] != nil {
		t.Errorf("quarters 2-3 have values: %v", c.Quarters)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestIntervals(t *testing.T) {
	got := mergeIntervals([]Interval{{10, 20}, {0, 5}, {23, 30}, {4, 8}}, 3)
	if diff := cmp.Diff([]Interval{{0, 20}, {23, 30}}, got); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Interval{{0, 2}, {6, 10}}, subtract([]Interval{{0, 10}}, []Interval{{2, 6}})); diff != "" {
		t.Errorf("subtract (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Interval{{5, 8}}, intersect([]Interval{{0, 8}}, []Interval{{5, 12}})); diff != "" {
		t.Errorf("intersect (-want +got):\n%s", diff)
	}
}
