package bot

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
)

// scripted is a stand-in for a local model that answers what the test
// says (real language models cannot run here; TestAgenticOllama uses the
// real Ollama server with a random-weight model).
type scripted struct {
	reply string
	err   error
	hang  bool
	asked []inference.GenerateRequest
}

func (s *scripted) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	s.asked = append(s.asked, req)
	if s.hang {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	if s.err != nil {
		return nil, nil, s.err
	}
	ch := make(chan string, 1)
	ch <- s.reply
	close(ch)
	return ch, func() error { return nil }, nil
}

func agenticEngine(t *testing.T, gen inference.Generator, edit func(*Definition)) *Engine {
	t.Helper()
	d := loadCardBot(t)
	d.Agentic = Agentic{Enabled: true, Timeout: Duration(300 * time.Millisecond)}
	if edit != nil {
		edit(&d)
	}
	e, _, err := NewEngine(t.Context(), DefaultConfig(), d, 1, okEnv, Deps{Skills: &skillsFake{}, Knowledge: kbFake{}, Generator: gen})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAgenticDecisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gen      *scripted
		freeText bool
		text     string
		accepted bool
		takeover string
		first    string // prefix of the first message
	}{
		{"start a flow", &scripted{reply: `{"action":"start_flow","intent":"lost_card","skill":"","text":""}`},
			false, "my wallet is gone with everything in it", true, "", "What are the last four digits"},
		{"answer from the knowledge base", &scripted{reply: `{"action":"answer_kb","intent":"","skill":"","text":""}`},
			false, "how much for withdrawals abroad, any fee?", true, "", "Cash withdrawals abroad cost 2%"},
		{"free text not allowed", &scripted{reply: `{"action":"say","intent":"","skill":"","text":"Sure!"}`},
			false, "I lost my card", false, "disallowed", "What are the last four digits"},
		{"free text allowed", &scripted{reply: `{"action":"say","intent":"","skill":"","text":"Happy to help with your card."}`},
			true, "hello card people", true, "", "Happy to help with your card."},
		{"a link is refused", &scripted{reply: `{"action":"say","intent":"","skill":"","text":"See https://evil.example"}`},
			true, "I lost my card", false, "disallowed", "What are the last four digits"},
		{"unknown intent", &scripted{reply: `{"action":"start_flow","intent":"mortgage","skill":"","text":""}`},
			false, "I lost my card", false, "disallowed", "What are the last four digits"},
		{"skill without its input", &scripted{reply: `{"action":"call_skill","intent":"","skill":"block_card","text":""}`},
			false, "I lost my card", false, "disallowed", "What are the last four digits"},
		{"ending at once", &scripted{reply: `{"action":"end","intent":"","skill":"","text":""}`},
			false, "I lost my card", false, "disallowed", "What are the last four digits"},
		{"not JSON", &scripted{reply: `I think you should block the card`},
			false, "I lost my card", false, "schema", "What are the last four digits"},
		{"model down", &scripted{err: inference.ErrUnavailable},
			false, "I lost my card", false, "error", "What are the last four digits"},
		{"timeout", &scripted{hang: true},
			false, "I lost my card", false, "timeout", "What are the last four digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := agenticEngine(t, tc.gen, func(d *Definition) { d.Agentic.FreeText = tc.freeText })
			s := e.NewSession("eng", ref)
			start := time.Now()
			turn := s.Handle(t.Context(), Input{Text: tc.text, Time: ref, Agentic: true})
			if time.Since(start) > 5*time.Second {
				t.Errorf("turn took %v with a 300ms decision timeout", time.Since(start))
			}
			d := turn.Agentic
			if d == nil || d.Accepted != tc.accepted || d.Takeover != tc.takeover {
				t.Fatalf("decision = %+v, want accepted %v takeover %q", d, tc.accepted, tc.takeover)
			}
			if len(turn.Messages) == 0 || !strings.HasPrefix(turn.Messages[0].Text, tc.first) {
				t.Errorf("messages = %q, want first %q", texts(turn), tc.first)
			}
			st := s.Stats()
			if st.Agentic.Decisions != 1 || st.Agentic.Accepted+sum(st.Agentic.Takeovers) != 1 {
				t.Errorf("agentic stats = %+v", st.Agentic)
			}
			// The schema the model answered under lists exactly the bot's
			// intents and the actions allowed.
			req := tc.gen.asked[0]
			if !strings.Contains(string(req.Schema), `"lost_card"`) || strings.Contains(string(req.Schema), `"say"`) != tc.freeText {
				t.Errorf("schema = %s", req.Schema)
			}
			if strings.Contains(req.Prompt, "4321") {
				t.Error("the prompt holds a sensitive value")
			}
		})
	}
	// Without the controls' leave (Input.Agentic false) the model is not
	// asked.
	gen := &scripted{reply: `{"action":"handover","intent":"","skill":"","text":""}`}
	s := agenticEngine(t, gen, nil).NewSession("eng", ref)
	if turn := s.Handle(t.Context(), Input{Text: "I lost my card", Time: ref}); turn.Agentic != nil || len(gen.asked) != 0 {
		t.Errorf("the model was asked with agentic mode off: %+v", turn.Agentic)
	}
}

// TestAgenticSensitive: a sensitive slot's answer never reaches the model.
func TestAgenticSensitive(t *testing.T) {
	gen := &scripted{reply: `{"action":"fallback","intent":"","skill":"","text":""}`}
	s := agenticEngine(t, gen, nil).NewSession("eng", ref)
	s.Handle(t.Context(), Input{Text: "I lost my card", Time: ref}) // built-in: no model yet
	s.Handle(t.Context(), Input{Text: "8642", Time: ref})
	s.Handle(t.Context(), Input{Text: "hmm what now", Time: ref, Agentic: true})
	for _, req := range gen.asked {
		if strings.Contains(req.Prompt, "8642") {
			t.Errorf("the model saw the card digits:\n%s", req.Prompt)
		}
	}
	if len(gen.asked) == 0 {
		t.Fatal("the model was never asked")
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestAgenticOllama runs agentic mode against the real Ollama server with
// a tiny random-weight model: its choices are noise, so every one must be
// either run after passing the checks or taken over by the built-in
// runtime, and the conversation must go on either way.
func TestAgenticOllama(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	cfg := ollama.DefaultConfig()
	cfg.URL = srv.URL
	cfg.Models = map[ollama.Feature]string{ollama.FeatureGenerate: ollamatest.Model}
	cfg.Timeout = 60 * time.Second
	p, err := ollama.New(cfg, nil, prometheus.NewRegistry(), ollama.Fallback{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e := agenticEngine(t, p.Generator(ollama.FeatureGenerate), func(d *Definition) { d.Agentic.Timeout = Duration(45 * time.Second) })
	s := e.NewSession("eng", ref)
	msgs := []string{"hello, my card was stolen on the bus", "what fees are there", "can you check my balance",
		"the weather is nice", "I want my card blocked"}
	for _, m := range msgs {
		if !s.Active() {
			break
		}
		turn := s.Handle(t.Context(), Input{Text: m, Time: ref, Agentic: true})
		d := turn.Agentic
		t.Logf("%q -> decision %+v, messages %q", m, d, texts(turn))
		if d == nil {
			continue // a global handler or a form answered without the model
		}
		switch {
		case d.Accepted:
			if !slices.Contains([]string{ActStartFlow, ActAnswerKB, ActCallSkill, ActHandover, ActEnd, ActFallback, "fill_slot"}, d.Action) {
				t.Errorf("accepted an action the bot does not allow: %+v", d)
			}
			if d.Action == ActStartFlow && turn.Intent == nil {
				t.Errorf("started a flow without an intent: %+v", d)
			}
		case d.Takeover == "":
			t.Errorf("a refused decision without a takeover reason: %+v", d)
		}
		if len(turn.Messages) == 0 && s.Active() {
			t.Errorf("turn %q left the customer without an answer (decision %+v)", m, d)
		}
	}
	st := s.Stats()
	if st.Agentic.Decisions == 0 || st.Agentic.Accepted+sum(st.Agentic.Takeovers) != st.Agentic.Decisions {
		t.Errorf("agentic stats = %+v", st.Agentic)
	}
	t.Logf("random-weight model: %d decisions, %d accepted, takeovers %v", st.Agentic.Decisions, st.Agentic.Accepted, st.Agentic.Takeovers)

}
