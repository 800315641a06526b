package kb

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// textGen makes deterministic synthetic articles: words drawn from a fixed
// generated vocabulary with a Zipf distribution, as in natural text.
type textGen struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newTextGen(seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, 99))
	const n = 20000
	syll := []string{"ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu", "ra", "se", "ti", "vo", "zu", "ach", "en", "or", "ist", "um"}
	vocab := make([]string, n)
	seen := map[string]bool{}
	vr := rand.New(rand.NewPCG(1, 1)) // the vocabulary is the same for every seed
	for i := range vocab {
		for {
			var b strings.Builder
			for range 2 + vr.IntN(3) {
				b.WriteString(syll[vr.IntN(len(syll))])
			}
			if w := b.String(); !seen[w] {
				seen[w] = true
				vocab[i] = w
				break
			}
		}
	}
	return &textGen{r: r, zipf: rand.NewZipf(r, 1.1, 2, n-1), vocab: vocab}
}

func (g *textGen) word() string { return g.vocab[g.zipf.Uint64()] }

func (g *textGen) sentence(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = g.word()
	}
	return strings.Join(w, " ")
}

// article returns an article of about words words in paragraphs of about
// 60 words and sentences of 12.
func (g *textGen) article(id string, words int) Article {
	var paras []string
	for left := words; left > 0; {
		var sents []string
		for pw := 0; pw < 60 && left > 0; {
			n := min(12, left)
			sents = append(sents, g.sentence(n)+".")
			pw += n
			left -= n
		}
		paras = append(paras, strings.Join(sents, " "))
	}
	return Article{ID: id, Title: g.sentence(6), Body: strings.Join(paras, "\n\n"), Tags: []string{g.word()}, Source: fmt.Sprintf("gen/%s", id)}
}
