package qm

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/inference"
)

func testScorecard() *Scorecard {
	return &Scorecard{ID: "service", Version: 1, Name: "Service", PassScore: 70, Sampling: Sampling{Percent: 100},
		Sections: []Section{
			{Name: "Opening", Weight: 1, Questions: []Question{
				{ID: "greet", Text: "Did the agent greet the customer?", Type: TypeYesNo, Weight: 1, Engine: EngineRule,
					Rule: &Rule{Kind: RulePhrase, Phrases: []string{"thank you for calling", "good morning"}, Party: PartyAgent, WithinFirstS: 30}},
				{ID: "disclosure", Text: "Was the recording disclosure given?", Type: TypeYesNo, Weight: 1, AutoFail: true, Engine: EngineRule,
					Rule: &Rule{Kind: RulePhrase, Phrases: []string{"this call is recorded", "call may be recorded"}, Party: PartyAgent}},
			}},
			{Name: "Handling", Weight: 2, Questions: []Question{
				{ID: "empathy", Text: "Did the agent show empathy?", Type: TypeYesNo, Weight: 1, Engine: EngineClassifier,
					Examples: &Examples{
						Yes: []string{"i am so sorry to hear that", "i understand how frustrating this is", "i'm sorry about the trouble", "that must be really annoying, i apologise"},
						No:  []string{"what is your account number", "please hold while i check", "your balance is two hundred pounds", "the card was posted on monday"}}},
				{ID: "interrupt", Text: "Did the agent let the customer finish?", Type: TypeScale15, Weight: 1, Engine: EngineRule,
					Rule: &Rule{Kind: RuleMetric, Metric: "interruptions", Party: PartyAgent, Op: "==", Value: 0, ScaleTrue: 5, ScaleFalse: 2}},
				{ID: "refund", Text: "Did the agent explain the refund policy?", Type: TypeYesNo, Weight: 1, AllowNA: true, Engine: EngineRule,
					Applies: &Rule{Kind: RulePhrase, Phrases: []string{"refund"}, Party: PartyCustomer},
					Rule:    &Rule{Kind: RulePhrase, Phrases: []string{"refund policy", "refunds take"}, Party: PartyAgent}},
			}},
		}}
}

func testFacts() *Facts {
	turns := []Turn{
		{Seq: 0, Party: PartyAgent, StartMS: 0, EndMS: 4000, Text: "Good morning, thank you for calling. This call is recorded."},
		{Seq: 1, Party: PartyCustomer, StartMS: 4500, EndMS: 9000, Text: "My new card still has not arrived and I'm fed up."},
		{Seq: 2, Party: PartyAgent, StartMS: 9500, EndMS: 13000, Text: "I'm so sorry to hear that, I understand how frustrating it is."},
		{Seq: 3, Party: PartyAgent, StartMS: 13500, EndMS: 18000, Text: "I've ordered a replacement card for you."},
		{Seq: 4, Party: PartyCustomer, StartMS: 18500, EndMS: 20000, Text: "Perfect, thank you so much."},
	}
	m := Compute(DefaultMetricsConfig(), MetricsInput{Channel: "voice", Turns: turns, Final: true})
	return &Facts{Engagement: "e1", Queue: "cards", Agent: "ann", Channel: "voice", Turns: turns, Metrics: m}
}

func newEvaluator(t *testing.T) *Evaluator {
	ev, err := NewEvaluator(DefaultEvaluatorConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestEvaluateBuiltin(t *testing.T) {
	sc := testScorecard()
	if err := sc.Validate(Known{}); err != nil {
		t.Fatal(err)
	}
	ev := newEvaluator(t)
	e := ev.Evaluate(context.Background(), sc, testFacts(), nil, time.Unix(0, 0))
	got := map[string]string{}
	for _, a := range e.Answers {
		got[a.Question] = a.Value
		if a.Justification == "" {
			t.Errorf("%s: no justification", a.Question)
		}
		if a.Value == AnswerYes && len(a.Evidence) == 0 {
			t.Errorf("%s: yes without evidence", a.Question)
		}
	}
	want := map[string]string{"greet": "yes", "disclosure": "yes", "empathy": "yes", "interrupt": "5", "refund": "na"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if e.Score != 100 || !e.Passed || e.Status != StatusAuto {
		t.Errorf("score %v passed %v status %s, want 100 true auto", e.Score, e.Passed, e.Status)
	}
	// The classifier's evidence is the empathetic utterance.
	for _, a := range e.Answers {
		if a.Question == "empathy" && (len(a.Evidence) != 1 || a.Evidence[0].Seq != 2) {
			t.Errorf("empathy evidence = %+v, want segment 2", a.Evidence)
		}
	}

	// Without the disclosure the auto-fail question fails the evaluation.
	f := testFacts()
	f.Turns[0].Text = "Good morning, thank you for calling."
	e = ev.Evaluate(context.Background(), sc, f, nil, time.Unix(0, 0))
	if !e.AutoFailed || e.Score != 0 || e.Passed {
		t.Errorf("without disclosure: auto_failed %v score %v passed %v", e.AutoFailed, e.Score, e.Passed)
	}
}

func TestReviewFlow(t *testing.T) {
	sc := testScorecard()
	ev := newEvaluator(t)
	now := time.Unix(100, 0)
	e := ev.Evaluate(context.Background(), sc, testFacts(), nil, now)
	for _, tc := range []struct {
		items []ReviewItem
		field string
	}{
		{[]ReviewItem{{Question: "nope", Action: "accept"}}, "items[0].question"},
		{[]ReviewItem{{Question: "greet", Action: "override", Value: "maybe", Comment: "x"}}, "items[0].value"},
		{[]ReviewItem{{Question: "greet", Action: "override", Value: "no"}}, "items[0].comment"},
		{[]ReviewItem{{Question: "greet", Action: "shrug"}}, "items[0].action"},
		{[]ReviewItem{{Question: "interrupt", Action: "override", Value: "6", Comment: "x"}}, "items[0].value"},
		{[]ReviewItem{{Question: "greet", Action: "accept"}, {Question: "greet", Action: "accept"}}, "items[1].question"},
	} {
		cp := *e
		cp.Answers = append([]Answer(nil), e.Answers...)
		var fe *FieldError
		if err := cp.ApplyReview(sc, tc.items, "sue", "", now); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("ApplyReview(%+v) = %v, want a field error on %s", tc.items, err, tc.field)
		}
	}
	if err := e.Dispute("ann", "", now); err == nil {
		t.Error("a dispute without a comment was accepted")
	}
	err := e.ApplyReview(sc, []ReviewItem{{Question: "greet", Action: "accept"}, {Question: "empathy", Action: "override", Value: "no", Comment: "scripted, not felt"}}, "sue", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusReviewed || math.Abs(e.Score-100*(1+2*0.5)/3) > 1e-9 {
		t.Errorf("after review: status %s score %v", e.Status, e.Score)
	}
	s := e.Summarise()
	if s.Auto["empathy"] != "yes" || s.Answers["empathy"] != "no" || !s.Reviewed["greet"] {
		t.Errorf("summary auto/answers = %v / %v", s.Auto, s.Answers)
	}
	if err := e.Dispute("ann", "I did apologise", now); err != nil || e.Status != StatusDisputed {
		t.Fatalf("dispute: %v, status %s", err, e.Status)
	}
	if err := e.Acknowledge("ann", now); !errors.Is(err, ErrState) {
		t.Errorf("acknowledge of a disputed evaluation: %v, want ErrState", err)
	}
	if err := e.ApplyReview(sc, []ReviewItem{{Question: "empathy", Action: "override", Value: "yes", Comment: "on second listen, yes"}}, "sue", "dispute upheld", now); err != nil {
		t.Fatal(err)
	}
	if err := e.Acknowledge("ann", now); err != nil || e.Status != StatusAcknowledged {
		t.Fatalf("acknowledge: %v, status %s", err, e.Status)
	}
	if got := len(e.History); got != 5 {
		t.Errorf("history has %d events, want 5: %+v", got, e.History)
	}
	if err := e.ApplyReview(sc, nil, "sue", "", now); !errors.Is(err, ErrState) {
		t.Errorf("review of an acknowledged evaluation: %v, want ErrState", err)
	}
}

func TestKappa(t *testing.T) {
	// The textbook example: 50 items, 20 yes/yes, 15 no/no, 5 yes/no, 10 no/yes.
	var a, b []string
	add := func(n int, x, y string) {
		for range n {
			a, b = append(a, x), append(b, y)
		}
	}
	add(20, "yes", "yes")
	add(15, "no", "no")
	add(5, "yes", "no")
	add(10, "no", "yes")
	po, k, ok := Kappa(a, b)
	if !ok || math.Abs(po-0.7) > 1e-9 || math.Abs(k-0.4) > 1e-9 {
		t.Errorf("Kappa = %v %v %v, want 0.7 0.4", po, k, ok)
	}
	if _, _, ok := Kappa([]string{"yes", "yes"}, []string{"yes", "yes"}); ok {
		t.Error("kappa of constant raters is defined")
	}
}

func TestCalibrate(t *testing.T) {
	sc := testScorecard()
	evals := []EvaluationSummary{
		{Scorecard: "service", Answers: map[string]string{"greet": "yes"}, Auto: map[string]string{"greet": "yes"}, Reviewed: map[string]bool{"greet": true},
			Calibrations: []Calibration{{By: "tom", Answers: map[string]string{"greet": "yes"}}}},
		{Scorecard: "service", Answers: map[string]string{"greet": "no"}, Auto: map[string]string{"greet": "yes"}, Reviewed: map[string]bool{"greet": true},
			Calibrations: []Calibration{{By: "tom", Answers: map[string]string{"greet": "no"}}}},
		{Scorecard: "service", Answers: map[string]string{"greet": "no"}, Auto: map[string]string{"greet": "no"}, Reviewed: map[string]bool{"greet": true}},
		{Scorecard: "other"},
	}
	r := Calibrate(sc, evals)
	g := r.AutoVsHuman[0]
	if r.Evaluations != 3 || g.Question != "greet" || g.Pairs != 3 || math.Abs(g.Agree-2.0/3) > 1e-9 || g.Kappa == nil {
		t.Errorf("auto vs human = %+v (evaluations %d)", g, r.Evaluations)
	}
	b := r.BetweenEvaluators[0]
	if b.Pairs != 2 || b.Agree != 1 {
		t.Errorf("between evaluators = %+v", b)
	}
}

func TestScorecardValidate(t *testing.T) {
	known := Known{Intents: map[string]bool{"card_arrival": true}, Dispositions: map[string]bool{"resolved": true}, Queues: map[string]bool{"cards": true}}
	for _, tc := range []struct {
		name  string
		edit  func(*Scorecard)
		field string
	}{
		{"ok", func(*Scorecard) {}, ""},
		{"bad id", func(s *Scorecard) { s.ID = "Bad ID" }, "id"},
		{"no name", func(s *Scorecard) { s.Name = " " }, "name"},
		{"no sections", func(s *Scorecard) { s.Sections = nil }, "sections"},
		{"missing section weight", func(s *Scorecard) { s.Sections[1].Weight = 0 }, "sections[1].weight"},
		{"missing question weight", func(s *Scorecard) { s.Sections[0].Questions[1].Weight = 0 }, "sections[0].questions[1].weight"},
		{"unknown type", func(s *Scorecard) { s.Sections[0].Questions[0].Type = "essay" }, "sections[0].questions[0].type"},
		{"unknown engine", func(s *Scorecard) { s.Sections[0].Questions[0].Engine = "magic" }, "sections[0].questions[0].engine"},
		{"unknown metric", func(s *Scorecard) { s.Sections[1].Questions[1].Rule.Metric = "charisma" }, "sections[1].questions[1].rule.metric"},
		{"metric without party", func(s *Scorecard) { s.Sections[1].Questions[1].Rule.Party = "" }, "sections[1].questions[1].rule.party"},
		{"bad op", func(s *Scorecard) { s.Sections[1].Questions[1].Rule.Op = "~" }, "sections[1].questions[1].rule.op"},
		{"empty phrase", func(s *Scorecard) { s.Sections[0].Questions[0].Rule.Phrases = []string{"..."} }, "sections[0].questions[0].rule.phrases[0]"},
		{"no phrases", func(s *Scorecard) { s.Sections[0].Questions[0].Rule.Phrases = nil }, "sections[0].questions[0].rule.phrases"},
		{"unknown intent", func(s *Scorecard) {
			s.Sections[0].Questions[0].Rule = &Rule{Kind: RuleIntent, Intent: "teleport"}
		}, "sections[0].questions[0].rule.intent"},
		{"unknown disposition", func(s *Scorecard) {
			s.Sections[0].Questions[0].Rule = &Rule{Kind: RuleDisposition, Codes: []string{"resolved", "vanished"}}
		}, "sections[0].questions[0].rule.codes[1]"},
		{"nested unknown kind", func(s *Scorecard) {
			s.Sections[0].Questions[0].Rule = &Rule{Kind: RuleAll, Rules: []Rule{{Kind: RuleSentiment}, {Kind: "vibes"}}}
		}, "sections[0].questions[0].rule.rules[1].kind"},
		{"duplicate question", func(s *Scorecard) { s.Sections[1].Questions[0].ID = "greet" }, "sections[1].questions[0].id"},
		{"applies without na", func(s *Scorecard) { s.Sections[1].Questions[2].AllowNA = false }, "sections[1].questions[2].applies"},
		{"classifier without examples", func(s *Scorecard) { s.Sections[1].Questions[0].Examples = nil }, "sections[1].questions[0].examples"},
		{"too few examples", func(s *Scorecard) { s.Sections[1].Questions[0].Examples.No = []string{"x"} }, "sections[1].questions[0].examples.no"},
		{"rule engine without rule", func(s *Scorecard) { s.Sections[0].Questions[0].Rule = nil }, "sections[0].questions[0].rule"},
		{"bad fallback", func(s *Scorecard) {
			q := &s.Sections[0].Questions[0]
			q.Engine, q.Fallback = EngineLLM, "coin"
		}, "sections[0].questions[0].fallback"},
		{"unknown queue", func(s *Scorecard) { s.Queues = []string{"cards", "mars"} }, "queues[1]"},
		{"sampling", func(s *Scorecard) { s.Sampling.Percent = 101 }, "sampling.percent"},
		{"scale out of range", func(s *Scorecard) { s.Sections[1].Questions[1].Rule.ScaleTrue = 9 }, "sections[1].questions[1].rule.scale_true"},
	} {
		sc := testScorecard()
		tc.edit(sc)
		err := sc.Validate(known)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: Validate() = %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
}

func TestSampled(t *testing.T) {
	sc := testScorecard()
	sc.Sampling = Sampling{Percent: 20, Queues: map[string]float64{"all": 100, "none": 0}}
	n := 0
	for i := range 2000 {
		id := strings.Repeat("0", 28) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		if sc.Sampled(id, "cards") {
			n++
		}
		if !sc.Sampled(id, "all") || sc.Sampled(id, "none") {
			t.Fatal("queue override ignored")
		}
		again := testScorecard()
		again.Sampling = sc.Sampling
		if again.Sampled(id, "cards") != sc.Sampled(id, "cards") {
			t.Fatal("draw not stable across scorecards with the same sampling")
		}
	}
	if n < 300 || n > 500 {
		t.Errorf("sampled %d of 2000 at 20%%", n)
	}
}

// scripted is a Generator that replies with fixed text: a stand-in for a
// language model, which cannot run here, to drive the evidence checks
// deterministically. The random-weight Ollama model is exercised in
// llm_test.go.
type scripted struct {
	reply string
	err   error
	req   inference.GenerateRequest
}

func (s *scripted) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	s.req = req
	if s.err != nil {
		return nil, nil, s.err
	}
	ch := make(chan string, 1)
	ch <- s.reply
	close(ch)
	return ch, func() error { return nil }, nil
}

func TestLLMEvidenceChecks(t *testing.T) {
	sc := &Scorecard{ID: "llm", Version: 1, Name: "LLM", Sections: []Section{{Name: "s", Weight: 1, Questions: []Question{
		{ID: "solve", Text: "Did the agent solve the problem?", Type: TypeYesNo, Weight: 1, Engine: EngineLLM, Fallback: EngineRule,
			Rule: &Rule{Kind: RulePhrase, Phrases: []string{"ordered a replacement"}, Party: PartyAgent}},
	}}}}
	if err := sc.Validate(Known{}); err != nil {
		t.Fatal(err)
	}
	ev := newEvaluator(t)
	for _, tc := range []struct {
		name, reply string
		err         error
		engine      string
		fellBack    bool
	}{
		{"valid", `{"answer":"yes","justification":"A new card was ordered.","evidence":[{"seq":3,"quote":"ordered a replacement card"}]}`, nil, EngineLLM, false},
		{"quote not in segment", `{"answer":"yes","justification":"x","evidence":[{"seq":1,"quote":"ordered a replacement card"}]}`, nil, EngineRule, true},
		{"no such segment", `{"answer":"yes","justification":"x","evidence":[{"seq":42,"quote":"card"}]}`, nil, EngineRule, true},
		{"answer outside enum", `{"answer":"probably","justification":"x","evidence":[{"seq":3,"quote":"card"}]}`, nil, EngineRule, true},
		{"not json", `yes`, nil, EngineRule, true},
		{"no evidence", `{"answer":"no","justification":"x","evidence":[]}`, nil, EngineRule, true},
		{"server down", "", inference.ErrUnavailable, EngineRule, true},
	} {
		g := &scripted{reply: tc.reply, err: tc.err}
		e := ev.Evaluate(context.Background(), sc, testFacts(), &LLM{Gen: g, Model: "m"}, time.Unix(0, 0))
		a := e.Answers[0]
		if a.Engine != tc.engine || (a.FellBack == EngineLLM) != tc.fellBack || a.Value != AnswerYes {
			t.Errorf("%s: answer %+v", tc.name, a)
		}
		if tc.name == "valid" {
			if len(a.Evidence) != 1 || a.Evidence[0].Seq != 3 || a.Evidence[0].StartMS != 13500 {
				t.Errorf("valid: evidence %+v", a.Evidence)
			}
			if !strings.Contains(string(g.req.Schema), `"enum":["yes","no"]`) || !strings.Contains(g.req.Prompt, "[3] agent") {
				t.Errorf("valid: request schema %s / prompt %q", g.req.Schema, g.req.Prompt)
			}
		}
	}
	// No fallback configured and no model: left to an evaluator.
	sc.Sections[0].Questions[0].Fallback, sc.Sections[0].Questions[0].Rule = "", nil
	e := ev.Evaluate(context.Background(), sc, testFacts(), nil, time.Unix(0, 0))
	if a := e.Answers[0]; a.Engine != EngineManual || a.Value != "" {
		t.Errorf("no model, no fallback: %+v", a)
	}
}

func TestCalloutsAndSummary(t *testing.T) {
	f := testFacts()
	f.Turns = append(f.Turns, Turn{Seq: 5, Party: PartyCustomer, StartMS: 40000, EndMS: 43000, Text: "Otherwise I will close my account and speak to a manager."})
	f.Metrics = Compute(DefaultMetricsConfig(), MetricsInput{Channel: "voice", Turns: f.Turns})
	cfg := CalloutConfig{Compliance: []CompliancePhrase{
		{Name: "recording", Phrases: []string{"this call is recorded"}, WithinFirstS: 15},
		{Name: "verification", Phrases: []string{"date of birth"}},
		{Name: "guarantee", Phrases: []string{"i guarantee"}, Forbidden: true},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cs := Callouts(cfg, DefaultMetricsConfig(), f.Turns, f.Metrics)
	var types []string
	for _, c := range cs {
		types = append(types, c.Type)
	}
	want := []string{CalloutCompliancePhrase, CalloutComplianceMissed, CalloutComplaint, CalloutSilence, CalloutEscalation, CalloutChurn}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("callout types (-want +got):\n%s", diff)
	}
	s := Summarize(SummaryInput{Turns: f.Turns, Intent: "card_arrival", Disposition: "replacement_sent", Callouts: cs,
		Tasks: []inference.Task{{Text: "Send the tracking number", Owner: inference.PartyAgent, Due: "2026-12-08"}}})
	for _, want := range []string{
		"The customer contacted us about card arrival: said their new card still has not arrived and they are fed up.",
		"The agent has ordered a replacement card for the customer.",
		"The engagement was closed as replacement sent.",
		"The agent will send the tracking number by 2026-12-08.",
	} {
		if !strings.Contains(s.Text, want) {
			t.Errorf("summary %q lacks %q", s.Text, want)
		}
	}
	if strings.Contains(s.Text, "I ") || strings.Contains(s.Text, " my ") {
		t.Errorf("summary keeps first-person words: %q", s.Text)
	}
}
