package kb

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/earshot/earshot/inference"
	"github.com/google/go-cmp/cmp"
)

func TestSuggester(t *testing.T) {
	ix := newTestIndex(t, nil)
	loadArticles(t, ix, testArticles)
	s := ix.NewSuggester(SuggestConfig{K: 1, Window: 3})
	ctx := context.Background()
	steps := []struct {
		party inference.Party
		text  string
		want  []string // article ids suggested after this utterance
	}{
		{inference.PartyAgent, "Hello, how can I help?", nil},
		{inference.PartyCustomer, "I think my card was stolen yesterday", []string{"lost-card"}},
		// Same topic again: already shown, nothing new for it.
		{inference.PartyCustomer, "yes the card was stolen from my bag", nil},
		// The window still holds "card"; the new utterance adds the PIN.
		{inference.PartyCustomer, "and I also forgot the PIN for it", []string{"pin"}},
		{inference.PartyAgent, "okay", nil},
		{inference.PartyCustomer, "I'm travelling abroad next week, will card payments abroad cost a fee?", []string{"abroad"}},
	}
	for i, st := range steps {
		got, err := s.Observe(ctx, inference.Utterance{Party: st.party, Text: st.text})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ArticleID)
			if g.Text == "" || g.PassageID == "" || g.Score <= 0 {
				t.Errorf("step %d: incomplete suggestion %+v", i, g)
			}
		}
		if diff := cmp.Diff(st.want, ids); diff != "" {
			t.Errorf("step %d %q: suggestions (-want +got):\n%s", i, st.text, diff)
		}
	}
}

// TestSuggesterWindow shows the window matters: neither utterance alone
// scores above MinScore, the two together do.
func TestSuggesterWindow(t *testing.T) {
	ix := newTestIndex(t, nil)
	loadArticles(t, ix, testArticles)
	ctx := context.Background()
	for _, tc := range []struct {
		window int
		want   int
	}{{window: 6, want: 1}, {window: 1, want: 0}} {
		s := ix.NewSuggester(SuggestConfig{K: 1, Window: tc.window, MinScore: 7.5, Queue: "mortgages"})
		first, _ := s.Observe(ctx, inference.Utterance{Text: "can I pause it?"})
		got, _ := s.Observe(ctx, inference.Utterance{Text: "I am in financial difficulty"})
		if len(first) != 0 || len(got) != tc.want || (tc.want == 1 && got[0].ArticleID != "mortgage-holiday") {
			t.Errorf("window %d: first %+v, then %+v; want %d suggestion (mortgage-holiday) after the second", tc.window, first, got, tc.want)
		}
	}
}

// fakeGenerator stands in for an Ollama model, which cannot run in tests
// here: it replies with a fixed text, or fails.
type fakeGenerator struct {
	reply  string
	err    error
	prompt string
}

func (g *fakeGenerator) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	g.prompt = req.Prompt
	if g.err != nil {
		return nil, nil, g.err
	}
	ch := make(chan string, 2)
	half := len(g.reply) / 2
	ch <- g.reply[:half]
	ch <- g.reply[half:]
	close(ch)
	return ch, func() error { return nil }, nil
}

func TestAnswer(t *testing.T) {
	ix := newTestIndex(t, nil)
	loadArticles(t, ix, testArticles)
	ctx := context.Background()

	a, err := ix.Answer(ctx, "How long does a replacement card take?", AnswerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Generated || !strings.Contains(a.Text, "replacement card within three working days. [1]") ||
		len(a.Citations) == 0 || a.Citations[0].ArticleID != "lost-card" {
		t.Errorf("extractive answer = %q, citations %+v", a.Text, a.Citations)
	}

	g := &fakeGenerator{reply: "Pause payments for up to six months [1], see also [9]."}
	a, err = ix.Answer(ctx, "Can I pause my mortgage payments?", AnswerOptions{Generator: g, Model: "test", Scope: QueueScope("mortgages")})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Generated || len(a.Citations) != 1 || a.Citations[0].ArticleID != "mortgage-holiday" {
		t.Errorf("generated answer = %+v", a)
	}
	if !strings.Contains(g.prompt, "[1] Mortgage payment holiday") {
		t.Errorf("prompt lacks the numbered source: %q", g.prompt)
	}

	for name, g := range map[string]*fakeGenerator{
		"generator down": {err: inference.ErrUnavailable},
		"cites nothing":  {reply: "I don't know."},
	} {
		a, err := ix.Answer(ctx, "Can I pause my mortgage payments?", AnswerOptions{Generator: g, Scope: QueueScope("mortgages")})
		if err != nil || a.Generated || !strings.Contains(a.Text, "six months. [1]") || strings.Contains(a.Text, "[2]") {
			t.Errorf("%s: answer = %+v, %v; want the extractive fallback", name, a, err)
		}
	}

	a, _ = ix.Answer(ctx, "zzzz qqqq", AnswerOptions{})
	if a.Text != "" || len(a.Citations) != 0 {
		t.Errorf("no match: %+v", a)
	}
}

// conceptEmbedder is a deterministic in-test embedder standing in for an
// Ollama embedding model (not available here): each dimension is a concept
// that several words map to, so it links words that share no stem.
type conceptEmbedder struct {
	fail atomic.Bool
}

var concepts = map[string]int{
	"vehicle": 0, "car": 0, "automobile": 0, "motor": 0,
	"insurance": 1, "cover": 1, "policy": 1, "insure": 1,
	"card": 2, "pin": 2,
	"mortgage": 3, "home": 3, "house": 3,
}

func (e *conceptEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.fail.Load() {
		return nil, inference.ErrUnavailable
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 5)
		v[4] = 0.05
		words(t, func(w string, _ int) {
			if d, ok := concepts[w]; ok {
				v[d]++
			}
		})
		out[i] = v
	}
	return out, nil
}

func TestHybrid(t *testing.T) {
	ctx := context.Background()
	arts := append([]Article{{ID: "motor", Title: "Car cover", Body: "Protect the vehicle you drive with our policy."}}, testArticles...)
	emb := &conceptEmbedder{}
	ix := newTestIndex(t, emb)
	loadArticles(t, ix, arts)
	hits, err := ix.Search(ctx, Query{Text: "automobile insurance", K: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].Passage.ArticleID != "motor" || hits[0].Semantic <= 0 {
		t.Errorf("hybrid: %+v, want motor first with a semantic score", hits)
	}
	lexOnly := newTestIndex(t, nil)
	loadArticles(t, lexOnly, arts)
	if h, _ := lexOnly.Search(ctx, Query{Text: "automobile insurance", K: 3}); len(h) > 0 && h[0].Passage.ArticleID == "motor" {
		t.Errorf("lexical alone already finds motor; the test does not show fusion")
	}
	// Both rankings agree: fusion keeps the lexical winner.
	hits, _ = ix.Search(ctx, Query{Text: "forgotten PIN", K: 3})
	if len(hits) == 0 || hits[0].Passage.ArticleID != "pin" {
		t.Errorf("hybrid forgotten PIN: %v", articleIDs(hits))
	}
	// Filters hold for the semantic ranking too.
	hits, _ = ix.Search(ctx, Query{Text: "automobile insurance", K: 10, Allow: func(p *Passage) bool { return p.ArticleID != "motor" }})
	for _, h := range hits {
		if h.Passage.ArticleID == "motor" {
			t.Errorf("filtered article returned by hybrid ranking")
		}
	}
	// An embedder failure degrades to lexical ranking.
	emb.fail.Store(true)
	hits, err = ix.Search(ctx, Query{Text: "forgotten PIN", K: 3})
	if err != nil || len(hits) == 0 || hits[0].Passage.ArticleID != "pin" || hits[0].Semantic != 0 {
		t.Errorf("embedder down: %v, %v", articleIDs(hits), err)
	}
	if _, err := ix.Upsert(ctx, Article{ID: "new", Title: "New", Body: "text"}); err != nil {
		t.Errorf("upsert with embedder down: %v", err)
	}
}

func TestFuseRRF(t *testing.T) {
	p := func(id string) Hit { return Hit{Passage: Passage{ID: id + "#0", ArticleID: id}} }
	lex := []Hit{p("a"), p("b"), p("c")}
	sem := []Hit{p("c"), p("d"), p("a")}
	got := articleIDs(fuse(lex, sem, 60, 4, false))
	// a: 1/61+1/63, c: 1/63+1/61 (tie, lexical order first), b: 1/62, d: 1/62.
	if diff := cmp.Diff([]string{"a", "c", "b", "d"}, got); diff != "" {
		t.Errorf("fuse (-want +got):\n%s", diff)
	}
}

// TestAnswerKeepsToScope: an answer draws only on the articles of the
// reader's queues and those for every queue.
func TestAnswerKeepsToScope(t *testing.T) {
	ix := newTestIndex(t, nil)
	loadArticles(t, ix, testArticles)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		scope Scope
		cited bool
	}{
		{"no scope", Scope{}, false},
		{"another queue", QueueScope("lending"), false},
		{"the article's queue", QueueScope("lending", "mortgages"), true},
		{"every queue", AllQueues(), true},
	} {
		a, err := ix.Answer(ctx, "Can I pause my mortgage payments?", AnswerOptions{Scope: tt.scope})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(a.Text, "six months")
		for _, p := range a.Passages {
			got = got || p.Passage.ArticleID == "mortgage-holiday"
		}
		if got != tt.cited {
			t.Errorf("%s: answer %+v draws on the mortgages article: %v, want %v", tt.name, a, got, tt.cited)
		}
	}
}
