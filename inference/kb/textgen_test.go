package kb

import (
	"fmt"

	"github.com/earshot/earshot/inference/kb/internal/synth"
)

// textGen wraps the synthetic generator for tests and benchmarks.
type textGen struct{ *synth.Gen }

func newTextGen(seed uint64) *textGen { return &textGen{synth.New(seed)} }

func (g *textGen) sentence(n int) string { return g.Sentence(n) }

// article returns an article of about words words.
func (g *textGen) article(id string, words int) Article {
	return Article{ID: id, Title: g.Sentence(6), Body: g.Body(words), Tags: []string{g.Word()}, Source: fmt.Sprintf("gen/%s", id)}
}
