// Package synth generates deterministic synthetic article text for the
// knowledge-base benchmarks: words drawn from a fixed generated vocabulary
// with a Zipf distribution, as in natural text. As in English, the most
// frequent ranks are function words (StopWords), about 40 % of the tokens;
// New(seed) with NoFunctionWords builds a harsher vocabulary without them.
package synth

import (
	"math/rand/v2"
	"strings"
)

// Gen is a deterministic text generator; it is not safe for concurrent use.
type Gen struct {
	R     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

// VocabSize is the number of distinct words.
const VocabSize = 20000

// StopWords are the English function words placed at the top Zipf ranks.
var StopWords = strings.Fields(`the of and to a in is it you that he was for on are with as
	his they be at one have this from or had by but some what there we can out other were
	all your when up use word how said an each she which do their time if will way about
	many then them would`)

// Option changes the vocabulary.
type Option int

// NoFunctionWords leaves function words out: every word is content, so the
// most frequent terms reach nearly every passage (a worst case for an index).
const NoFunctionWords Option = 1

// New returns a generator; the vocabulary is the same for every seed, the
// word sequence depends on seed.
func New(seed uint64, opts ...Option) *Gen {
	r := rand.New(rand.NewPCG(seed, 99))
	syll := []string{"ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu", "ra", "se", "ti", "vo", "zu", "ach", "en", "or", "ist", "um"}
	vocab := make([]string, VocabSize)
	seen := map[string]bool{}
	vr := rand.New(rand.NewPCG(1, 1))
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
	if len(opts) == 0 || opts[0] != NoFunctionWords {
		copy(vocab, StopWords)
	}
	return &Gen{R: r, zipf: rand.NewZipf(r, 1.1, 2, VocabSize-1), vocab: vocab}
}

// Word returns one word.
func (g *Gen) Word() string { return g.vocab[g.zipf.Uint64()] }

// Sentence returns n words separated by spaces.
func (g *Gen) Sentence(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = g.Word()
	}
	return strings.Join(w, " ")
}

// Body returns about words words in paragraphs of about 60 words and
// sentences of 12.
func (g *Gen) Body(words int) string {
	var paras []string
	for left := words; left > 0; {
		var sents []string
		for pw := 0; pw < 60 && left > 0; {
			n := min(12, left)
			sents = append(sents, g.Sentence(n)+".")
			pw += n
			left -= n
		}
		paras = append(paras, strings.Join(sents, " "))
	}
	return strings.Join(paras, "\n\n")
}

// Query returns a query of n words: two thirds taken from a run of body
// (so an answer exists), the rest random words.
func (g *Gen) Query(body string, n int) string {
	f := strings.Fields(body)
	start := g.R.IntN(max(1, len(f)-n))
	q := append([]string(nil), f[start:min(len(f), start+n*2/3)]...)
	for len(q) < n {
		q = append(q, g.Word())
	}
	return strings.Join(q, " ")
}
