package qm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
)

// TestLLMEngineRandomModel runs the language-model engine against a real
// Ollama server with a random-weight model: its replies follow the schema
// (Ollama constrains sampling to it) but say nothing sensible, so the
// engine must use an answer only when every evidence quote is really in
// the segment it cites, and fall back otherwise.
func TestLLMEngineRandomModel(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	cfg := ollama.DefaultConfig()
	cfg.URL = srv.URL
	cfg.Models[ollama.FeatureGenerate] = ollamatest.Model
	cfg.NumThread, cfg.Seed, cfg.NumCtx = 1, 42, 4096
	cfg.Timeout = 90 * time.Second
	p, err := ollama.New(cfg, nil, nil, ollama.Fallback{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	gen := p.Generator(ollama.FeatureGenerate)

	sc := &Scorecard{ID: "llm", Version: 1, Name: "LLM", Sections: []Section{{Name: "s", Weight: 1, Questions: []Question{
		{ID: "solve", Text: "Did the agent solve the problem?", Type: TypeYesNo, Weight: 1, Engine: EngineLLM, Fallback: EngineRule,
			Rule: &Rule{Kind: RulePhrase, Phrases: []string{"ordered a replacement"}, Party: PartyAgent}},
		{ID: "tone", Text: "Rate the agent's tone.", Type: TypeScale15, Weight: 1, AllowNA: true, Engine: EngineLLM},
	}}}}
	if err := sc.Validate(Known{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range sc.Questions() {
		if _, err := ollama.ParseSchema(llmSchema(q)); err != nil {
			t.Fatalf("question %s: schema refused by the provider: %v", q.ID, err)
		}
	}
	if _, err := ollama.ParseSchema(summarySchema); err != nil {
		t.Fatalf("summary schema refused: %v", err)
	}
	ev := newEvaluator(t)
	f := testFacts()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := ev.Evaluate(ctx, sc, f, &LLM{Gen: gen, Model: ollamatest.Model}, time.Now())
	texts := map[int]string{}
	for _, tu := range f.Turns {
		texts[tu.Seq] = tu.Text
	}
	for _, a := range e.Answers {
		t.Logf("%s: engine %s fell_back %q value %q: %s", a.Question, a.Engine, a.FellBack, a.Value, a.Justification)
		switch {
		case a.Engine == EngineLLM:
			q := sc.Questions()[0]
			if a.Question == "tone" {
				q = sc.Questions()[1]
			}
			if !ValidAnswer(q, a.Value) {
				t.Errorf("%s: model answer %q kept though invalid", a.Question, a.Value)
			}
			for _, evd := range a.Evidence {
				if !quoted(evd.Quote, texts[evd.Seq]) {
					t.Errorf("%s: kept evidence %q is not in segment %d", a.Question, evd.Quote, evd.Seq)
				}
			}
		case a.FellBack != EngineLLM:
			t.Errorf("%s: answered by %s without trying the model", a.Question, a.Engine)
		case a.Question == "solve" && (a.Engine != EngineRule || a.Value != AnswerYes):
			t.Errorf("solve: fallback answer %+v, want the rule's yes", a)
		case a.Question == "tone" && (a.Engine != EngineManual || a.Value != ""):
			t.Errorf("tone: fallback answer %+v, want manual", a)
		}
	}

	// The summary: a valid reply is used, anything else is an error the
	// caller replaces with the built-in summary.
	s, err := GenerateSummary(ctx, gen, SummaryInput{Turns: f.Turns, Intent: "card_arrival"}, ollamatest.Model)
	switch {
	case err == nil:
		if s.Reason == "" || s.Outcome == "" || s.Provider != "ollama" {
			t.Errorf("generated summary accepted though incomplete: %+v", s)
		}
	case errors.Is(err, ErrBadReply) || errors.Is(err, ollama.ErrSchema) || errors.Is(err, context.DeadlineExceeded):
		t.Logf("summary refused, the caller falls back: %v", err)
	default:
		t.Logf("summary generation failed, the caller falls back: %v", err)
	}

	// Topic labels: whatever the model says, a label kept is usable and
	// names a topic asked about; the rest keep their keyword labels.
	samples := []TopicSample{
		{ID: 7, Keywords: []string{"card", "arrived", "new card"}, Examples: []string{"my new card has not arrived", "where is my card"}},
		{ID: 9, Keywords: []string{"exchange", "rate"}, Examples: []string{"the exchange rate was wrong"}},
	}
	labels, err := GenerateTopicLabels(ctx, gen, samples)
	t.Logf("topic labels %v, err %v", labels, err)
	for id, l := range labels {
		if (id != 7 && id != 9) || !usableLabel(l, l) {
			t.Errorf("topic %d: label %q kept", id, l)
		}
	}

	// A server that is gone: every model question falls back.
	srv.Stop()
	e = ev.Evaluate(ctx, sc, f, &LLM{Gen: gen, Model: ollamatest.Model}, time.Now())
	for _, a := range e.Answers {
		if a.FellBack != EngineLLM {
			t.Errorf("server stopped: %s answered by %s, fell_back %q", a.Question, a.Engine, a.FellBack)
		}
	}
}
