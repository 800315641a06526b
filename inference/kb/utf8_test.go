package kb

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// checkText fails the test when v (as JSON) holds a broken character: an
// invalid byte (written by json.Marshal as \ufffd) or a replacement
// character none of the inputs had.
func checkRunes(t *testing.T, what string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `\ufffd`) || strings.ContainsRune(string(raw), utf8.RuneError) {
		t.Errorf("%s has a broken character: %s", what, raw)
	}
}

// TestSnippetsKeepRunesWhole indexes articles in six scripts, long enough
// to be cut into passages, and checks search hits, answers, live
// suggestions and ask-anything citations.
func TestSnippetsKeepRunesWhole(t *testing.T) {
	texts := map[string]string{
		"es":    "¿Cómo se bloquea una tarjeta robada? Bloquee la tarjeta en la aplicación. ¡Después pida una nueva tarjeta!",
		"de":    "Überweisungen ins Ausland dauern zwei Tage. Äußerst dringende Überweisungen kosten eine Gebühr.",
		"tr":    "İade talepleri beş iş günü sürer. Şifrenizi değiştirmek için şubeye gidin.",
		"el":    "Η επιστροφή χρημάτων διαρκεί πέντε ημέρες. Ένα μήνυμα επιβεβαιώνει την αλλαγή.",
		"zh":    "退款需要五个工作日。 请在应用中冻结被盗的信用卡。",
		"emoji": "💳 Card blocked in the app 🔒. Refunds take five days 🙏. Replacement cards arrive by post 📮.",
	}
	ix := newTestIndex(t, nil)
	var arts []Article
	for lang, text := range texts {
		// Long bodies are cut into passages at word and sentence ends.
		arts = append(arts, Article{ID: "a-" + lang, Title: "«" + lang + "» " + text[:strings.IndexByte(text, ' ')],
			Body: strings.Repeat(text+" ", 60), Updated: time.Now()})
	}
	loadArticles(t, ix, arts)
	ctx := context.Background()
	ask, err := NewAskIndex(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for lang, text := range texts {
		var segs []Segment
		for i, sent := range strings.SplitAfter(text, ". ") {
			segs = append(segs, Segment{EngagementID: "e-" + lang, Queue: "q", Started: time.Now(), Kind: "segment", Seq: i,
				Speaker: inference.PartyCustomer, Text: strings.Repeat(sent, 40)})
		}
		if err := ask.AddEngagement(ctx, segs); err != nil {
			t.Fatal(err)
		}
	}
	for lang, text := range texts {
		q := strings.Join(strings.Fields(text)[:2], " ")
		hits, err := ix.Search(ctx, Query{Text: q, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Errorf("%s: no hit for %q", lang, q)
		}
		checkRunes(t, lang+" search hits", hits)
		a, err := ix.Answer(ctx, q, AnswerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkRunes(t, lang+" answer", a)
		s := ix.NewSuggester(SuggestConfig{MinScore: 0.01})
		sugg, err := s.Observe(ctx, inference.Utterance{Party: inference.PartyCustomer, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		checkRunes(t, lang+" suggestions", sugg)
		ans, err := ask.Ask(ctx, AskQuery{Question: q, Allow: func(Segment) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		checkRunes(t, lang+" ask-anything answer", ans)
	}
}
