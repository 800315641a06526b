package kb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func newTestIndex(t testing.TB, emb Embedder) *Index {
	t.Helper()
	ix, err := New(DefaultConfig(), nil, prometheus.NewRegistry(), BuiltinSynonyms(), emb)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

var testArticles = []Article{
	{ID: "lost-card", Title: "Report a lost or stolen card", Body: "Block the card in the app straight away. We send a replacement card within three working days.", Tags: []string{"cards"}},
	{ID: "pin", Title: "Forgotten PIN", Body: "You can view your PIN in the app under card settings. A PIN reminder can also be posted to you."},
	{ID: "overdraft", Title: "Overdraft charges", Body: "An arranged overdraft has an interest rate of 39.9% APR. There is no fee for unarranged borrowing that we refuse.", Queue: "lending"},
	{ID: "mortgage-holiday", Title: "Mortgage payment holiday", Body: "Customers in financial difficulty can pause mortgage payments for up to six months.", Queue: "mortgages"},
	{ID: "abroad", Title: "Using your card abroad", Body: "Tell us before you travel. Card payments abroad have no foreign transaction fee.", Tags: []string{"travel"}},
	{ID: "refund", Title: "Refund timescales", Body: "Refunds from retailers usually reach your account in five to seven days. Contact the retailer first."},
	{ID: "cash-machine", Title: "Cash machine kept my card", Body: "If a cash machine keeps your card, call us and we will cancel it and order a new one."},
}

func loadArticles(t testing.TB, ix *Index, arts []Article) {
	t.Helper()
	for _, a := range arts {
		if _, err := ix.Upsert(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func articleIDs(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Passage.ArticleID)
	}
	return out
}

func TestScope(t *testing.T) {
	for _, tt := range []struct {
		name  string
		s     Scope
		queue string
		want  bool
	}{
		{"zero scope, global article", Scope{}, "", true},
		{"zero scope, queue article", Scope{}, "cards", false},
		{"all", AllQueues(), "cards", true},
		{"own queue", QueueScope("cards", "loans"), "loans", true},
		{"other queue", QueueScope("cards"), "loans", false},
		{"empty names ignored", QueueScope(""), "cards", false},
	} {
		if got := tt.s.Admits(tt.queue); got != tt.want {
			t.Errorf("%s: Admits(%q) = %v, want %v", tt.name, tt.queue, got, tt.want)
		}
	}
	if n, ok := QueueScope("cards", "loans").Narrow("loans"); !ok || !n.Admits("loans") || n.Admits("cards") {
		t.Errorf("Narrow(loans) = %+v, %v", n, ok)
	}
	if _, ok := QueueScope("cards").Narrow("loans"); ok {
		t.Error("Narrow to a queue outside the scope succeeded")
	}
	if n, ok := AllQueues().Narrow("loans"); !ok || n.All {
		t.Errorf("AllQueues().Narrow(loans) = %+v, %v; want only loans", n, ok)
	}
}

func TestSearch(t *testing.T) {
	ix := newTestIndex(t, nil)
	loadArticles(t, ix, testArticles)
	tests := []struct {
		name string
		q    Query
		want []string // leading article ids, in order
		not  []string // ids that must not appear
	}{
		{name: "stemming", q: Query{Text: "blocking stolen cards"}, want: []string{"lost-card"}},
		{name: "title boost", q: Query{Text: "overdraft", Scope: AllQueues()}, want: []string{"overdraft"}},
		{name: "synonym atm -> cash machine", q: Query{Text: "the ATM swallowed it"}, want: []string{"cash-machine"}},
		{name: "synonym multiword to word", q: Query{Text: "money back from a shop"}, want: []string{"refund"}},
		{name: "phrase required", q: Query{Text: `"replacement card"`, K: 10}, want: []string{"lost-card"}, not: []string{"cash-machine", "pin", "abroad"}},
		{name: "phrase absent", q: Query{Text: `"card replacement"`, K: 10}, not: []string{"lost-card", "pin", "abroad", "cash-machine"}},
		{name: "queue scope keeps global articles", q: Query{Text: "mortgage payments card", Scope: QueueScope("lending"), K: 10}, want: []string{"lost-card"}, not: []string{"mortgage-holiday"}},
		{name: "queue scope own queue", q: Query{Text: "pause mortgage payments", Scope: QueueScope("mortgages")}, want: []string{"mortgage-holiday"}},
		{name: "no scope: articles for every queue only", q: Query{Text: "pause mortgage payments overdraft", K: 10}, not: []string{"mortgage-holiday", "overdraft"}},
		{name: "all queues", q: Query{Text: "pause mortgage payments", Scope: AllQueues()}, want: []string{"mortgage-holiday"}},
		{name: "several queues", q: Query{Text: "overdraft", Scope: QueueScope("mortgages", "lending")}, want: []string{"overdraft"}},
		{name: "allow filter", q: Query{Text: "lost card", K: 10, Allow: func(p *Passage) bool { return p.ArticleID != "lost-card" }}, not: []string{"lost-card"}},
		{name: "tags field", q: Query{Text: "travel"}, want: []string{"abroad"}},
		{name: "stop words only", q: Query{Text: "how can I do it"}, not: []string{"lost-card", "pin", "overdraft", "mortgage-holiday", "abroad", "refund", "cash-machine"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits, err := ix.Search(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got := articleIDs(hits)
			if len(got) < len(tc.want) || (len(tc.want) > 0 && !cmp.Equal(tc.want, got[:len(tc.want)])) {
				t.Errorf("Search(%q) = %v, want prefix %v", tc.q.Text, got, tc.want)
			}
			for _, n := range tc.not {
				for _, g := range got {
					if g == n {
						t.Errorf("Search(%q) = %v, must not contain %s", tc.q.Text, got, n)
					}
				}
			}
		})
	}
}

func TestSiteSynonyms(t *testing.T) {
	syn, err := ParseSynonyms(strings.NewReader("# site list\nstellar gym, sg fitness\n"))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := New(DefaultConfig(), nil, nil, BuiltinSynonyms().Merge(syn), nil)
	if err != nil {
		t.Fatal(err)
	}
	loadArticles(t, ix, append(testArticles, Article{ID: "gym", Title: "Stellar Gym membership refunds", Body: "Members can cancel online."}))
	hits, _ := ix.Search(context.Background(), Query{Text: "SG Fitness"})
	if got := articleIDs(hits); len(got) == 0 || got[0] != "gym" {
		t.Errorf("site synonym: got %v, want gym first", got)
	}
	for _, bad := range []string{"lonely\n", "a, b\nonly one\n", ", ,\n"} {
		if _, err := ParseSynonyms(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("ParseSynonyms(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

// TestUpdateDeleteMatchesRebuild changes and deletes many articles (enough
// to trigger compaction) and checks the index then ranks exactly like one
// built fresh from the final articles.
func TestUpdateDeleteMatchesRebuild(t *testing.T) {
	ctx := context.Background()
	gen := newTextGen(7)
	final := map[string]Article{}
	ix := newTestIndex(t, nil)
	for i := range 600 {
		a := gen.article(fmt.Sprintf("a%d", i), 60)
		loadArticles(t, ix, []Article{a})
		final[a.ID] = a
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 600 {
		id := fmt.Sprintf("a%d", r.IntN(600))
		switch i % 3 {
		case 0:
			if _, ok := final[id]; ok {
				if err := ix.Delete(id); err != nil {
					t.Fatal(err)
				}
				delete(final, id)
			}
		default:
			a := gen.article(id, 60)
			ch, err := ix.Upsert(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if _, existed := final[id]; existed != (ch == Updated) {
				t.Fatalf("Upsert(%s) = %v, existed %v", id, ch, existed)
			}
			final[id] = a
		}
	}
	if err := ix.Delete("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(unknown) = %v, want ErrNotFound", err)
	}
	fresh := newTestIndex(t, nil)
	var arts []Article
	for _, a := range final {
		arts = append(arts, a)
	}
	if _, errs := fresh.Load(ctx, arts, 2); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got, want := ix.Stats(), fresh.Stats(); got.Articles != want.Articles || got.Passages != want.Passages {
		t.Fatalf("stats %+v, fresh %+v", got, want)
	}
	ix.mu.RLock()
	slots := len(ix.docs)
	ix.mu.RUnlock()
	if slots >= 2*fresh.Stats().Passages {
		t.Errorf("%d passage slots for %d live passages: compaction did not run", slots, fresh.Stats().Passages)
	}
	for i := range 50 {
		q := Query{Text: gen.sentence(6), K: 10}
		a, _ := ix.Search(ctx, q)
		b, _ := fresh.Search(ctx, q)
		opt := cmp.Comparer(func(x, y float64) bool { return x-y < 1e-4 && y-x < 1e-4 })
		if diff := cmp.Diff(b, a, opt); diff != "" {
			t.Fatalf("query %d %q: updated index differs from rebuilt (-rebuilt +updated):\n%s", i, q.Text, diff)
		}
	}
}

func TestUpsertIdempotentAndInvalid(t *testing.T) {
	ix := newTestIndex(t, nil)
	ctx := context.Background()
	a := testArticles[0]
	for i, want := range []Change{Added, Unchanged} {
		if ch, err := ix.Upsert(ctx, a); err != nil || ch != want {
			t.Errorf("upsert %d = %v, %v; want %v", i, ch, err, want)
		}
	}
	a.Body += " Updated."
	if ch, _ := ix.Upsert(ctx, a); ch != Updated {
		t.Errorf("changed body: %v, want updated", ch)
	}
	bad := []Article{
		{ID: "", Title: "t", Body: "b"},
		{ID: "x#1", Title: "t", Body: "b"},
		{ID: "x", Title: "", Body: ""},
		{ID: "x", Title: "t", Body: strings.Repeat("a", MaxArticleBytes)},
		{ID: "x", Title: "t", Body: "\xff"},
	}
	for _, b := range bad {
		if _, err := ix.Upsert(ctx, b); !errors.Is(err, ErrInvalid) {
			t.Errorf("Upsert(%.30q) = %v, want ErrInvalid", b.ID, err)
		}
	}
	if s := ix.Stats(); s.Articles != 1 {
		t.Errorf("articles = %d, want 1", s.Articles)
	}
}

func TestSplitPassages(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("One two three four five. ", 10)) // 50 words
	tests := []struct {
		name  string
		body  string
		max   int
		words []int
	}{
		{"packs paragraphs", "a b c\n\nd e\n\nf g h i", 5, []int{5, 4}},
		{"splits long paragraph at sentences", long, 20, []int{20, 20, 10}},
		{"cuts a long sentence", strings.Repeat("w ", 25), 10, []int{10, 10, 5}},
		{"empty body", "", 10, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := SplitPassages(Article{ID: "x", Title: "T", Body: tc.body}, tc.max)
			var got []int
			for i, p := range ps {
				got = append(got, wordCount(p.Text))
				if p.ID != fmt.Sprintf("x#%d", i) || p.Seq != i || p.Title != "T" {
					t.Errorf("passage %d = %+v", i, p)
				}
			}
			if diff := cmp.Diff(tc.words, got); diff != "" {
				t.Errorf("words per passage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"passage words", func(c *Config) { c.PassageWords = 1 }, "passage_words"},
		{"k1", func(c *Config) { c.K1 = 0 }, "k1"},
		{"b", func(c *Config) { c.B = 2 }, "b must"},
		{"boost", func(c *Config) { c.TitleBoost = -1 }, "title_boost"},
		{"rrf", func(c *Config) { c.RRFK = 0 }, "rrf_k"},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Don't block my card's PIN!", []string{"block", "card", "pin"}},
		{"Überweisung café", []string{"überweisung", "café"}},
		{"charges CHARGED charging", []string{"charg", "charg", "charg"}},
		{"a " + strings.Repeat("x", 50) + " word", []string{"word"}},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range analyze(tc.in) {
			got = append(got, tk.term)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("analyze(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func FuzzSearch(f *testing.F) {
	f.Add(`"replacement card" lost`)
	f.Add(`"`)
	f.Add("")
	ix := newTestIndex(f, nil)
	loadArticles(f, ix, testArticles)
	f.Fuzz(func(t *testing.T, q string) {
		hits, err := ix.Search(context.Background(), Query{Text: q, K: 3})
		if err != nil || len(hits) > 3 {
			t.Fatalf("Search(%q) = %d hits, %v", q, len(hits), err)
		}
	})
}

// TestConcurrentUse searches while articles change (run with -race).
func TestConcurrentUse(t *testing.T) {
	ix := newTestIndex(t, &conceptEmbedder{})
	loadArticles(t, ix, testArticles)
	ctx := context.Background()
	done := make(chan struct{})
	errc := make(chan error, 3)
	for w := range 2 {
		go func() {
			g := newTextGen(uint64(w))
			for i := range 300 {
				a := g.article(fmt.Sprintf("w%d-%d", w, i%40), 80)
				if _, err := ix.Upsert(ctx, a); err != nil {
					errc <- err
					return
				}
				if i%3 == 0 {
					_ = ix.Delete(a.ID)
				}
			}
			errc <- nil
		}()
	}
	go func() {
		defer close(done)
		for range 300 {
			hits, err := ix.Search(ctx, Query{Text: "lost card replacement", K: 3, PerArticle: true})
			if err != nil || len(hits) == 0 {
				errc <- fmt.Errorf("search during changes: %d hits, %v", len(hits), err)
				return
			}
		}
	}()
	<-done
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}
